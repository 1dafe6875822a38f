"""Typed header values: name-addr/addr-spec, CSeq, media types, numbers
(RFC 3261 §20, §25.1). Via lives in :mod:`sipsec.sip.via`, parameters and
quoting in :mod:`sipsec.sip.params`; both are re-exported here.

Each parser takes one header value (one list element for list headers) and
returns an object, or raises :class:`SipParseError` (400). Objects built in
code serialize with ``str()``; parsed ones keep their wire text.
"""

from __future__ import annotations

import re

from .errors import SipParseError
from .params import (
    _QUOTED,
    _SIMPLE_PARAMS_RE,
    _TOKEN_CHARS,
    _split_simple,
    format_params,
    parse_params,
    quote,
    unquote,
)
from .uri import SipUri, Uri, _build_sip, parse_uri
from .uri_grammar import SIP_ADDR_SPEC_RE, SIP_URI_RE
from .via import Via, parse_via

__all__ = [
    "CSeq",
    "MediaType",
    "NameAddress",
    "Via",
    "format_params",
    "parse_cseq",
    "parse_delta_seconds",
    "parse_media_type",
    "parse_name_address",
    "parse_params",
    "parse_via",
    "quote",
    "unquote",
]

# Fast paths for the usual From/To/Contact shapes; anything else (LWS around
# ";", quoted-pairs, other schemes, errors) takes the general code below.
_NAME_ADDR_FAST = re.compile(
    rf'(?:([{_TOKEN_CHARS}]+(?: [{_TOKEN_CHARS}]+)*) ?|"([^"\\]*)" ?)?'
    rf"<{SIP_URI_RE}>{_SIMPLE_PARAMS_RE}"
)
_ADDR_SPEC_FAST = re.compile(SIP_ADDR_SPEC_RE + _SIMPLE_PARAMS_RE)
_DISPLAY_TOKENS = re.compile(rf"[{_TOKEN_CHARS}]+(?:[ \t]+[{_TOKEN_CHARS}]+)*")
_CSEQ = re.compile(rf"[ \t]*([0-9]{{1,10}})[ \t]+([{_TOKEN_CHARS}]+)[ \t]*")
_DIGITS = re.compile(r"[0-9]+")
_MEDIA = re.compile(rf"[ \t]*([{_TOKEN_CHARS}]+)[ \t]*/[ \t]*([{_TOKEN_CHARS}]+)")
MAX_DELTA = 2**32 - 1
_new = object.__new__


class NameAddress:
    """A name-addr or addr-spec with header parameters (From, To, Contact,
    Route, Record-Route …; RFC 3261 §20.10, §20.20, §20.39). A Contact of
    ``*`` has ``is_star`` set and ``uri`` None."""

    __slots__ = ("_raw", "display_name", "params", "uri")

    def __init__(
        self,
        uri: Uri | None,
        display_name: str | None = None,
        params: dict[str, str | None] | None = None,
        *,
        raw: str | None = None,
    ) -> None:
        self.uri = uri
        self.display_name = display_name
        self.params: dict[str, str | None] = params if params is not None else {}
        self._raw = raw

    def _copy(self) -> NameAddress:
        # Headers.copy(): the copy's parameters are its own; URIs are
        # immutable (uri.py) and shared.
        na: NameAddress = _new(NameAddress)
        na.uri, na.display_name, na._raw = self.uri, self.display_name, self._raw
        na.params = self.params.copy()
        return na

    @property
    def is_star(self) -> bool:
        return self.uri is None

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        return None if value is None else parse_delta_seconds(value)

    @property
    def q(self) -> float | None:
        value = self.params.get("q")
        if value is None:
            return None
        if not re.fullmatch(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", value):
            raise SipParseError(f"bad q {value[:20]!r}")
        return float(value)

    def with_tag(self, tag: str) -> NameAddress:
        """A copy carrying ``;tag=tag`` (the UAS's To tag, §8.2.6.2)."""
        params = dict(self.params)
        params["tag"] = tag
        return NameAddress(self.uri, self.display_name, params)

    def __str__(self) -> str:
        if self._raw is None:
            if self.uri is None:
                self._raw = "*"
            else:
                name = f"{quote(self.display_name)} " if self.display_name else ""
                self._raw = f"{name}<{self.uri}>{format_params(self.params)}"
        return self._raw

    def __repr__(self) -> str:
        return f"NameAddress({str(self)!r})"


def parse_name_address(text: str, *, allow_star: bool = False) -> NameAddress:
    """Parse one From/To/Contact/Route value."""
    s = text.strip(" \t")
    m = _NAME_ADDR_FAST.fullmatch(s)
    if m is not None:
        token_name, quoted_name, scheme, user, password, host, port, ptext, htext, hparams = (
            m.groups()
        )
        na = NameAddress.__new__(NameAddress)
        na.uri = _build_sip(
            s[m.start(3) : m.start(10) - 1], scheme, user, password, host, port, ptext, htext
        )
        na.display_name = token_name if quoted_name is None else quoted_name
        if not hparams:
            na.params = {}
        elif hparams.startswith(";tag=") and hparams.count(";") == 1:  # the usual case
            na.params = {"tag": hparams[5:]}
        else:
            na.params = _split_simple(hparams)
        na._raw = s
        return na
    m = _ADDR_SPEC_FAST.fullmatch(s)
    if m is not None:
        scheme, user, password, host, port, ptext2 = m.groups()
        uri_text = s[: m.start(6)]
        na = NameAddress.__new__(NameAddress)
        na.uri = _build_sip(uri_text, scheme, user, password, host, port, "", None)
        na.display_name = None
        na.params = _split_simple(ptext2) if ptext2 else {}
        na._raw = s
        return na
    if allow_star and s == "*":
        return NameAddress(None, raw=s)
    display: str | None = None
    if s.startswith('"'):
        m = _QUOTED.match(s)
        if m is None:
            raise SipParseError(f"unterminated quoted string in {s[:60]!r}")
        display = unquote(m.group())
        lt = m.end()
        while lt < len(s) and s[lt] in " \t":
            lt += 1
        if lt >= len(s) or s[lt] != "<":
            raise SipParseError(f"display name without <URI> in {s[:60]!r}")
    else:
        lt = s.find("<")
        if lt > 0:
            # RFC 4475 §3.1.1.6: "caller<sip:...>" (no LWS) is accepted.
            words = s[:lt].strip(" \t")
            if words and not _DISPLAY_TOKENS.fullmatch(words):
                raise SipParseError(f"bad display name {words[:60]!r}")
            display = words or None
    if lt >= 0:
        gt = s.find(">", lt)
        if gt < 0:
            raise SipParseError(f"missing '>' in {s[:60]!r}")
        uri = parse_uri(s[lt + 1 : gt])
        params = parse_params(s, gt + 1) if gt + 1 < len(s) else {}
        return NameAddress(uri, display, params, raw=s)
    # addr-spec: parameters after the URI belong to the header, so the URI
    # ends at the first ";" or LWS, and may carry no "?headers" (§20).
    end = len(s)
    for c in "; \t":
        i = s.find(c)
        if 0 <= i < end:
            end = i
    uri_text = s[:end]
    uri = parse_uri(uri_text)
    if (isinstance(uri, SipUri) and uri.headers) or "," in uri_text or "?" in uri_text:
        raise SipParseError(f"URI with ',', '?' or headers must be in <>: {uri_text[:60]!r}")
    params = parse_params(s, end) if end < len(s) else {}
    return NameAddress(uri, None, params, raw=s)


class CSeq:
    """CSeq: sequence number and method (RFC 3261 §20.16)."""

    __slots__ = ("method", "seq")

    def __init__(self, seq: int, method: str) -> None:
        self.seq = seq
        self.method = method

    def _copy(self) -> CSeq:
        cseq: CSeq = _new(CSeq)
        cseq.seq, cseq.method = self.seq, self.method
        return cseq

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"

    def __repr__(self) -> str:
        return f"CSeq({self.seq}, {self.method!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CSeq):
            return NotImplemented
        return (self.seq, self.method) == (other.seq, other.method)

    def __hash__(self) -> int:
        return hash((self.seq, self.method))


def parse_cseq(text: str) -> CSeq:
    m = _CSEQ.fullmatch(text)
    if m is None:
        raise SipParseError(f"bad CSeq {text[:60]!r}")
    seq = int(m.group(1))
    if seq > MAX_DELTA:  # §20.16: a 32-bit unsigned integer; RFC 4475 §3.1.2.4
        raise SipParseError("CSeq number out of range")
    return CSeq(seq, m.group(2))


def parse_delta_seconds(text: str, limit: int = MAX_DELTA) -> int:
    """A non-negative decimal; values above ``limit`` are clamped to it.

    Clamping follows the RFC 3261 §20.19/§20.33 reading "between 0 and
    2**32-1"; a hundred-digit value (RFC 4475 §3.1.2.4) never reaches int().
    """
    value = text.strip(" \t")
    if not _DIGITS.fullmatch(value):
        raise SipParseError(f"bad number {value[:20]!r}")
    value = value.lstrip("0") or "0"
    if len(value) > 10:
        return limit
    return min(int(value), limit)


class MediaType:
    """Content-Type / Accept value (RFC 3261 §20.15): ``type/subtype;params``."""

    __slots__ = ("params", "subtype", "type")

    def __init__(
        self, type: str, subtype: str, params: dict[str, str | None] | None = None
    ) -> None:
        self.type = type.lower()
        self.subtype = subtype.lower()
        self.params: dict[str, str | None] = params if params is not None else {}

    def _copy(self) -> MediaType:
        copy: MediaType = _new(MediaType)
        copy.type, copy.subtype, copy.params = self.type, self.subtype, self.params.copy()
        return copy

    @property
    def mime_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    def __str__(self) -> str:
        return self.mime_type + format_params(self.params)

    def __repr__(self) -> str:
        return f"MediaType({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MediaType):
            return NotImplemented
        return (self.mime_type, self.params) == (other.mime_type, other.params)

    __hash__ = None  # type: ignore[assignment]


def parse_media_type(text: str) -> MediaType:
    m = _MEDIA.match(text)
    if m is None:
        raise SipParseError(f"bad media type {text[:60]!r}")
    return MediaType(m.group(1), m.group(2), parse_params(text, m.end()))
