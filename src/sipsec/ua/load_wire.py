"""The load generator's wire format for what it sends: the lines a response
copies from its request (§8.2.6.2: Via, From, To, Call-ID, CSeq; §12.1.1:
Record-Route in a 2xx), a 2xx's Contact and Record-Route read for the ACK
and the BYE (§12.1.2, §12.2.1.1), and where a request to a URI goes. The
scanner of what it receives is :mod:`~sipsec.ua.load_scan` (re-exported
here). Each field is one regular expression pass (any case, long or compact
name, §7.3.3), held equal to a plain line-by-line reading by
tests/ua/test_load_wire.py.
"""

from __future__ import annotations

import ipaddress
import re

from sipsec.sip import SipParseError

from .load_scan import Scanned, normalize, scan, scan_fast, scan_general

__all__ = [
    "Address",
    "Scanned",
    "contact_uri",
    "header_value",
    "hop_of",
    "normalize",
    "reply_headers",
    "reply_headers_by_line",
    "route_set",
    "scan",
    "scan_fast",
    "scan_general",
    "to_value",
    "with_tag",
]

Address = tuple[str, int]

_TAG = re.compile(rb";[ \t]*tag[ \t]*(?:=([^;]*))?(?=;|\Z)", re.I)  # any case and spacing
_RECORD_ROUTE = re.compile(rb"\nrecord-route[ \t]*:[ \t]*([^\r\n]*)", re.I)
# One rec-route value: name-addr only (§20.30), so always a <URI>.
_NAME_ADDR = re.compile(rb'[ \t]*(?:"(?:[^"\\]|\\.)*"[ \t]*|[^<>",]*)<([^<>]*)>[^,]*(?:,|\Z)')
# Whole lines of a normalized header section by name, any case; a line runs to
# its CRLF (a lone CR belongs to it, as in a split on CRLF).
_LINE_END = rb":[^\r]*(?:\r(?!\n)[^\r]*)*)(?=\r\n)"
_COPY = re.compile(rb"\r\n((?:via|from|call-id|cseq|[vfi])" + _LINE_END, re.I)  # §7.3.3
_ROUTES = re.compile(rb"\r\n(record-route" + _LINE_END, re.I)
_TO_LINE = re.compile(rb"\r\n((?:to|t)" + _LINE_END, re.I)
# The first line among a long and a compact name: its value (§7.3.3).
_VALUE = rb":([^\r]*(?:\r(?!\n)[^\r]*)*)"
_CONTACT_LINE = re.compile(rb"\r\n(?:contact|m)" + _VALUE, re.I)
_TO_VALUE = re.compile(rb"\r\n(?:to|t)" + _VALUE, re.I)


def header_value(head: bytes, low: bytes, names: tuple[bytes, ...]) -> bytes | None:
    """The first line's value among ``names`` (``b"\\r\\nname:"`` forms, long and
    compact), stripped; found in ``low`` (lower-cased ``head``), read from
    ``head``; None when no such line."""
    start = -1
    for name in names:
        found = low.find(name)
        if found >= 0 and (start < 0 or found < start):
            start = found + len(name)
    if start < 0:
        return None
    return head[start : head.find(b"\r\n", start)].strip(b" \t")


def reply_headers(head: bytes) -> tuple[bytes, bytes, bytes]:
    """What a response copies from its request (§8.2.6.2, §12.1.1): the Via,
    From, Call-ID and CSeq lines; the Record-Route lines; the first To line —
    each verbatim (long or compact name, §7.3.3), in order, CRLF-terminated.
    ``head`` is normalized (no "Name :", no folding). One regular expression
    pass each; :func:`reply_headers_by_line` is the plain reading it equals."""
    to = _TO_LINE.search(head)
    if to is None:
        raise SipParseError("no To")
    return _lines(_COPY.findall(head)), _lines(_ROUTES.findall(head)), to[1] + b"\r\n"


def reply_headers_by_line(head: bytes) -> tuple[bytes, bytes, bytes]:
    """:func:`reply_headers` by splitting lines (the reference the tests hold
    it to)."""
    pairs = list(zip(head.split(b"\r\n"), head.lower().split(b"\r\n"), strict=True))[1:]
    copied = [line for line, name in pairs if name.startswith(_COPY_NAMES)]
    routes = [line for line, name in pairs if name.startswith(b"record-route:")]
    to = [line for line, name in pairs if name.startswith(_TO_NAMES)]
    if not to:
        raise SipParseError("no To")
    return _lines(copied), _lines(routes), to[0] + b"\r\n"


_COPY_NAMES = (b"via:", b"v:", b"from:", b"f:", b"call-id:", b"i:", b"cseq:")
_TO_NAMES = (b"to:", b"t:")


def _lines(lines: list[bytes]) -> bytes:
    return b"\r\n".join(lines) + b"\r\n" if lines else b""


def with_tag(to_line: bytes, tag: bytes) -> bytes:
    """A To line (CRLF-terminated) with ``;tag=`` added unless it has one."""
    value = to_line[to_line.find(b":") + 1 : -2]
    if _TAG.search(value, value.rfind(b">") + 1):
        return to_line
    return to_line[:-2].rstrip(b" \t") + b";tag=" + tag + b"\r\n"


def contact_uri(head: bytes) -> bytes | None:
    """The first Contact's URI (§12.1.2: the remote target), or None; ``head``
    is normalized."""
    line = _CONTACT_LINE.search(head)
    value = line[1].strip(b" \t") if line is not None else b""
    if not value:
        return None
    first = _NAME_ADDR.match(value)
    if first is not None:
        return first.group(1).strip(b" \t") or None
    # addr-spec form: no <>, so no ',', ';' or '?' belong to the URI (§20.10)
    uri = re.split(rb"[;, \t]", value, maxsplit=1)[0]
    return uri or None


def to_value(head: bytes) -> bytes | None:
    """The first To line's value, stripped (the dialog's remote party and tag,
    for the ACK and the BYE), or None; ``head`` is normalized."""
    line = _TO_VALUE.search(head)
    return None if line is None else line[1].strip(b" \t")


def route_set(head: bytes) -> list[bytes]:
    """The 2xx's Record-Route URIs in the order of the route set the UAC uses:
    reversed (§12.1.2); raises SipParseError for a value that is no name-addr."""
    uris: list[bytes] = []
    for value in _RECORD_ROUTE.findall(head):
        value = value.rstrip(b" \t")
        position = 0
        while position < len(value):
            match = _NAME_ADDR.match(value, position)
            if match is None:
                raise SipParseError("Record-Route is not a list of <URI>")
            uris.append(match.group(1).strip(b" \t"))
            position = match.end()
    uris.reverse()
    return uris


def hop_of(uri: bytes, fallback: Address) -> Address | None:
    """Where a request to a ``sip:`` URI goes on loopback: its host (an IP
    literal; a name falls back to ``fallback``, a load tool has no DNS) and
    port (5060 by default); None when the URI is no sip: URI."""
    lowered = uri[:4].lower()
    if lowered != b"sip:":
        return None
    rest = uri[4:]
    at = rest.find(b"@")
    if at >= 0:
        rest = rest[at + 1 :]
    end = len(rest)
    for stop in (b";", b"?", b">"):
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    hostport = rest[:end]
    if hostport.startswith(b"["):
        close = hostport.find(b"]")
        host, port_text = hostport[1:close], hostport[close + 1 :]
        if close < 0 or (port_text and not port_text.startswith(b":")):
            return None
        port_text = port_text[1:]
    else:
        host, _, port_text = hostport.partition(b":")
    if port_text and not (port_text.isdigit() and len(port_text) <= 5):
        return None
    port = int(port_text) if port_text else 5060
    if not host or port > 65535:
        return None
    try:
        text = host.decode("ascii")
        ipaddress.ip_address(text)
    except (UnicodeDecodeError, ValueError):
        return fallback
    return text, port
