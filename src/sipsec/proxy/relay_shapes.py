"""The header-value shapes the fast relay accepts, each check memoised (RFC 3261 §25.1).

The relay declines anything outside a few conservative shapes (a start
line, a name-addr with at most one tag, a Call-ID, a CSeq, a Content-Type,
a plain SIP URI). Those shapes are the regular expressions below; what
this module adds is that each verdict is remembered by the exact bytes it
was given. Most values recur — the status lines, ``1 INVITE``, a caller's
From and Call-ID in every request of its dialog, the next hop's URI — so
after the first message a check is one dict lookup instead of a regex.

A memo is only ever a cache in front of its regex: the verdict is a pure
function of the bytes, so a hit and a miss answer the same, and
``tests/proxy/test_relay_shapes.py`` holds each memo against its pattern.
Each memo is bounded (cleared when full, and long values are never kept),
so a flood of invented values costs the regex, never memory.
"""

from __future__ import annotations

import re
from typing import TypeVar

__all__ = [
    "CALL_IDS",
    "COMMA",
    "CSEQS",
    "NUL",
    "PARTIES",
    "STARTS",
    "TOKEN_CHARS",
    "accepted_uri",
    "call_id_ok",
    "clean_reason",
    "content_type_ok",
    "cseq",
    "digits",
    "is_token",
    "name_addr_uri",
    "party",
    "remember",
    "start_line",
    "uri_host_port",
]

_TOKEN = rb"[A-Za-z0-9.!%*_+`'~-]+"
_METHOD = re.compile(rb"[A-Z]{2,16}")
_URI = re.compile(
    rb"sip:(?:[A-Za-z0-9._~!$&'()*+,=-]+@)?(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::[0-9]{1,5})?"
    rb"(?:;[a-z0-9._~!%*+`'-]+(?:=[A-Za-z0-9._~!%*+`'-]+)?)*"
)
_PARAMS = rb"(?:;[a-z0-9._~!%*+`'-]+(?:=[A-Za-z0-9._~!%*+`'-]+)?)*"
_NAME_ADDR = re.compile(
    rb'(?:"[^"\\\r\n]*" ?|[A-Za-z0-9._ -]*)<(' + _URI.pattern + rb")>" + _PARAMS
)
_ADDR_SPEC = re.compile(
    rb"(sip:(?:[A-Za-z0-9._~!$&'()*+,=-]+@)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?)"
    + _PARAMS
)
_TAG = re.compile(rb";tag=(" + _TOKEN + rb")")
_WORD = rb"[A-Za-z0-9.!%*_+`'~()<>:\\\"/\[\]?{}-]+"
_CALL_ID = re.compile(_WORD + rb"(?:@" + _WORD + rb")?")  # §25.1 callid = word ["@" word]
_CSEQ = re.compile(rb"([0-9]{1,10}) ([A-Z]{2,16})")
_CONTENT_TYPE = re.compile(
    _TOKEN + rb"/" + _TOKEN + rb"(?: *; *" + _TOKEN + rb"=" + _TOKEN + rb")*"
)
_STATUS = re.compile(rb"SIP/2\.0 ([1-6][0-9]{2}) [^\r\n]*")
_REASON = re.compile(rb"SIP/2\.0 [1-6][0-9]{2} [\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_TOKEN_RE = re.compile(_TOKEN)
TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.!%*_+`'~-"
# One byte looked for in a datagram, as an int: ``COMMA in top`` is a memchr,
# while ``b"," in top`` first tries the needle as an integer — CPython 3.11's
# bytes.__contains__ raises and clears a formatted TypeError each time,
# 2,600 instructions against 500 (cachegrind); 21 such tests a relayed call.
# A longer needle is looked for with ``find`` (1,800 against 2,900).
COMMA = ord(",")
NUL = 0

_KEPT = 2048  # entries per memo before it is cleared
_LONGEST = 256  # longer values are checked every time and never kept

K = TypeVar("K")
T = TypeVar("T")


def remember(memo: dict[K, T], key: K, value: T, most: int) -> T:
    """``memo[key] = value``, the memo emptied first when it holds ``most``:
    the relay's memos are all bounded this way, so a flood of invented
    values costs the work they save, never memory."""
    if len(memo) >= most:
        memo.clear()
    memo[key] = value
    return value


def _keep(memo: dict[bytes, T], value: bytes, verdict: T) -> T:
    if len(value) <= _LONGEST:
        remember(memo, value, verdict, _KEPT)
    return verdict


def digits(value: bytes) -> bool:
    """``1*10DIGIT`` (Content-Length, Max-Forwards, Expires): ``bytes.isdigit``
    is ASCII-only, so this is the regex ``[0-9]{1,10}`` without one."""
    return value.isdigit() and len(value) <= 10


# (method or None, Request-URI, status, status line written back as it came)
StartLine = tuple[bytes | None, bytes, int, bool]
STARTS: dict[bytes, StartLine | None] = {}


def start_line(start: bytes) -> StartLine | None:
    """A status line ``SIP/2.0 NNN reason`` or a request line ``METHOD URI SIP/2.0``."""
    if start in STARTS:
        return STARTS[start]
    verdict: StartLine | None = None
    if b"\r" in start or b"\n" in start:
        pass  # a bare CR or LF: the parser's business
    elif start.startswith(b"SIP/2.0 "):
        m = _STATUS.fullmatch(start)
        if m is not None:
            verdict = (None, b"", int(m.group(1)), _REASON.fullmatch(start) is not None)
    else:
        parts = start.split(b" ")
        if len(parts) == 3 and parts[2] == b"SIP/2.0" and _METHOD.fullmatch(parts[0]) is not None:
            verdict = (parts[0], parts[1], 0, False)
    return _keep(STARTS, start, verdict)


CSEQS: dict[bytes, tuple[int, bytes] | None] = {}


def cseq(value: bytes) -> tuple[int, bytes] | None:
    """(sequence number below 2**31, method) of a CSeq value (§8.1.1.5)."""
    if value in CSEQS:
        return CSEQS[value]
    m = _CSEQ.fullmatch(value)
    seq = int(m.group(1)) if m is not None else 2**31
    return _keep(CSEQS, value, (seq, m.group(2)) if m is not None and seq < 2**31 else None)


PARTIES: dict[bytes, tuple[bytes, list[bytes]] | None] = {}


def party(value: bytes) -> tuple[bytes, list[bytes]] | None:
    """(URI, every ``;tag=`` value) of a From or To value in the accepted shape.

    A value that ends in ``;tag=`` and a token is read as the value before
    it plus that tag: the tag, the last parameter, matches the parameter
    pattern exactly when it is a token, and ``_TAG`` finds it after the
    ones before. So the memo holds a caller's ``<sip:…>`` once, not a new
    entry per dialog."""
    if value in PARTIES:
        return PARTIES[value]
    # A dialog's From (and To, once tagged) recur in its INVITE, ACK and BYE:
    # the few most recent tagged values are kept apart, in a small memo.
    found = _TAGGED.get(value)
    if found is not None:
        return found
    base, sep, tag = value.rpartition(b";tag=")
    if sep and tag and not tag.translate(None, TOKEN_CHARS):
        found = PARTIES[base] if base in PARTIES else _party(base)
        if found is None:
            return None
        found = (found[0], [*found[1], tag])
        if len(value) <= _LONGEST:
            remember(_TAGGED, value, found, _TAGGED_KEPT)
        return found
    return _party(value)


_TAGGED: dict[bytes, tuple[bytes, list[bytes]]] = {}  # tagged values accepted, most recent
_TAGGED_KEPT = 1024


def _party(value: bytes) -> tuple[bytes, list[bytes]] | None:
    m = _NAME_ADDR.fullmatch(value) or _ADDR_SPEC.fullmatch(value)
    return _keep(PARTIES, value, None if m is None else (m.group(1), _TAG.findall(value)))


CALL_IDS: dict[bytes, bool] = {}


def call_id_ok(value: bytes) -> bool:
    if value in CALL_IDS:
        return CALL_IDS[value]
    return _keep(CALL_IDS, value, _CALL_ID.fullmatch(value) is not None)


_CONTENT_TYPES: dict[bytes, bool] = {}


def content_type_ok(value: bytes) -> bool:
    if value in _CONTENT_TYPES:
        return _CONTENT_TYPES[value]
    return _keep(_CONTENT_TYPES, value, _CONTENT_TYPE.fullmatch(value) is not None)


_ROUTE_URIS: dict[bytes, bytes | None] = {}


def name_addr_uri(value: bytes) -> bytes | None:
    """The URI of a one-value name-addr (a Route entry), or None."""
    if value in _ROUTE_URIS:
        return _ROUTE_URIS[value]
    m = _NAME_ADDR.fullmatch(value)
    return _keep(_ROUTE_URIS, value, None if m is None else m.group(1))


UriParts = tuple[bytes | None, bytes, int | None, dict[bytes, bytes | None]]


def uri_host_port(uri: bytes) -> UriParts:
    """(user, host, port, params) of a URI that matched the accepted shape."""
    rest = uri[4:]
    params: dict[bytes, bytes | None] = {}
    rest, *items = rest.split(b";")
    for item in items:
        name, eq, val = item.partition(b"=")
        params[name] = val if eq else None
    user, at, hostport = rest.rpartition(b"@")
    host, colon, port = hostport.partition(b":")
    return (user if at else None), host, (int(port) if colon else None), params


def accepted_uri(uri: bytes) -> bool:
    return _URI.fullmatch(uri) is not None


def is_token(text: bytes) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def clean_reason(start: bytes) -> bool:
    """A status line the full path writes back exactly as it came."""
    verdict = start_line(start)
    return verdict is not None and verdict[3]
