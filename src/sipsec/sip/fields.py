"""Typed header values: Via, name-addr/addr-spec, CSeq, media types, numbers
(RFC 3261 §20, §25.1; RFC 3581 rport; RFC 5118 §4.5 bracketed ``received``).

Each parser takes one header value (one list element for list headers) and
returns an object, or raises :class:`SipParseError` (400). Objects built in
code serialize with ``str()``; parsed ones keep their wire text.
"""

from __future__ import annotations

import re

from .errors import SipParseError
from .uri import SIP_ADDR_SPEC_RE, SIP_URI_RE, SipUri, Uri, _build_sip, parse_uri

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

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"  # noqa: S105 (RFC 3261 token, not a password)
TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")
_QUOTED_RE = r'"[^"\\]*(?:\\.[^"\\]*)*"'  # quoted-string, unrolled (no alternation per char)
_QUOTED = re.compile(_QUOTED_RE, re.DOTALL)
# One ";name[=value]" with the LWS §25.1 allows around SEMI and EQUAL; a value
# is a token, a host (IPv6 references included) or a quoted string.
_PARAM = re.compile(
    rf"[ \t]*;[ \t]*([{_TOKEN_CHARS}]+)"
    rf"(?:[ \t]*=[ \t]*({_QUOTED_RE}|[{_TOKEN_CHARS}\[\]:]+))?",
    re.DOTALL,
)
_VIA = re.compile(
    rf"[ \t]*([{_TOKEN_CHARS}]+)[ \t]*/[ \t]*([{_TOKEN_CHARS}]+)[ \t]*/[ \t]*([{_TOKEN_CHARS}]+)"
    r"[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)"
    r"(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)
# Fast path: a run of ";name=value" with no LWS and no quotes, which is what
# nearly every element sends; anything else goes through _PARAM one by one.
_SIMPLE_PARAMS = re.compile(rf"(?:;[{_TOKEN_CHARS}]+(?:=[{_TOKEN_CHARS}\[\]:]+)?)+")
_VIA_FAST = re.compile(
    rf"(SIP)/(2\.0)/([{_TOKEN_CHARS}]+) "
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)"
    # LWS before ";" is allowed here: a folded Via continues with " ;received=".
    rf"(?::([0-9]{{1,5}}))?((?:[ \t]*;[{_TOKEN_CHARS}]+(?:=[{_TOKEN_CHARS}\[\]:]+)?)*)"
)
_SIMPLE_PARAMS_RE = rf"((?:;[{_TOKEN_CHARS}]+(?:=[{_TOKEN_CHARS}\[\]:]+)?)*)"
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
_UNQUOTE = re.compile(r"\\(.)", re.DOTALL)
MAX_DELTA = 2**32 - 1


def unquote(text: str) -> str:
    """``"a \\"b\\""`` → ``a "b"``; text not in quotes is returned unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
        return _UNQUOTE.sub(r"\1", text) if "\\" in text else text
    return text


def quote(text: str) -> str:
    """A quoted-string for ``text`` (``"`` and ``\\`` escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, pos: int = 0) -> dict[str, str | None]:
    """Parse ``;name=value`` pairs from ``text[pos:]`` up to its end.

    Names are lower-cased; quoted values are unquoted; a name without a value
    maps to ``None``. Anything left over is a syntax error.
    """
    params: dict[str, str | None] = {}
    end = len(text)
    m = _SIMPLE_PARAMS.match(text, pos)
    if m is not None and m.end() == end:
        return _split_simple(m.group())
    while pos < end:
        m = _PARAM.match(text, pos)
        if m is None:
            if text[pos:].strip(" \t"):
                raise SipParseError(f"bad parameters {text[pos : pos + 40]!r}")
            break
        value = m.group(2)
        params[m.group(1).lower()] = None if value is None else unquote(value)
        pos = m.end()
    return params


def _split_simple(text: str) -> dict[str, str | None]:
    if " " in text or "\t" in text:
        text = ";".join(piece.strip(" \t") for piece in text.split(";"))
    if text.count(";") == 1:  # one parameter, usually ";tag=..." or ";branch=..."
        name, eq, value = text[1:].partition("=")
        return {name.lower(): value if eq else None}
    params: dict[str, str | None] = {}
    for piece in text[1:].split(";"):
        name, eq, value = piece.partition("=")
        params[name.lower()] = value if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    """``{"tag": "x", "lr": None}`` → ``;tag=x;lr`` (values quoted when not tokens)."""
    parts = []
    for name, value in params.items():
        if value is None:
            parts.append(f";{name}")
        elif TOKEN.fullmatch(value) or (value.startswith("[") and value.endswith("]")):
            parts.append(f";{name}={value}")
        else:
            parts.append(f";{name}={quote(value)}")
    return "".join(parts)


class Via:
    """One Via value (RFC 3261 §20.42, §18.2.1; RFC 3581 rport)."""

    __slots__ = ("_raw", "host", "params", "port", "protocol", "transport", "version")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        *,
        protocol: str = "SIP",
        version: str = "2.0",
        raw: str | None = None,
    ) -> None:
        self.protocol = protocol
        self.version = version
        self.transport = transport.upper()
        self.host = host
        self.port = port
        self.params: dict[str, str | None] = params if params is not None else {}
        self._raw = raw

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | bool | None:
        """None: absent; True: requested (no value); an int: filled in (RFC 3581)."""
        if "rport" not in self.params:
            return None
        value = self.params["rport"]
        if value is None or value == "":
            return True
        if not _DIGITS.fullmatch(value) or len(value) > 5:
            raise SipParseError(f"bad rport {value[:20]!r}")
        return int(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        if value is None:
            return None
        if not _DIGITS.fullmatch(value) or len(value) > 3 or int(value) > 255:
            raise SipParseError(f"bad ttl {value[:20]!r}")
        return int(value)

    def __str__(self) -> str:
        if self._raw is None:
            params = format_params(self.params)
            self._raw = f"{self.protocol}/{self.version}/{self.transport} {self.sent_by}{params}"
        return self._raw

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


def parse_via(text: str) -> list[Via]:
    """All Via values in one header line (a comma-separated list)."""
    m = _VIA_FAST.fullmatch(text)
    if m is not None:
        protocol, version, transport, host, port, ptext = m.groups()
        number = None if port is None else int(port)
        if number is None or number <= 65535:
            via = Via.__new__(Via)
            via.protocol, via.version, via.transport = protocol, version, transport.upper()
            via.host, via.port, via._raw = host, number, text
            via.params = _split_simple(ptext) if ptext else {}
            return [via]
    vias: list[Via] = []
    pos, end = 0, len(text)
    while True:
        m = _VIA.match(text, pos)
        if m is None:
            raise SipParseError(f"bad Via {text[pos : pos + 60]!r}")
        start = pos
        port = m.group(5)
        if port is not None and int(port) > 65535:
            raise SipParseError("bad Via port")
        pos = m.end()
        params: dict[str, str | None] = {}
        while pos < end:
            pm = _PARAM.match(text, pos)
            if pm is None:
                break
            value = pm.group(2)
            params[pm.group(1).lower()] = None if value is None else unquote(value)
            pos = pm.end()
        raw = text[start:pos].strip(" \t")
        vias.append(
            Via(
                m.group(3),
                m.group(4),
                None if port is None else int(port),
                params,
                protocol=m.group(1),
                version=m.group(2),
                raw=raw,
            )
        )
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos == end:
            return vias
        if text[pos] != ",":
            raise SipParseError(f"bad Via {text[pos : pos + 60]!r}")
        pos += 1


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
