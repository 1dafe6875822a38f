"""The fast relay's byte scanner and splicer (RFC 3261 §7, §16.6, §16.7, §18.2.1).

:func:`scan` reads only what a proxy needs from one datagram — the start
line, where each header line is and what it is called, the top Via, CSeq,
Max-Forwards, the To tag, Content-Length — and returns None for anything
that is not plainly well formed: folded lines, a missing or repeated
required header, a body whose length is not its Content-Length. None means
"decline": the full path (the parser, :class:`~sipsec.proxy.ProxyCore`)
handles the message and answers what is wrong with it. Being strict here is
what keeps the relay's output byte-for-byte what the full path would send:
every line the relay passes through is one the parser keeps as written.

Speed without a second set of rules: a header-name sequence seen a few
times is read by one :mod:`.relay_template` match that splits exactly as
:func:`generic_split` does, and each value check is a
:mod:`.relay_shapes` memo in front of its regex. What is written from a
scan is :mod:`.relay_splice`'s. A response the relay forwards is read by
:func:`.relay_reply.reply_fields` straight from its template's match.
"""

from __future__ import annotations

import re

from . import relay_shapes as sh
from .relay_shapes import NUL, accepted_uri, clean_reason, is_token, name_addr_uri, uri_host_port
from .relay_template import Templates
from .relay_via import ViaTop, parse_top_via

__all__ = [
    "Scan",
    "ViaTop",
    "accepted_uri",
    "clean_reason",
    "is_token",
    "lower_vias_ok",
    "name_addr_uri",
    "parse_top_via",
    "scan",
    "scan_response",
    "sent_bys",
    "uri_host_port",
    "via_values_ok",
]

# Compact forms (§7.3.3; RFC 3265, 3515, 3841, 4028, 4474) → the full name.
_COMPACT = {
    b"v": b"via", b"i": b"call-id", b"l": b"content-length", b"f": b"from", b"t": b"to",
    b"m": b"contact", b"c": b"content-type", b"e": b"content-encoding", b"k": b"supported",
    b"s": b"subject", b"o": b"event", b"r": b"refer-to", b"u": b"allow-events",
    b"x": b"session-expires", b"b": b"referred-by", b"y": b"identity", b"a": b"accept-contact",
    b"j": b"reject-contact", b"d": b"request-disposition", b"n": b"identity-info",
}  # fmt: skip
_NAME = re.compile(rb"[A-Za-z0-9.!%*_+`'~-]+")
# Any Via value below the top one: the relay reads only its sent-by, but declines
# one the parser might refuse (the full path answers 400 then).
_ANY_VIA = re.compile(
    rb" *SIP/2\.0/[A-Za-z]+ ([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    rb"(?::[0-9]{1,5})?(?:;[A-Za-z0-9._~!%*+`'-]+(?:=[A-Za-z0-9._~!%*+`':\[\]-]+)?)* *"
)
# Headers a proxy must be able to read (§16.3, validate_request): present → strict shape.
_SINGLE = frozenset({b"from", b"to", b"call-id", b"cseq", b"max-forwards", b"content-length"})
_REQUIRED = (b"from", b"to", b"call-id", b"cseq", b"content-length")


class Scan:
    """One datagram, split: the start line, header lines and their keys, the body."""

    __slots__ = (
        "body", "cseq_method", "cseq_seq", "index", "keys", "lines", "max_forwards",
        "method", "parties", "routes", "start", "status", "to_tag", "uri", "vals", "via_lines",
    )  # fmt: skip

    # keys, index, via_lines and routes are shared with other scans of the
    # same header names (_SHAPES): read them, never change them.
    start: bytes
    method: bytes | None
    uri: bytes
    status: int
    lines: list[bytes]
    keys: list[bytes]
    index: dict[bytes, int]  # the first line of each header
    via_lines: list[int]
    routes: list[int]
    body: bytes
    cseq_seq: int
    cseq_method: bytes
    max_forwards: int | None
    to_tag: bytes | None
    vals: dict[bytes, bytes]  # the first value (line) of the headers a proxy reads, Via's too
    parties: tuple[bytes, bytes]  # the From and To URIs (a request's)

    def value(self, i: int) -> bytes:
        line = self.lines[i]
        return line[line.index(b":") + 1 :].strip(b" \t")


_NAMES = re.compile(rb"\r\n([^:\r\n]*):")  # each header line's name, up to its first colon
_KEYS: dict[bytes, bytes | None] = {}  # a header name as written → its key (None: refused)
_KEYS_KEPT = 512  # names seen; a flood of invented names cannot grow it further
_WANTED = frozenset(
    {b"from", b"to", b"call-id", b"cseq", b"content-length", b"max-forwards", b"content-type",
     b"expires", b"via"}
)  # fmt: skip


def _key(name: bytes) -> bytes | None:
    key = _KEYS.get(name)
    if key is None and name not in _KEYS:
        stripped = name.rstrip(b" ")
        if _NAME.fullmatch(stripped) is None:
            key = None
        else:
            lower = stripped.lower()
            key = _COMPACT.get(lower, lower)
        if len(_KEYS) < _KEYS_KEPT:
            _KEYS[name] = key
    return key


# keys, first index of each, Via lines, Route lines, (key, line) of the values a
# proxy reads, and whether every header scan requires is there
_Shape = tuple[list[bytes], dict[bytes, int], list[int], list[int], list[tuple[bytes, int]], bool]
_REFUSED: _Shape = ([], {}, [], [], [], False)
_SHAPES: dict[tuple[bytes, ...], _Shape] = {}
_SHAPES_KEPT = 1024  # distinct header-name sequences remembered


def _shape(names: tuple[bytes, ...]) -> _Shape:
    """What depends on the header names alone — or _REFUSED (a bad name, a
    repeated single header, a required one missing)."""
    keys = [_key(name) for name in names]
    if None in keys:
        return _REFUSED
    checked = [k for k in keys if k is not None]
    index: dict[bytes, int] = {}
    for i, key in enumerate(checked):
        if key in index and key in _SINGLE:
            return _REFUSED  # RFC 4475 §3.3.8: the full path refuses a repeated one
        index.setdefault(key, i)
    vias = [i for i, key in enumerate(checked) if key == b"via"]
    routes = [i for i, key in enumerate(checked) if key == b"route"]
    wanted = [(key, index[key]) for key in _WANTED if key in index]
    complete = bool(vias) and all(key in index for key in _REQUIRED)
    return checked, index, vias, routes, wanted, complete


_TEMPLATES: Templates[_Shape] = Templates()
_FIND = _TEMPLATES.find


_Split = tuple[_Shape, list[bytes], dict[bytes, bytes]]


def _split(head: bytes, at: int) -> _Split | None:
    """The shape, header lines and wanted values of ``head`` the generic way,
    and one more sighting of its names (after a start line ending at ``at``)
    towards a template."""
    split = generic_split(head)
    if split is not None:
        names = tuple(_NAMES.findall(head))
        _TEMPLATES.seen(names, split[0][4], split[0], head[: min(at, 4)])
    return split


def generic_split(head: bytes) -> _Split | None:
    """:func:`_split` without templates: what every template must agree with."""
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        return None  # a bare CR or LF: the parser's business
    if b"\r\n " in head or b"\r\n\t" in head:
        return None  # a folded line (§7.3.1): the parser's business
    lines = head.split(b"\r\n")
    # The header names of one UA's messages repeat: what depends on them
    # alone (keys, first positions, Via and Route lines, repeats) is looked
    # up by the names, not recomputed per datagram.
    names = tuple(_NAMES.findall(head))
    if len(names) != len(lines) - 1:
        return None  # a line without a colon
    shape = _SHAPES.get(names)
    if shape is None:
        shape = _shape(names)
        if len(_SHAPES) < _SHAPES_KEPT:
            _SHAPES[names] = shape
    if not shape[5]:
        return None  # refused, or a required header missing
    del lines[0]
    return shape, lines, {key: lines[at].partition(b":")[2].strip(b" \t") for key, at in shape[4]}


_STARTS, _CSEQS, _PARTIES = sh.STARTS.get, sh.CSEQS.get, sh.PARTIES.get
_CALL_IDS = sh.CALL_IDS.get


# What scan and scan_response share: (start line, its verdict, shape, header
# lines, wanted values, CSeq, body, Max-Forwards or None).
_Read = tuple[
    bytes,
    sh.StartLine,
    _Shape,
    list[bytes],
    dict[bytes, bytes],
    tuple[int, bytes],
    bytes,
    int | None,
]


def _read(data: bytes) -> _Read | None:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or NUL in head:
        return None
    if not head.isascii():
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return None  # the parser refuses a header section that is not UTF-8
    at = head.find(b"\r\n")
    if at < 0:
        return None  # no header at all
    start = head[:at]
    # Each memo is read inline (a hit is the common case); a miss, or a
    # value remembered as refused, asks its function, which decides.
    first = _STARTS(start) or sh.start_line(start)
    if first is None:
        return None
    hit = _FIND(head, at)
    if hit is not None:  # what Templates.match returns, without the call
        template, m = hit
        shape = template.shape
        # a line per CRLF and no other CR or LF: the split is the template's lines
        lines = head[at + 2 :].split(b"\r\n")
        vals = dict(zip(template.keys, m.groups()))  # noqa: B905 - a group per key
    else:
        split = _split(head, at)
        if split is None:
            return None
        shape, lines, vals = split
    cseq = _CSEQS(vals[b"cseq"]) or sh.cseq(vals[b"cseq"])
    length = vals[b"content-length"]
    if cseq is None or not (length.isdigit() and len(length) <= 10) or int(length) != len(body):
        return None
    max_forwards = None
    if len(vals) > 6:  # more than Via and the five every scan has
        mf = vals.get(b"max-forwards")
        if mf is not None:
            if not (mf.isdigit() and len(mf) <= 10):  # sh.digits, inline
                return None
            max_forwards = int(mf)
            if max_forwards > 255:
                return None
        content_type = vals.get(b"content-type")
        if content_type is not None and not sh.content_type_ok(content_type):
            return None
        expires = vals.get(b"expires")
        if expires is not None and not sh.digits(expires):
            return None
    return start, first, shape, lines, vals, cseq, body, max_forwards


def scan(data: bytes, *, response_of: bool = False) -> Scan | None:
    """Split ``data`` (a request or a response) or return None when it is not
    in the plain shape the relay handles. ``response_of``: From, To and
    Call-ID are left for the caller to compare with its request's."""
    read = _read(data)
    if read is None:
        return None
    start, first, shape, lines, vals, cseq, body, max_forwards = read
    to_tag, parties = None, (b"-", b"-")
    if not response_of:
        to = _PARTIES(vals[b"to"]) or sh.party(vals[b"to"])
        from_ = _PARTIES(vals[b"from"]) or sh.party(vals[b"from"])
        if to is None or from_ is None or len(to[1]) > 1:
            return None
        call_id = vals[b"call-id"]
        if not (_CALL_IDS(call_id) or sh.call_id_ok(call_id)):
            return None
        to_tag = to[1][0] if to[1] else None
        parties = (from_[0], to[0])
    s = Scan()
    s.start, s.lines, s.body, s.vals = start, lines, body, vals
    s.method, s.uri, s.status, _ = first
    s.keys, s.index, s.via_lines, s.routes, _, _ = shape
    s.cseq_seq, s.cseq_method = cseq
    s.to_tag, s.parties, s.max_forwards = to_tag, parties, max_forwards
    return s


# A response as the relay reads it (RFC 3261 §16.7): status, its status line
# written back as it came, header lines, Via line numbers, wanted values,
# CSeq method, body.
Reply = tuple[int, bool, bytes, list[bytes], list[int], dict[bytes, bytes], bytes, bytes]


def scan_response(data: bytes) -> Reply | None:
    """What :func:`scan` with ``response_of`` reads of a status line message,
    without building a :class:`Scan` (four of a call's datagrams are
    responses); None exactly when that scan is None or reads a request."""
    read = _read(data)
    if read is None or read[1][0] is not None:
        return None
    start, first, shape, lines, vals, cseq, body, _ = read
    return first[2], first[3], start, lines, shape[2], vals, cseq[1], body


def lower_vias_ok(lines: list[bytes], via_lines: list[int]) -> bool:
    """Every Via value below the top one in the plain shape :func:`sent_bys`
    accepts (what the parser reads when the proxy pops its own, §16.7 step 3)."""
    for i in via_lines[1:]:
        line = lines[i]
        if not via_values_ok(line[line.index(b":") + 1 :].strip(b" \t")):
            return False
    return True


def via_values_ok(value: bytes) -> bool:
    """Each comma-separated value of one Via line in the plain shape."""
    return all(_ANY_VIA.fullmatch(item) is not None for item in value.split(b","))


def sent_bys(s: Scan, top: ViaTop | None = None) -> list[bytes]:
    """``host:port`` (port defaulted) of every Via value (§16.3 step 4 reads
    them all); empty when one is not in the plain shape. ``top``: the first
    Via line, already read by :func:`parse_top_via` (a stricter shape)."""
    out = []
    lines = s.via_lines
    if top is not None:
        out.append(top.written)
        lines = lines[1:]
    for i in lines:
        for item in s.value(i).split(b","):
            m = _ANY_VIA.fullmatch(item)
            if m is None:
                return []
            sent_by = item.strip(b" ").split(b" ", 1)[1].split(b";", 1)[0].lower()
            out.append(sent_by if b":" in sent_by else sent_by + b":5060")
    return out
