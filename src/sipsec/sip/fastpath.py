"""The usual shape of a SIP message, parsed in one pass (RFC 3261 §7, §18.3).

:func:`parse_common` (and :func:`parse_usual`, which
:func:`sipsec.sip.parse_message` calls) is what parsing tries first. It
walks the header lines once, parses the headers every element needs as it
meets them, and builds exactly the objects the full parser in
:mod:`sipsec.sip.parser` builds. It never decides that a message is bad: at
the first thing out of the ordinary (leading CRLFs, a header name that is
not a plain token, a value that is not in its common form — ``%`` escapes,
quoted-pairs, a password, URI headers, extra LWS inside —, a bare CR or
LF, a repeated From, To, Call-ID, CSeq, Max-Forwards or Content-Length, a
CSeq method that is not the request's …) it gives up and the full parser
takes the message from the start, so every verdict and every error stays
that parser's. What this accepts is a subset of what that accepts, and
equal objects come out: ``tests/sip/test_fastpath.py`` checks both side by
side on the RFC corpora, on Hypothesis mutations of them and on generated
messages. The value patterns and builders are in :mod:`.fastvalues`.

Why a second path rather than a faster general one: in CPython the cost is
the number of interpreted steps per header line, and the general code pays
for its generality on every line. Here a line costs a ``partition`` at
``": "``, a table look-up and, for the eight eager headers, one small
pattern whose groups become the objects directly (CSeq, Max-Forwards and
Content-Length need no pattern; their usual numbers are looked up in
:data:`.fastvalues.NUMBERS` rather than converted). An eager value is not
stripped: its check refuses LWS around it, which is rare, and then that
line is walked again with its value stripped. A bare CR or LF is refused
where each line is read (the patterns exclude both; other values are
checked), not by a scan of the whole head. The lines are walked from the last one up, so that a
continuation line (§7.3.1) is met before the line it continues: folds cost
nothing until there is one, where finding them first costs every message a
scan. The single From, To, Contact and Via values are built in the loop
itself: a Python call per header is a tenth of what the header costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from .errors import SipParseError
from .fastvalues import (
    CALL_ID,
    MAX_CSEQ,
    MAX_FORWARDS,
    NAME_ADDR,
    NUMBERS,
    REQUEST_LINE,
    TOKEN,
    TRANSPORTS,
    VIA,
    Unusual,
    contacts,
    status_line,
    vias,
)
from .fields import CSeq, NameAddress
from .headers import _KEYS, Entry, Headers, _key
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

__all__ = ["UNUSUAL", "parse_common", "parse_usual"]

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
_new = object.__new__
NUMBER = NUMBERS.get


def _other(name: str) -> tuple[str, int | None]:
    # Names with LWS before the colon, bad names: not here.
    if TOKEN.fullmatch(name) is None:
        raise Unusual
    key = _key(name)
    return key, _EAGER.get(key)


def _odd(text: str) -> tuple[str, str, str, tuple[str, int | None]]:
    """A line that is not "Name: value" with a name of the table: split at
    its colon ("Name:value"), the name checked; name, colon, value, and the
    name's (key, kind)."""
    name, sep, value = text.partition(":")
    known = _SPELLINGS.get(name)
    if known is None:
        known = _other(name)
    if not sep:  # §7.3: no colon, not a header (a known name alone too)
        raise Unusual
    return name, sep, value, known


def _folded(last: str, lines: Iterator[str]) -> tuple[str, str, str, str, tuple[str, int | None]]:
    """The header that continuation line ``last`` ends (§7.3.1): the
    lines above it taken from ``lines`` (walked last first) up to the line
    they continue; its wire text, then the unfolded line split as the loop
    splits one."""
    below = [last]
    for line in lines:
        if line[0] not in " \t":
            break
        below.append(line)
    else:  # a continuation line before any header
        raise Unusual
    text, wire = _unfold(line, below)
    name, sep, value = text.partition(": ")
    known = _SPELLINGS.get(name)
    if known is None:
        name, sep, value, known = _odd(text)
    return wire, name, sep, value, known


def _unfold(line: str, below: list[str]) -> tuple[str, str]:
    """``line`` with its continuation lines (``below``, last first) as the
    full parser unfolds it (§7.3.1: pieces stripped and joined by one SP;
    the value is stripped once more after), and its wire text."""
    below.reverse()
    wire = "\r\n".join([line, *below])
    for piece in below:
        line = line.rstrip(" \t") + " " + piece.strip(" \t")
    return line, wire


def _message(data: bytes, datagram: bool) -> Request | Response:
    if len(data) > MAX_MESSAGE_SIZE:
        raise Unusual
    end = data.find(b"\r\n\r\n")
    if end <= 0 or end > MAX_LINE_LENGTH:  # then no line can be too long
        raise Unusual
    head = data[:end].decode()  # UTF-8 (naming it costs a look-up)
    lines = head.split("\r\n")
    # Every line break is a CRLF (§7.5): a bare CR or LF left in a line is
    # refused where the line is read (the start line's pattern, each eager
    # value's, a check on every other value), not by a scan of its own.
    # Other line boundaries (VT, FF, U+2028 …) stay in their line, as the
    # full parser leaves them.
    if not 1 < len(lines) <= MAX_HEADERS + 1:
        raise Unusual
    first = lines[0]
    message: Request | Response
    if first.startswith("SIP/2.0 "):
        message = status_line(first)
        request_method = None
    else:
        m = REQUEST_LINE(first)
        if m is None:
            raise Unusual
        message = _new(Request)
        message._method = request_method = m[1]
        # Checked; built when first read (Request.uri) from the match: a
        # proxy forwarding on its Route set or a UA matching a transaction
        # often never needs it.
        message._uri = None  # type: ignore[assignment]
        message._uri_parts = m
    del lines[0]
    cache: dict[str, Any] = {}
    spelling = _SPELLINGS.get
    entries: list[Entry] = []
    append = entries.append
    length: int | None = None  # Content-Length
    cseq: CSeq | None = None
    walk: Iterator[str] = reversed(lines)
    line = ""
    restripped: list[tuple[int, str]] = []  # lines walked again: (entry, wire text)
    while True:  # once, unless a line is walked again (below)
        try:
            for line in walk:
                # "Name: value" is how nearly every element writes a header: split
                # there, and the value has no more LWS around it.
                name, sep, value = line.partition(": ")
                known = spelling(name)
                if known is None:  # "Name:value", unknown names, continuation lines …
                    # (No line is empty: the head ends at the first CRLFCRLF.)
                    if (
                        line[0] in " \t"
                    ):  # a fold, met from its last line: line becomes its wire text
                        line, name, sep, value, known = _folded(line, walk)
                    else:
                        name, sep, value, known = _odd(line)
                key, kind = known
                if kind is None:
                    value = value.strip(" \t")
                    # §7.3: no colon, not a header ("Subject" alone); a bare CR or LF.
                    if not sep or "\r" in value or "\n" in value:
                        raise Unusual
                    append((key, name, value, line))
                    continue
                # An eager value is not stripped: every check below refuses LWS
                # around it (no pattern starts or ends with LWS; vias() and
                # contacts() refuse it too), so an accepted value is its own strip().
                # (An eager header without a colon has an empty value, which every
                # check below refuses.)
                append((key, name, value, line))
                # Call-ID, CSeq, Max-Forwards, Content-Length: one each (a second
                # one is refused: RFC 4475 §3.3.8, §3.3.9 are the full parser's).
                if kind >= 3:
                    if kind == 3:
                        if key in cache or CALL_ID(value) is None:
                            raise Unusual
                        cache[key] = value
                    elif kind == 4:
                        if cseq is not None:
                            raise Unusual
                        seq, _, method = value.partition(" ")
                        # A request's method is a token already: being equal to it is enough.
                        if method != request_method and (
                            request_method is not None or TOKEN.fullmatch(method) is None
                        ):
                            raise Unusual
                        number = NUMBER(seq)
                        if number is None:
                            if not (seq.isdigit() and seq.isascii() and len(seq) <= 10):
                                raise Unusual
                            number = int(seq)
                            if number > MAX_CSEQ:  # §20.16: 32 bits
                                raise Unusual
                        cseq = _new(CSeq)
                        cseq.seq = number
                        cseq.method = method
                        cache[key] = cseq
                    elif kind == 5:  # Max-Forwards
                        hops = MAX_FORWARDS.get(value)
                        if hops is None or key in cache:
                            raise Unusual
                        cache[key] = hops
                    else:  # Content-Length: ASCII digits only.
                        if length is not None:
                            raise Unusual
                        number = NUMBER(value)
                        if number is None:
                            if not (value.isdigit() and value.isascii() and len(value) <= 10):
                                raise Unusual
                            number = int(value)
                            if number > MAX_BODY_SIZE:
                                raise Unusual
                        cache[key] = length = number
                elif kind == 0:  # Via: a list
                    m = VIA(value)
                    if m is None:
                        found = vias(value)
                    else:  # fastvalues.via(), inlined
                        transport, host, port, branch, received, ptext = m.groups()
                        via: Via = _new(Via)
                        via.protocol = "SIP"
                        via.version = "2.0"
                        via.transport = TRANSPORTS.get(transport) or transport.upper()
                        via.host = host
                        if port is None:
                            via.port = None
                        else:
                            number = NUMBER(port)
                            if number is None:
                                number = int(port)
                                if number > 65535:
                                    raise Unusual
                            via.port = number
                        if branch is not None:
                            if received is None:
                                via.params = {"branch": branch}
                            else:
                                via.params = {"branch": branch, "received": received}
                        elif ptext is None:
                            via.params = {}
                        else:
                            via.params = _split_simple(ptext)
                        via._raw = value
                        found = [via]
                    cache[key] = found + cache[key] if key in cache else found
                elif kind == 1 or "," not in value:  # From, To, one Contact
                    # fastvalues.name_address(), inlined.
                    m = NAME_ADDR(value)
                    if m is None:
                        raise Unusual
                    quoted_name, token_name, uri_text, s, user, host, port, ptext, tag, hparams = (
                        m.groups()
                    )
                    uri: SipUri = _new(SipUri)
                    uri.scheme = "sip" if s is None else "sips"
                    uri.user = user
                    uri.password = None
                    uri.host = host
                    if port is None:
                        uri.port = None
                    else:
                        number = NUMBER(port)
                        if number is None:
                            number = int(port)
                            if number > 65535:
                                raise Unusual
                        uri.port = number
                    uri._ptext = ptext
                    uri._params = None
                    uri._headers = None
                    uri._raw = uri_text
                    na: NameAddress = _new(NameAddress)
                    na.uri = uri
                    na.display_name = token_name if quoted_name is None else quoted_name
                    if tag is not None:
                        na.params = {"tag": tag}
                    elif hparams is None:
                        na.params = {}
                    else:
                        na.params = _split_simple(hparams)
                    na._raw = value
                    if kind == 2:
                        cache[key] = [na, *cache[key]] if key in cache else [na]
                    elif (
                        key in cache
                    ):  # the full parser keeps the first; validate_request reports it
                        raise Unusual
                    else:
                        cache[key] = na
                else:  # several Contacts on one line
                    found_contacts = contacts(value)
                    cache[key] = found_contacts + cache[key] if key in cache else found_contacts
            break
        except Unusual:
            # LWS around an eager value, refused by its check (every check
            # refuses it, and nothing is stored before a refusal): that line
            # again, written "Name:value" with the value stripped (split at
            # its first colon however the value reads: no spelling in the
            # table has a colon), its wire text put back after the walk.
            # Anything else is the full parser's.
            if not entries or entries[-1][3] is not line:  # not refused after its entry
                raise
            key, name, value, _ = entries[-1]
            stripped = value.strip(" \t")
            if stripped == value:
                raise
            del entries[-1]
            restripped.append((len(entries), line))
            walk = chain([f"{name}:{stripped}"], walk)
    for i, wire in restripped:
        key, name, value, _ = entries[i]
        entries[i] = (key, name, value, wire)
    entries.reverse()
    body_start = end + 4
    if length is None:
        if not datagram:
            raise Unusual
        stop = len(data)
    else:
        stop = body_start + length
        if stop > len(data):
            raise Unusual
    if cseq is None and request_method is not None:
        cache["cseq"] = None  # as Request._validate leaves it: read, absent
    headers: Headers = _new(Headers)
    headers._entries = entries
    headers._cache = cache
    headers.modified = False
    message.headers = headers
    message._body = data[body_start:stop]
    message._raw = data[:stop]
    return message


#: What :func:`parse_usual` raises for a message it leaves to the full parser.
UNUSUAL = (Unusual, UnicodeDecodeError, SipParseError)
#: ``parse_usual(data, datagram)``: the message, or one of :data:`UNUSUAL`
#: (parse_message calls it directly: one Python call less per datagram).
parse_usual = _message


def parse_common(data: bytes, datagram: bool = True) -> Request | Response | None:
    """The message, when ``data`` has the usual shape; None otherwise."""
    try:
        return _message(data, datagram)
    except UNUSUAL:
        return None
