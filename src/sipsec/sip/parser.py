"""Parsing bytes into a Request or Response (RFC 3261 §7, §18.3).

``parse_message`` splits the start line and the header lines, unfolds them,
frames the body by Content-Length, and parses the headers every element
needs (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Contact)
into the cached typed views; everything else waits for first access. Any
input that is not a valid message raises :class:`SipParseError`.

Speed matters here (every datagram a proxy sees passes through): messages
of the usual shape are parsed in one pass by :mod:`sipsec.sip.fastpath`,
which hands everything else — and every error — to the code below; here too
the common shapes take single-regex fast paths, and lines are split with
``str`` methods rather than a per-character scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import SipParseError
from .fastpath import UNUSUAL, parse_common, parse_usual
from .fields import NameAddress, parse_cseq, parse_name_address, parse_via
from .headers import _KEYS, Entry, Headers, _key, split_list
from .message import (
    MAX_BODY_SIZE,
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    Request,
    Response,
    _call_id,
    _content_length,
    _max_forwards,
)
from .uri import SipUri, _build_sip, parse_uri
from .uri_grammar import HOST_PORT_RE, PARAMS_RE, USERINFO_RE

__all__ = ["parse_message", "start_line_at"]

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
# A Request-URI may not carry headers (§19.1.5), so the pattern stops before "?".
_REQUEST_LINE_FAST = re.compile(
    rf"([A-Za-z0-9\-.!%*_+`'~]+) (sip:(?:{USERINFO_RE})?{HOST_PORT_RE}{PARAMS_RE}) SIP/2\.0"
)

# Checked by parse_message (every element needs them); the results are cached.
_EAGER_SINGLE: dict[str, Callable[[str], object]] = {
    "from": parse_name_address,
    "to": parse_name_address,
    "call-id": _call_id,
    "cseq": parse_cseq,
    "max-forwards": _max_forwards,
    "content-length": _content_length,
}


def _contact_list(text: str) -> list[NameAddress]:
    if "," not in text:
        return [parse_name_address(text, allow_star=True)]
    return [parse_name_address(item, allow_star=True) for item in split_list(text)]


def _version_error(version: str) -> SipParseError:
    if _VERSION.fullmatch(version):
        return SipParseError(f"SIP version {version[:20]!r} not supported", 505)
    return SipParseError(f"bad SIP version {version[:20]!r}")


def _start(line: str) -> Request | Response:
    m = _REQUEST_LINE_FAST.fullmatch(line)
    if m is not None:  # "METHOD sip:uri SIP/2.0", the usual request line
        request = Request.__new__(Request)
        request._method = m.group(1)
        uri_text = m.group(2)
        user, password, host, port, params = m.group(3, 4, 5, 6, 7)
        request._uri = _build_sip(uri_text, "sip", user, password, host, port, params, None)
        return request
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        if version.upper() != "SIP/2.0":
            raise _version_error(version)
        # Liberal: RFC 3665 §3.9 prints "SIP/2.0  486 Busy Here" (two SP).
        rest = rest.lstrip(" ")
        code = rest[:3]
        # RFC 4475 §3.1.1.13: "SIP/2.0 100 " (empty reason) is fine; a lone
        # "SIP/2.0 100" is accepted too (liberal).
        if len(code) != 3 or not code.isdigit() or not code.isascii() or rest[3:4] not in ("", " "):
            raise SipParseError(f"bad status line {line[:60]!r}")
        status = int(code)
        if status < 100:
            raise SipParseError(f"bad status code {status}")
        response = Response.__new__(Response)
        response._status = status
        response._reason = rest[4:]
        return response
    parts = line.split(" ")
    # Exactly one SP between the three parts (RFC 4475 §3.1.2.8–3.1.2.10).
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise SipParseError(f"bad request line {line[:60]!r}")
    method, uri_text, version = parts
    if version.upper() != "SIP/2.0":
        raise _version_error(version)
    if not _TOKEN.fullmatch(method):
        raise SipParseError(f"bad method {method[:40]!r}")
    uri = parse_uri(uri_text)
    if isinstance(uri, SipUri) and uri.headers:
        # §19.1.5 / RFC 4475 §3.1.2.11: headers are not allowed in a Request-URI.
        raise SipParseError("Request-URI with headers")
    request = Request.__new__(Request)
    request._method = method
    request._uri = uri
    return request


def _no_colon(line: str) -> SipParseError:
    # §7.3: header = field-name HCOLON field-value; no colon, no header.
    return SipParseError(f"header line without a colon {line[:60]!r}")


def _header_lines(block: str) -> list[Entry]:
    """``(key, name, value, wire text)`` per header; folds (§7.3.1) joined."""
    check_length = len(block) > MAX_LINE_LENGTH
    entries: list[Entry] = []
    for line in block.split("\r\n"):
        name, colon, value = line.partition(":")
        key = _KEYS.get(name)  # known spellings are valid tokens already
        if key is None:
            if check_length and len(line) > MAX_LINE_LENGTH:
                raise SipParseError("header line too long", 513)
            first = line[:1]
            if first in {" ", "\t"}:  # a continuation is worth one SP
                if not entries:
                    raise SipParseError("continuation line before any header")
                key, name, value, wire = entries[-1]
                value = (value + " " + line.strip(" \t")).strip(" \t")
                entries[-1] = (key, name, value, f"{wire}\r\n{line}")
                continue
            if not colon:
                raise _no_colon(line)
            name = name.rstrip(" \t")
            if not _TOKEN.fullmatch(name):
                raise SipParseError(f"bad header line {line[:60]!r}")
            key = _key(name)
        elif not colon:  # "Subject" alone is no empty Subject (§7.3)
            raise _no_colon(line)
        elif check_length and len(line) > MAX_LINE_LENGTH:
            raise SipParseError("header line too long", 513)
        entries.append((key, name, value.strip(" \t"), line))
    return entries


def _parse(data: bytes, *, datagram: bool) -> Request | Response:
    # The usual shape first (fastpath.py); anything else, and every error, here.
    message = parse_common(data, datagram)
    if message is not None:
        return message
    return _parse_full(data, datagram=datagram)


def start_line_at(data: bytes) -> int:
    """Where a message's start line begins: after the CRLFs that may come
    before it (§7.5), which a parser ignores."""
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    return start


def _parse_full(data: bytes, *, datagram: bool) -> Request | Response:
    """Any message, and the verdict on every bad one."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError("message too large", 513)
    start = start_line_at(data)
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        raise SipParseError("header section not terminated by an empty line")
    try:
        head = data[start:end].decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("header section is not UTF-8") from None
    nl = head.find("\r\n")
    if nl < 0:
        first, block = head, ""
    else:
        first, block = head[:nl], head[nl + 2 :]
    count = head.count("\r\n")
    if count > MAX_HEADERS:
        raise SipParseError("too many header lines", 513)
    if head.count("\r") != count or head.count("\n") != count:
        raise SipParseError("bare CR or LF in the header section")
    message = _start(first)
    entries = _header_lines(block) if block else []
    headers = message.headers = Headers._from_wire(entries)
    # The headers every element needs, parsed now; the results are the cached
    # typed views. A repeated single header keeps its first value here and is
    # reported by validate_request (RFC 4475 §3.3.8), except Content-Length.
    cache = headers._cache
    for entry in entries:
        key = entry[0]
        parse = _EAGER_SINGLE.get(key)
        if parse is not None:
            if key not in cache:
                cache[key] = parse(entry[2])
            elif key == "content-length":  # RFC 4475 §3.3.9: framing is ambiguous
                raise SipParseError("more than one Content-Length")
        elif key == "via" or key == "contact":  # noqa: PLR1714 (faster than a set here)
            items = parse_via(entry[2]) if key == "via" else _contact_list(entry[2])
            cache[key] = cache[key] + items if key in cache else items
    body_start = end + 4
    length = cache.get("content-length")
    if length is None:
        if not datagram:
            raise SipParseError("Content-Length is required on a stream")
        stop = len(data)  # §18.3: the rest of the datagram
    else:
        if length > MAX_BODY_SIZE:
            raise SipParseError("body too large", 413)
        stop = body_start + length
        if stop > len(data):
            raise SipParseError("Content-Length larger than the message")
    message._body = data[body_start:stop]
    message._raw = data[start:stop]
    message._validate()
    return message


def parse_message(data: bytes) -> Request | Response:
    """Parse one SIP message from a datagram (or any complete buffer).

    Octets after the Content-Length body are ignored (§18.3); without a
    Content-Length the body is the rest of ``data``. Raises
    :class:`SipParseError` for anything that is not a valid message.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("parse_message() takes bytes")
        data = bytes(data)
    # _parse and parse_common inlined: this is the call every datagram makes.
    try:
        return parse_usual(data, True)
    except UNUSUAL:
        return _parse_full(data, datagram=True)
