"""The usual shape of a SIP message, parsed in one pass (RFC 3261 §7, §18.3).

:func:`parse_common` is what :func:`sipsec.sip.parse_message` tries first. It
walks the header lines once, parses the headers every element needs as it
meets them, and builds exactly the objects the full parser in
:mod:`sipsec.sip.parser` builds. It never decides that a message is bad: at
the first thing out of the ordinary (leading CRLFs, a header name that is
not a plain token, a value that is not in its common form — ``%`` escapes,
quoted-pairs, a password, URI headers, comma lists, extra LWS —, a repeated
Content-Length, a CSeq method that is not the request's …) it returns None
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
directly.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import SipParseError
from .fields import _VIA_FAST, CSeq, NameAddress, Via, _split_simple
from .headers import _KEYS, Headers, _key, split_list
from .message import (
    MAX_BODY_SIZE,
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    Request,
    Response,
)
from .uri import SipUri

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
_URI = rf"(sips?):(?:({_USER})@)?({_HOST})(?::([0-9]{{1,5}}))?((?:;{_PCHAR}(?:={_PCHAR})?)*)"
_HPARAMS = rf"((?:;[{_T}]+(?:=[{_T}\[\]:]+)?)*)"
_NAME_ADDR = re.compile(rf'(?:([{_T}]+(?: [{_T}]+)*) ?|"([^"\\]*)" ?)?<({_URI})>{_HPARAMS}')
_REQUEST_LINE = re.compile(
    rf"([{_T}]+) (sip:(?:({_USER})@)?({_HOST})(?::([0-9]{{1,5}}))?((?:;{_PCHAR}(?:={_PCHAR})?)*))"
    r" SIP/2\.0"
)
# fields._VIA_FAST itself: LWS before ";" is allowed (a folded Via continues
# with " ;received=").
_VIA = _VIA_FAST
_CALL_ID = re.compile(
    r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?"
)
_MAX_CSEQ = 2**32 - 1
_CSEQ = re.compile(rf"([0-9]{{1,10}}) ([{_T}]+)")
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
# Spelling on the wire → (key, how it parses) or None for the other known
# headers: one look-up per line for the usual spellings.
_SPELLINGS: dict[str, tuple[str, int | None]] = {
    spelling: (key, _EAGER.get(key)) for spelling, key in _KEYS.items()
}
_NOT_KNOWN = ("", -1)
_new = object.__new__


class _Unusual(Exception):
    """Raised inside this module only: hand the message to the full parser."""


def _name_address(text: str) -> NameAddress:
    m = _NAME_ADDR.fullmatch(text)
    if m is None:
        raise _Unusual
    token_name, quoted_name, uri_text, scheme, user, host, port, ptext, hparams = m.groups()
    uri: SipUri = _new(SipUri)  # what uri._build_sip builds (nothing to unescape)
    uri.scheme = scheme
    uri.user = user
    uri.password = None
    uri.host = host
    if port is None:
        uri.port = None
    else:
        uri.port = int(port)
        if uri.port > 65535:
            raise _Unusual
    uri._ptext = ptext
    uri._params = None if ptext else {}
    uri.headers = {}
    uri._raw = uri_text
    na: NameAddress = _new(NameAddress)
    na.uri = uri
    na.display_name = token_name if quoted_name is None else quoted_name
    if not hparams:
        na.params = {}
    elif hparams.startswith(";tag=") and hparams.count(";") == 1:
        na.params = {"tag": hparams[5:]}
    else:
        na.params = _split_simple(hparams)
    na._raw = text
    return na


def _via(text: str) -> Via:
    m = _VIA.fullmatch(text)
    if m is None:
        raise _Unusual
    protocol, version, transport, host, port, ptext = m.groups()
    via: Via = _new(Via)
    via.protocol, via.version, via.transport = protocol, version, transport.upper()
    via.host, via._raw = host, text
    if port is None:
        via.port = None
    else:
        via.port = int(port)
        if via.port > 65535:
            raise _Unusual
    if not ptext:
        via.params = {}
    elif ptext[0] == ";" and ptext.count(";") == 1:  # the usual ";branch=z9hG4bK…"
        name, eq, param = ptext[1:].partition("=")
        via.params = {name.lower(): param if eq else None}
    else:
        via.params = _split_simple(ptext)
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
    m = _REQUEST_LINE.fullmatch(line)
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


def _message(data: bytes, datagram: bool) -> Request | Response:
    if len(data) > MAX_MESSAGE_SIZE:
        raise _Unusual
    end = data.find(b"\r\n\r\n")
    if end <= 0 or end > MAX_LINE_LENGTH:  # then no line can be too long
        raise _Unusual
    head = data[:end].decode("utf-8")
    lines = head.split("\r\n")
    count = len(lines) - 1
    if count > MAX_HEADERS or head.count("\r") != count or head.count("\n") != count:
        raise _Unusual
    message = _start(lines[0])
    block = head[len(lines[0]) :]
    tail = lines[1:]
    if "\r\n " in block or "\r\n\t" in block:
        if tail[0][:1] in (" ", "\t"):
            raise _Unusual
        # §7.3.1 unfolding as the full parser does it: pieces stripped, one
        # SP between (the value is stripped once more below).
        unfolded: list[str] = []
        wires: list[str] = []
        for line in tail:
            if line[0] in " \t":  # no line is empty: the block ends at CRLFCRLF
                unfolded[-1] = unfolded[-1].rstrip(" \t") + " " + line.strip(" \t")
                wires[-1] += "\r\n" + line
            else:
                unfolded.append(line)
                wires.append(line)
        tail = unfolded
    else:
        wires = tail
    cache: dict[str, Any] = {}
    spelling = _SPELLINGS.get
    entries: list[list[Any]] = []
    for line, wire in zip(tail, wires, strict=True):
        name, colon, value = line.partition(":")
        if not colon:  # §7.3: no colon, not a header (a known name alone too)
            raise _Unusual
        key, kind = spelling(name, _NOT_KNOWN)
        if kind == -1:
            # Names with LWS before the colon, bad names: not here.
            if _TOKEN.fullmatch(name) is None:
                raise _Unusual
            key = _key(name)
            kind = _EAGER.get(key)
        value = value.strip(" \t")
        entries.append([key, name, value, wire])
        if kind is None:
            continue
        if kind == 1:  # From, To: the first one counts (validate_request reports more)
            if key not in cache:
                cache[key] = _name_address(value)
        elif kind == 0 or kind == 2:  # noqa: PLR1714 - Via, Contact: lists
            if "," not in value:
                found = [_via(value) if kind == 0 else _name_address(value)]
            elif kind == 0:
                # A Via here has no quotes, so every comma separates values.
                found = [_via(piece.strip(" \t")) for piece in value.split(",")]
            else:
                found = [_name_address(item) for item in split_list(value)]
            items = cache.get(key)
            if items is None:
                cache[key] = found
            else:
                items += found
        elif key in cache:
            if kind == 6:  # RFC 4475 §3.3.9: two Content-Lengths, the full parser says so
                raise _Unusual
        elif kind == 3:
            if _CALL_ID.fullmatch(value) is None:
                raise _Unusual
            cache[key] = value
        elif kind == 4:
            m = _CSEQ.fullmatch(value)
            if m is None:
                raise _Unusual
            seq, method = m.groups()
            number = int(seq)
            if number > _MAX_CSEQ:
                raise _Unusual
            cseq: CSeq = _new(CSeq)
            cseq.seq, cseq.method = number, method
            cache[key] = cseq
        else:  # Max-Forwards 0-255 (§20.22), Content-Length
            if not (value.isdigit() and value.isascii() and len(value) <= 10):
                raise _Unusual
            number = int(value)
            if number > (255 if kind == 5 else MAX_BODY_SIZE):
                raise _Unusual
            cache[key] = number
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
    if type(message) is Request:
        found_cseq = cache.get("cseq")
        if found_cseq is None:
            cache["cseq"] = None  # as Request._validate leaves it: read, absent
        elif found_cseq.method != message._method:
            raise _Unusual
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
