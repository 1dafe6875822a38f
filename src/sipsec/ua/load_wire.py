"""The load generator's wire format: a minimal byte scanner for the datagrams
it receives and byte templates for the ones it sends (SIPp's approach: a
generator reads only what it matches on and fills only what varies).

:func:`scan` reads, from the header section only, the start line (status
code or method), Call-ID, CSeq method, the To tag and the top Via's branch
— what a UAC or UAS of a call needs to match a datagram to its call and
transaction and to see a wrong answer — in a few ``bytes.find`` calls on a
lower-cased copy, 2.5-3x cheaper than :func:`sipsec.sip.parse_message`
(bench/bench_load.py). Legal but rare shapes go to a general path instead of
being refused: folded lines (§7.3.1), white space before a header colon
(HCOLON, §25.1), compact names (§7.3.3). What neither reads raises
:class:`SipParseError` (the engines count it as malformed).

The senders' helpers copy header lines verbatim from a request into its
responses (§8.2.6.2: Via, From, To, Call-ID, CSeq; §12.1.1: Record-Route in
a 2xx) and read a 2xx's Contact and Record-Route for the ACK and the BYE
(§12.1.2, §12.2.1.1).
"""

from __future__ import annotations

import ipaddress
import re

from sipsec.sip import SipParseError

__all__ = [
    "Address",
    "Scanned",
    "contact_uri",
    "header_value",
    "hop_of",
    "normalize",
    "reply_headers",
    "route_set",
    "scan",
    "scan_fast",
    "scan_general",
    "with_tag",
]

Address = tuple[str, int]
# (status code or method, Call-ID, CSeq method, To tag, top Via branch); the
# last two are b"" when absent.
Scanned = tuple[int | bytes, bytes, bytes, bytes, bytes]

_CONTACT = (b"\r\ncontact:", b"\r\nm:")
_FOLD = re.compile(rb"[ \t]*\r\n[ \t]+")  # §7.3.1: a folded line is one line
_NAME_SPACE = re.compile(rb"(\r\n[!#-'*+\-.0-9A-Z^-z|~]+)[ \t]+:")  # "Name :" → "Name:"
_TOKEN = re.compile(rb"[!%'*+\-.0-9A-Z_`a-z~]+\Z")  # §25.1 token, for the CSeq method
# A header parameter in any case and spacing, with or without a value.
_TAG = re.compile(rb";[ \t]*tag[ \t]*(?:=([^;]*))?(?=;|\Z)", re.I)
_BRANCH = re.compile(rb";[ \t]*branch[ \t]*(?:=([^;]*))?(?=;|\Z)", re.I)
_RECORD_ROUTE = re.compile(rb"\nrecord-route[ \t]*:[ \t]*([^\r\n]*)", re.I)
# One rec-route value: name-addr only (§20.30), so always a <URI>.
_NAME_ADDR = re.compile(rb'[ \t]*(?:"(?:[^"\\]|\\.)*"[ \t]*|[^<>",]*)<([^<>]*)>[^,]*(?:,|\Z)')


def normalize(data: bytes) -> bytes:
    """The header section, CRLF-terminated, with folded lines unfolded and
    white space before header colons removed (both legal, both rare)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("no end of the header section")
    head = data[: end + 2]
    if b"\r\n " in head or b"\r\n\t" in head:
        head = _FOLD.sub(b" ", head)
    if b" :" in head or b"\t:" in head:
        head = _NAME_SPACE.sub(rb"\1:", head)
    return head


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


def scan(data: bytes) -> Scanned:
    """Classify one datagram (see the module docstring); raises
    :class:`SipParseError` when a field the engines match on is unreadable.

    :func:`scan_fast` reads the usual shape; anything it declines is read by
    :func:`scan_general` from the normalized header section."""
    scanned = scan_fast(data)
    return scan_general(data) if scanned is None else scanned


def scan_fast(data: bytes) -> Scanned | None:
    """The usual shape in a few ``find`` calls on a lower-cased copy, or None
    (then :func:`scan_general` decides). It declines rather than guesses: a
    folded line, white space before a colon, a compact name before the long
    one (which comes first is the general path's business), a parameter
    written otherwise than ``;tag=``/``;branch=`` or mentioned twice, an
    unknown method, a start line with extra white space. Straight-line code
    on purpose: it runs for every datagram, and each Python operation counts
    (bounded ``find`` calls beat whole-section ``in`` tests and one regular
    expression collecting the four lines)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[: end + 2]
    low = head.lower()
    eol = head.find(b"\r\n")
    kind: int | bytes
    if head[:8] == b"SIP/2.0 ":
        code = head[8:11]
        if not code.isdigit() or head[11:12] not in (b" ", b"\r"):
            return None
        kind = int(code)
        if not 100 <= kind <= 699:
            return None
    else:
        space = head.find(b" ", 0, eol)
        kind = head[:space]
        if kind not in _METHODS or head[eol - 8 : eol] != b" SIP/2.0":
            return None
        if len(head[space + 1 : eol - 8].split()) != 1:  # one URI, as split() sees it
            return None
    if head[eol + 2 : eol + 3] in _FOLDS or b" :" in head or b"\t:" in head:
        return None  # the start line folded, or "Name :" (maybe "v :"): the general path
    # Each header: the long name, unless a compact one comes first (§7.3.3);
    # a value folded onto the next line (§7.3.1) goes to the general path.
    found = low.find(b"\r\ncall-id:")
    if found < 0 or low.find(b"\r\ni:", 0, found) >= 0:
        return None
    stop = head.find(b"\r\n", found + 10)
    call_id = head[found + 10 : stop].strip(b" \t")
    if head[stop + 2 : stop + 3] in _FOLDS or not call_id or b" " in call_id:
        return None
    if b"\t" in call_id:
        return None
    found = low.find(b"\r\ncseq:")
    if found < 0:
        return None
    stop = head.find(b"\r\n", found + 7)
    cseq = head[found + 7 : stop].split()
    if head[stop + 2 : stop + 3] in _FOLDS or len(cseq) != 2 or not cseq[0].isdigit():
        return None
    method = cseq[1]
    if method not in _METHODS or (kind.__class__ is bytes and method != kind):
        return None
    found = low.find(b"\r\nto:")
    if found < 0 or low.find(b"\r\nt:", 0, found) >= 0:
        return None
    start = found + 5
    stop = head.find(b"\r\n", start)
    if head[stop + 2 : stop + 3] in _FOLDS:
        return None
    close = low.rfind(b">", start, stop)
    if close >= 0:
        start = close + 1  # a ;tag= inside <…> is the URI's parameter (§20.10)
    tag = _fast_param(head, low, b"tag", start, stop)
    if tag is None:
        return None
    found = low.find(b"\r\nvia:")
    if found < 0 or low.find(b"\r\nv:", 0, found) >= 0:
        return None
    start = found + 6
    stop = head.find(b"\r\n", start)
    if head[stop + 2 : stop + 3] in _FOLDS:
        return None
    comma = low.find(b",", start, stop)  # the top Via is the line's first value
    if comma >= 0:
        stop = comma
    branch = _fast_param(head, low, b"branch", start, stop)
    if branch is None:
        return None
    return kind, call_id, method, tag, branch


def _fast_param(head: bytes, low: bytes, name: bytes, start: int, stop: int) -> bytes | None:
    """The value of ``;name=`` in ``head[start:stop]`` (``low`` is ``head``
    lower-cased): b"" when absent, None when ``name`` also stands elsewhere
    there (a shape for the general scan)."""
    key = b";" + name + b"="
    found = low.find(key, start, stop)
    if found < 0:
        return None if low.find(name, start, stop) >= 0 else b""
    end = found + len(key)
    if low.find(name, end, stop) >= 0:
        return None
    semicolon = low.find(b";", end, stop)
    return head[end : semicolon if semicolon >= 0 else stop].strip(b" \t")


_FOLDS = (b" ", b"\t")


def scan_general(data: bytes) -> Scanned:
    """Every shape: the normalized header section split into lines, names
    lower-cased and compact forms expanded; raises SipParseError."""
    lines = normalize(data)[:-2].split(b"\r\n")
    fields: dict[bytes, bytes] = {}
    for line in lines[:0:-1]:  # backwards: the first line of a name wins
        name, _, value = line.partition(b":")
        name = name.lower()
        fields[_LONG.get(name, name)] = value
    call_id = fields.get(b"call-id")
    cseq = fields.get(b"cseq")
    to = fields.get(b"to")
    via = fields.get(b"via")
    if call_id is None or cseq is None or to is None or via is None:
        raise SipParseError("no Call-ID, CSeq, To or Via")
    return _checked(lines[0], call_id, cseq, to, via)


_LONG = {b"i": b"call-id", b"t": b"to", b"v": b"via", b"m": b"contact"}  # §7.3.3


def _checked(first: bytes, call_id: bytes, cseq_value: bytes, to: bytes, via: bytes) -> Scanned:
    """The scanned fields from the start line and the four header values."""
    kind: int | bytes
    code = first[8:11]
    if first[:8] == b"SIP/2.0 " and code.isdigit() and first[11:12] in (b"", b" "):
        kind = int(code)
    else:  # a request, or a status line with extra white space (accepted, §25.1 is strict)
        parts = first.split(None, 2)
        if len(parts) >= 2 and parts[0] == b"SIP/2.0":
            if not (len(parts[1]) == 3 and parts[1].isdigit()):
                raise SipParseError("bad status line")
            kind = int(parts[1])
        elif len(parts) == 3 and parts[2] == b"SIP/2.0" and _is_token(parts[0]):
            kind = parts[0]
        else:
            raise SipParseError("bad start line")
    if isinstance(kind, int) and not 100 <= kind <= 699:
        raise SipParseError("bad status code")
    call_id = call_id.strip(b" \t")
    if not call_id or b" " in call_id or b"\t" in call_id:
        raise SipParseError("bad Call-ID")
    cseq = cseq_value.split()
    if len(cseq) != 2 or not cseq[0].isdigit() or not _is_token(cseq[1]):
        raise SipParseError("bad CSeq")
    if kind.__class__ is bytes and cseq[1] != kind:
        raise SipParseError("CSeq method differs from the request method")  # §8.1.1.5
    # The tag is read past the URI's ">": a ";tag=" inside <…> is a URI parameter (§20.10).
    tag = _param(to, to.rfind(b">") + 1, b"tag", _TAG)
    comma = via.find(b",")  # the top Via is the first value of the line
    branch = _param(via if comma < 0 else via[:comma], 0, b"branch", _BRANCH)
    return kind, call_id, cseq[1], tag, branch


_METHODS = frozenset((b"INVITE", b"ACK", b"BYE", b"CANCEL", b"OPTIONS", b"REGISTER"))


def _is_token(value: bytes) -> bool:
    return value in _METHODS or _TOKEN.match(value) is not None


def _param(value: bytes, start: int, name: bytes, pattern: re.Pattern[bytes]) -> bytes:
    """The value of header parameter ``name`` in ``value[start:]``, b"" when
    absent. Usually one ``;name=`` and no other mention of the name; else
    (capitals, white space around "=", no value) every occurrence is read and
    a parameter given twice is refused, as the parser does not pick one."""
    found = value.find(b";" + name + b"=", start)
    if found >= 0:
        found += len(name) + 2
        if value.find(name, found) < 0:
            end = value.find(b";", found)
            return value[found : len(value) if end < 0 else end].strip(b" \t")
    values = pattern.findall(value, start)
    if len(values) > 1:
        raise SipParseError(f"the {name.decode()} parameter is given twice")
    return values[0].strip(b" \t") if values else b""


def reply_headers(head: bytes) -> tuple[bytes, bytes, bytes]:
    """What a response copies from its request (§8.2.6.2, §12.1.1): the Via,
    From, Call-ID and CSeq lines; the Record-Route lines; the first To line —
    each verbatim, in order, CRLF-terminated. ``head`` is normalized (no
    "Name :"). Long names are found with ``find``; a compact one anywhere
    sends the whole section through the line-by-line reading."""
    low = head.lower()
    if b"\r\nv:" in low or b"\r\nf:" in low or b"\r\ni:" in low or b"\r\nt:" in low:
        return _reply_headers_by_line(head, low)
    copied = (
        _named(head, low, b"\r\nvia:") + _named(head, low, b"\r\nfrom:")
        + _named(head, low, b"\r\ncall-id:") + _named(head, low, b"\r\ncseq:")
    )  # fmt: skip
    found = low.find(b"\r\nto:")
    if found < 0:
        raise SipParseError("no To")
    to = head[found + 2 : head.find(b"\r\n", found + 2) + 2]
    return copied, _named(head, low, b"\r\nrecord-route:"), to


def _named(head: bytes, low: bytes, name: bytes) -> bytes:
    """Every ``name`` line of ``head`` in order, CRLF-terminated."""
    out = b""
    found = low.find(name)
    while found >= 0:
        end = head.find(b"\r\n", found + 2) + 2
        out += head[found + 2 : end]
        found = low.find(name, end - 2)
    return out


def _reply_headers_by_line(head: bytes, low: bytes) -> tuple[bytes, bytes, bytes]:
    """:func:`reply_headers` for any names, long or compact."""
    pairs = list(zip(head.split(b"\r\n"), low.split(b"\r\n"), strict=True))[1:]
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


def contact_uri(head: bytes, low: bytes) -> bytes | None:
    """The first Contact's URI (§12.1.2: the remote target), or None."""
    value = header_value(head, low, _CONTACT)
    if not value:
        return None
    first = _NAME_ADDR.match(value)
    if first is not None:
        return first.group(1).strip(b" \t") or None
    # addr-spec form: no <>, so no ',', ';' or '?' belong to the URI (§20.10)
    uri = re.split(rb"[;, \t]", value, maxsplit=1)[0]
    return uri or None


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
