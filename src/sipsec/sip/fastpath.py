"""The usual shape of a SIP message, parsed in one pass (RFC 3261 §7, §18.3).

:func:`parse_common` is what :func:`sipsec.sip.parse_message` tries first. It
walks the header lines once, parses the headers every element needs as it
meets them, and builds exactly the objects the full parser in
:mod:`sipsec.sip.parser` builds. It never decides that a message is bad: at
the first thing out of the ordinary (leading CRLFs, a header name that is
not a plain token, a value that is not in its common form — ``%`` escapes,
quoted-pairs, a password, URI headers, comma lists, extra LWS —, a line
boundary other than CRLF, a repeated From, To, Call-ID, CSeq, Max-Forwards
or Content-Length, a CSeq method that is not the request's …) it returns None
and the full parser takes the message from the start, so every verdict and
every error stays that parser's. What this accepts is a subset of what that
accepts, and equal objects come out: ``tests/sip/test_fastpath.py`` checks
both side by side on the RFC corpora and on Hypothesis mutations of them.

Why a second path rather than a faster general one: in CPython the cost is
the number of interpreted steps per header line, and the general code pays
for its generality on every line (two loops, dispatch through general
functions that strip and check again, a URI pattern that allows ``%HH``
everywhere). Here a line costs a ``partition``, a table look-up and, for the
eight eager headers, one small pattern whose groups become the objects
directly; CSeq, Max-Forwards and Content-Length need no pattern at all.
The patterns give the usual one-parameter tails (``;tag=…``, ``;lr``,
``;branch=…`` and a proxy's ``;received=…``) an alternative of their own:
sre matches those without its per-repetition bookkeeping. Whole-message
checks use one C-level pass each (``splitlines`` for bare CR/LF, ``min``
for continuation lines).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import SipParseError
from .fields import CSeq, NameAddress
from .headers import _KEYS, Entry, Headers, _key, split_list
from .message import (
    MAX_BODY_SIZE,
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    Request,
    Response,
)
from .params import _split_simple
from .uri import SipUri
from .via import Via

__all__ = ["parse_common"]

_T = r"A-Za-z0-9\-.!%*_+`'~"  # RFC 3261 token characters
_TOKEN = re.compile(f"[{_T}]+")
# Subsets of the patterns in uri.py and fields.py: no "%HH" escapes, no
# password, no URI headers, no LWS inside. Where these match, those match
# with the same groups (each part stops at the same character), so the
# objects built here are the ones the full parser builds.
_USER = r"[A-Za-z0-9\-_.!~*'()&=+$,;?/]+"
_HOST = r"[A-Za-z0-9][A-Za-z0-9\-.]*"
_PCHAR = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$]+"
_PARAM = rf"{_PCHAR}(?:={_PCHAR})?"
# Parameters: none, one, or several. One parameter (";lr", ";tag=…",
# ";branch=…") is an alternative of its own, which sre matches without the
# bookkeeping it does per repetition of a group: a fifth of the time.
_URI_PARAMS = rf"(|;{_PARAM}|(?:;{_PARAM})+)"
_URI = rf"(sips?):(?:({_USER})@)?({_HOST})(?::([0-9]{{1,5}}))?{_URI_PARAMS}"
_GENERIC = rf"[{_T}]+(?:=[{_T}\[\]:]+)?"  # generic-param (§25.1) without quotes
_NAME_ADDR = re.compile(
    rf'(?:([{_T}]+(?: [{_T}]+)*) ?|"([^"\\]*)" ?)?<({_URI})>'
    rf"(?:;tag=([{_T}]+)|((?:;{_GENERIC})*))"
).fullmatch
_REQUEST_LINE = re.compile(
    rf"([{_T}]+) (sip:(?:({_USER})@)?({_HOST})(?::([0-9]{{1,5}}))?{_URI_PARAMS}) SIP/2\.0"
).fullmatch
# fields._VIA_FAST with the version fixed: LWS before ";" is allowed (a
# folded Via continues with " ;received=").
_VIA = re.compile(
    rf"SIP/2\.0/([{_T}]+) "
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?)"
    # ";branch=…" with the ";received=…" a proxy adds (§18.2.1), or any
    # other run of parameters.
    rf"(?::([0-9]{{1,5}}))?(?:;branch=([{_T}]+)(?:[ \t]*;received=([{_T}\[\]:]+))?"
    rf"|((?:[ \t]*;{_GENERIC})*))"
).fullmatch
_CALL_ID = re.compile(
    r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?"
).fullmatch
_MAX_CSEQ = 2**32 - 1
# The headers parse_message checks (see parser._EAGER_SINGLE), by how they parse.
_EAGER = {
    "via": 0,
    "from": 1,
    "to": 1,
    "contact": 2,
    "call-id": 3,
    "cseq": 4,
    "max-forwards": 5,
    "content-length": 6,
}
# Spelling on the wire → (key, how it parses): one look-up per line for the
# usual spellings.
_SPELLINGS: dict[str, tuple[str, int | None]] = {
    spelling: (key, _EAGER.get(key)) for spelling, key in _KEYS.items()
}
# What str.splitlines() breaks at, besides CRLF.
_LINE_BOUNDARIES = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_new = object.__new__


class _Unusual(Exception):
    """Raised inside this module only: hand the message to the full parser."""


def _port(text: str) -> int:
    port = int(text)
    if port > 65535:
        raise _Unusual
    return port


def _name_address(text: str) -> NameAddress:
    m = _NAME_ADDR(text)
    if m is None:
        raise _Unusual
    token_name, quoted_name, uri_text, scheme, user, host, port, ptext, tag, hparams = m.groups()
    uri: SipUri = _new(SipUri)  # what uri._build_sip builds (nothing to unescape)
    uri.scheme = scheme
    uri.user = user
    uri.password = None
    uri.host = host
    uri.port = None if port is None else _port(port)
    uri._ptext = ptext
    uri._params = None if ptext else {}
    uri.headers = {}
    uri._raw = uri_text
    na: NameAddress = _new(NameAddress)
    na.uri = uri
    na.display_name = token_name if quoted_name is None else quoted_name
    if tag is not None:
        na.params = {"tag": tag}
    else:
        na.params = _split_simple(hparams) if hparams else {}
    na._raw = text
    return na


def _via(text: str) -> Via:
    m = _VIA(text)
    if m is None:
        raise _Unusual
    transport, host, port, branch, received, ptext = m.groups()
    via: Via = _new(Via)
    via.protocol = "SIP"
    via.version = "2.0"
    via.transport = transport.upper()
    via.host = host
    via.port = None if port is None else _port(port)
    if branch is not None:
        if received is None:
            via.params = {"branch": branch}
        else:
            via.params = {"branch": branch, "received": received}
    else:
        via.params = _split_simple(ptext) if ptext else {}
    via._raw = text
    return via


def _start(line: str) -> Request | Response:
    if line.startswith("SIP/2.0 "):
        code = line[8:11]
        if (
            len(code) != 3
            or not (code.isdigit() and code.isascii())
            or code[0] == "0"
            or line[11:12] not in ("", " ")
        ):
            raise _Unusual
        response: Response = _new(Response)
        response._status = int(code)
        response._reason = line[12:]
        return response
    m = _REQUEST_LINE(line)
    if m is None:
        raise _Unusual
    port = m.group(5)
    if port is not None and int(port) > 65535:
        raise _Unusual
    request: Request = _new(Request)
    request._method = m.group(1)
    request._uri = None  # type: ignore[assignment]
    # Checked; built when first read (Request.uri) from the match: a proxy
    # forwarding on its Route set or a UA matching a transaction often
    # never needs it.
    request._uri_parts = m
    return request


def _vias(value: str) -> list[Via]:
    if "," not in value:
        raise _Unusual
    # A Via here has no quotes, so every comma separates values.
    return [_via(piece.strip(" \t")) for piece in value.split(",")]


def _contacts(value: str) -> list[NameAddress]:
    return [_name_address(item) for item in split_list(value)]


def _other(name: str) -> tuple[str, int | None]:
    # Names with LWS before the colon, bad names: not here.
    if _TOKEN.fullmatch(name) is None:
        raise _Unusual
    key = _key(name)
    return key, _EAGER.get(key)


def _unfold(lines: list[str]) -> tuple[list[str], dict[int, str]]:
    """The header lines unfolded (§7.3.1), and the wire text of those that
    were folded by their index: pieces stripped and joined by one SP, as
    the full parser does (the value is stripped once more after)."""
    if lines[0][0] in " \t":  # no line is empty: the head ends at CRLFCRLF
        raise _Unusual
    unfolded: list[str] = []
    wires: dict[int, str] = {}
    for line in lines:
        if line[0] in " \t":
            last = len(unfolded) - 1
            wires[last] = wires.get(last, unfolded[last]) + "\r\n" + line
            unfolded[last] = unfolded[last].rstrip(" \t") + " " + line.strip(" \t")
        else:
            unfolded.append(line)
    return unfolded, wires


def _message(data: bytes, datagram: bool) -> Request | Response:
    if len(data) > MAX_MESSAGE_SIZE:
        raise _Unusual
    end = data.find(b"\r\n\r\n")
    if end <= 0 or end > MAX_LINE_LENGTH:  # then no line can be too long
        raise _Unusual
    head = data[:end].decode("utf-8")
    lines = head.splitlines()
    count = len(lines) - 1
    # Every line break is a CRLF (§7.5): splitlines() also breaks at a bare
    # CR or LF (and at the other Unicode line boundaries), each one
    # character long, so the lengths add up only when there is none —
    # provided the head does not end with one (no empty last line then).
    if (
        not 0 < count <= MAX_HEADERS
        or len(head) != len("".join(lines)) + 2 * count
        or head[-1] in _LINE_BOUNDARIES
    ):
        raise _Unusual
    message = _start(lines[0])
    request_method = message._method if type(message) is Request else None
    del lines[0]
    # SP and HT sort before every character a header name starts with: a
    # continuation line, if any, is the least. (If another control
    # character hides one, the loop below refuses the line all the same.)
    folded = None
    if min(lines)[0] in " \t":
        lines, folded = _unfold(lines)
    cache: dict[str, Any] = {}
    spelling = _SPELLINGS.get
    entries: list[Entry] = []
    append = entries.append
    for line in lines:
        name, colon, value = line.partition(":")
        known = spelling(name)
        if known is None:
            known = _other(name)
        if not colon:  # §7.3: no colon, not a header (a known name alone too)
            raise _Unusual
        key, kind = known
        value = value.strip(" \t")
        append((key, name, value, line))
        if kind is None:
            continue
        if kind == 1:  # From, To
            if key in cache:  # the full parser keeps the first; validate_request reports it
                raise _Unusual
            cache[key] = _name_address(value)
        elif kind == 0:  # Via: a list
            try:  # one value usually: the pattern refuses any comma, so try it first
                found = [_via(value)]
            except _Unusual:
                found = _vias(value)
            if key in cache:
                cache[key] += found
            else:
                cache[key] = found
        elif kind == 2:  # Contact: a list
            contacts = [_name_address(value)] if "," not in value else _contacts(value)
            if key in cache:
                cache[key] += contacts
            else:
                cache[key] = contacts
        elif key in cache:  # RFC 4475 §3.3.8, §3.3.9: the full parser's verdicts
            raise _Unusual
        elif kind == 3:
            if _CALL_ID(value) is None:
                raise _Unusual
            cache[key] = value
        elif kind == 4:
            seq, _, method = value.partition(" ")
            # A request's method is a token already: being equal to it is enough.
            if method != request_method and (
                request_method is not None or _TOKEN.fullmatch(method) is None
            ):
                raise _Unusual
            if not (seq.isdigit() and seq.isascii() and len(seq) <= 10):
                raise _Unusual
            cseq: CSeq = _new(CSeq)
            cseq.seq = int(seq)
            if cseq.seq > _MAX_CSEQ:  # §20.16: 32 bits
                raise _Unusual
            cseq.method = method
            cache[key] = cseq
        # Max-Forwards 0-255 (§20.22), Content-Length: ASCII digits only.
        elif value.isdigit() and value.isascii() and len(value) <= 10:
            number = int(value)
            if number > (255 if kind == 5 else MAX_BODY_SIZE):
                raise _Unusual
            cache[key] = number
        else:
            raise _Unusual
    if folded is not None:  # the folded lines are written back as they came
        for i, wire in folded.items():
            key, name, value, _ = entries[i]
            entries[i] = (key, name, value, wire)
    body_start = end + 4
    length = cache.get("content-length")
    if length is None:
        if not datagram:
            raise _Unusual
        stop = len(data)
    else:
        stop = body_start + length
        if stop > len(data):
            raise _Unusual
    if request_method is not None and "cseq" not in cache:
        cache["cseq"] = None  # as Request._validate leaves it: read, absent
    headers: Headers = _new(Headers)
    headers._entries = entries
    headers._cache = cache
    headers.modified = False
    message.headers = headers
    message._body = data[body_start:stop]
    message._raw = data[:stop]
    return message


def parse_common(data: bytes, datagram: bool = True) -> Request | Response | None:
    """The message, when ``data`` has the usual shape; None otherwise."""
    try:
        return _message(data, datagram)
    except (_Unusual, UnicodeDecodeError, SipParseError):
        return None
