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

What is written from a scan is :mod:`.relay_splice`'s.
"""

from __future__ import annotations

import re

__all__ = [
    "Scan",
    "ViaTop",
    "accepted_uri",
    "clean_reason",
    "is_token",
    "name_addr_uri",
    "parse_top_via",
    "scan",
    "sent_bys",
    "uri_host_port",
]

# Compact forms (§7.3.3; RFC 3265, 3515, 3841, 4028, 4474) → the full name.
_COMPACT = {
    b"v": b"via", b"i": b"call-id", b"l": b"content-length", b"f": b"from", b"t": b"to",
    b"m": b"contact", b"c": b"content-type", b"e": b"content-encoding", b"k": b"supported",
    b"s": b"subject", b"o": b"event", b"r": b"refer-to", b"u": b"allow-events",
    b"x": b"session-expires", b"b": b"referred-by", b"y": b"identity", b"a": b"accept-contact",
    b"j": b"reject-contact", b"d": b"request-disposition", b"n": b"identity-info",
}  # fmt: skip
_TOKEN = rb"[A-Za-z0-9.!%*_+`'~-]+"
_NAME = re.compile(_TOKEN)
# Conservative on purpose: a value outside these shapes is declined, never guessed at.
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
_DIGITS = re.compile(rb"[0-9]{1,10}")
_CONTENT_TYPE = re.compile(
    _TOKEN + rb"/" + _TOKEN + rb"(?: *; *" + _TOKEN + rb"=" + _TOKEN + rb")*"
)
_VIA = re.compile(
    rb"SIP/2\.0/UDP ([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    rb"(?::([0-9]{1,5}))?((?:;[a-z0-9._~!%*+`'-]+(?:=[A-Za-z0-9._~!%*+`'-]+)?)*)"
)
# Any Via value below the top one: the relay reads only its sent-by, but declines
# one the parser might refuse (the full path answers 400 then).
_ANY_VIA = re.compile(
    rb" *SIP/2\.0/[A-Za-z]+ ([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    rb"(?::[0-9]{1,5})?(?:;[A-Za-z0-9._~!%*+`'-]+(?:=[A-Za-z0-9._~!%*+`':\[\]-]+)?)* *"
)
_STATUS = re.compile(rb"SIP/2\.0 ([1-6][0-9]{2}) [^\r\n]*")
# Headers a proxy must be able to read (§16.3, validate_request): present → strict shape.
_SINGLE = frozenset({b"from", b"to", b"call-id", b"cseq", b"max-forwards", b"content-length"})
_BRANCH_COOKIE = b"z9hG4bK"


class ViaTop:
    """The top Via of a request, as far as the relay reads it."""

    __slots__ = ("branch", "host", "params", "port", "rport", "sent_by")

    def __init__(self, host: bytes, port: int | None, params: list[tuple[bytes, bytes | None]]):
        self.host = host
        self.port = port
        self.params = params
        names = dict(params)
        self.branch: bytes = names.get(b"branch") or b""
        self.rport = b"rport" in names
        self.sent_by = host.lower() + b":" + str(port or 5060).encode()


def parse_top_via(value: bytes) -> ViaTop | None:
    """The single Via value ``value`` in the relay's accepted shape, or None."""
    m = _VIA.fullmatch(value)
    if m is None:
        return None
    params: list[tuple[bytes, bytes | None]] = []
    for item in m.group(3).split(b";")[1:]:
        name, eq, val = item.partition(b"=")
        params.append((name, val if eq else None))
    names = [n for n, _ in params]
    if len(set(names)) != len(names):
        return None
    values = dict(params)
    branch = values.get(b"branch")
    if branch is None or not branch.startswith(_BRANCH_COOKIE) or branch == _BRANCH_COOKIE:
        return None
    # A received or maddr of the sender's own, or a filled rport, changes where
    # §18.2.2 answers: the full path reads those.
    if b"received" in values or b"maddr" in values or values.get(b"rport") is not None:
        return None
    port = m.group(2)
    if port is not None and not 0 < int(port) < 65536:
        return None
    return ViaTop(m.group(1), int(port) if port is not None else None, params)


class Scan:
    """One datagram, split: the start line, header lines and their keys, the body."""

    __slots__ = (
        "body", "cseq_method", "cseq_seq", "index", "keys", "lines", "max_forwards",
        "method", "parties", "routes", "start", "status", "to_tag", "uri", "vals", "via_lines",
    )  # fmt: skip

    def __init__(self) -> None:
        self.start = b""
        self.method: bytes | None = None
        self.uri = b""
        self.status = 0
        self.lines: list[bytes] = []
        # keys, index, via_lines and routes may be shared with other scans of
        # the same header names (_SHAPES): read them, never change them.
        self.keys: list[bytes] = []
        self.index: dict[bytes, int] = {}  # the first line of each header
        self.via_lines: list[int] = []
        self.routes: list[int] = []
        self.body = b""
        self.cseq_seq = 0
        self.cseq_method = b""
        self.max_forwards: int | None = None
        self.to_tag: bytes | None = None
        self.vals: dict[bytes, bytes] = {}  # the first value of the headers a proxy reads
        self.parties = (b"-", b"-")  # the From and To URIs (a request's)

    def value(self, i: int) -> bytes:
        line = self.lines[i]
        return line[line.index(b":") + 1 :].strip(b" \t")


_NAMES = re.compile(rb"\r\n([^:\r\n]*):")  # each header line's name, up to its first colon
_KEYS: dict[bytes, bytes | None] = {}  # a header name as written → its key (None: refused)
_KEYS_KEPT = 512  # names seen; a flood of invented names cannot grow it further
_WANTED = frozenset(
    {b"from", b"to", b"call-id", b"cseq", b"content-length", b"max-forwards", b"content-type",
     b"expires"}
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


_Shape = tuple[list[bytes], dict[bytes, int], list[int], list[int], list[tuple[bytes, int]]]
_REFUSED: _Shape = ([], {}, [], [], [])
_SHAPES: dict[tuple[bytes, ...], _Shape] = {}
_SHAPES_KEPT = 1024  # distinct header-name sequences remembered


def _shape(names: tuple[bytes, ...]) -> _Shape:
    """Keys, first index of each, Via and Route lines, and the (key, line) of
    the values a proxy reads — or _REFUSED (a bad name, a repeated single header)."""
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
    return checked, index, vias, routes, wanted


def scan(data: bytes, *, response_of: bool = False) -> Scan | None:
    """Split ``data`` (a request or a response) or return None when it is not
    in the plain shape the relay handles. ``response_of``: From, To and
    Call-ID are left for the caller to compare with its request's."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or b"\x00" in head:
        return None
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf or b"\r\n " in head:
        return None  # a bare CR or LF, or a folded line (§7.3.1): the parser's business
    if b"\r\n\t" in head:
        return None
    if not head.isascii():
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return None  # the parser refuses a header section that is not UTF-8
    lines = head.split(b"\r\n")
    s = Scan()
    start = s.start = lines[0]
    if start.startswith(b"SIP/2.0 "):
        m = _STATUS.fullmatch(start)
        if m is None:
            return None
        s.status = int(m.group(1))
    else:
        parts = start.split(b" ")
        if len(parts) != 3 or parts[2] != b"SIP/2.0" or _METHOD.fullmatch(parts[0]) is None:
            return None
        s.method, s.uri = parts[0], parts[1]
    s.lines = header_lines = lines[1:]
    # The header names of one UA's messages repeat: what depends on them
    # alone (keys, first positions, Via and Route lines, repeats) is looked
    # up by the names, not recomputed per datagram.
    names = tuple(_NAMES.findall(head))
    if len(names) != len(header_lines):
        return None  # a line without a colon
    shape = _SHAPES.get(names)
    if shape is None:
        shape = _shape(names)
        if len(_SHAPES) < _SHAPES_KEPT:
            _SHAPES[names] = shape
    if shape is _REFUSED:
        return None
    s.keys, s.index, s.via_lines, s.routes, wanted = shape
    vals = s.vals
    for key, at in wanted:
        vals[key] = header_lines[at].partition(b":")[2].strip(b" \t")
    if not s.via_lines or b"cseq" not in vals or b"content-length" not in vals:
        return None
    if b"from" not in vals or b"to" not in vals or b"call-id" not in vals:
        return None
    m = _CSEQ.fullmatch(vals[b"cseq"])
    if m is None or int(m.group(1)) >= 2**31:
        return None
    s.cseq_seq, s.cseq_method = int(m.group(1)), m.group(2)
    length = vals[b"content-length"]
    if _DIGITS.fullmatch(length) is None or int(length) != len(body):
        return None
    s.body = body
    if not response_of:
        to = vals[b"to"]
        to_m = _NAME_ADDR.fullmatch(to) or _ADDR_SPEC.fullmatch(to)
        if to_m is None:
            return None
        tags = _TAG.findall(to)
        if len(tags) > 1:
            return None
        s.to_tag = tags[0] if tags else None
        from_ = vals[b"from"]
        from_m = _NAME_ADDR.fullmatch(from_) or _ADDR_SPEC.fullmatch(from_)
        if from_m is None:
            return None
        s.parties = (from_m.group(1), to_m.group(1))
        if _CALL_ID.fullmatch(vals[b"call-id"]) is None:
            return None
    mf = vals.get(b"max-forwards")
    if mf is not None:
        if _DIGITS.fullmatch(mf) is None or int(mf) > 255:
            return None
        s.max_forwards = int(mf)
    content_type = vals.get(b"content-type")
    if content_type is not None and _CONTENT_TYPE.fullmatch(content_type) is None:
        return None
    expires = vals.get(b"expires")
    if expires is not None and _DIGITS.fullmatch(expires) is None:
        return None
    return s


def name_addr_uri(value: bytes) -> bytes | None:
    """The URI of a one-value name-addr (a Route entry), or None."""
    m = _NAME_ADDR.fullmatch(value)
    return None if m is None else m.group(1)


def uri_host_port(uri: bytes) -> tuple[bytes | None, bytes, int | None, dict[bytes, bytes | None]]:
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


def sent_bys(s: Scan) -> list[bytes]:
    """``host:port`` (port defaulted) of every Via value (§16.3 step 4 reads
    them all); empty when one is not in the plain shape."""
    out = []
    for i in s.via_lines:
        for item in s.value(i).split(b","):
            m = _ANY_VIA.fullmatch(item)
            if m is None:
                return []
            sent_by = item.strip(b" ").split(b" ", 1)[1].split(b";", 1)[0].lower()
            out.append(sent_by if b":" in sent_by else sent_by + b":5060")
    return out


_REASON = re.compile(rb"SIP/2\.0 [1-6][0-9]{2} [\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


_TOKEN_RE = re.compile(_TOKEN)


def is_token(text: bytes) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def clean_reason(start: bytes) -> bool:
    """A status line the full path writes back exactly as it came."""
    return _REASON.fullmatch(start) is not None
