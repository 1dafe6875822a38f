"""The load generator's byte scanner: what a UAC or UAS of a call needs to
match a datagram to its call and transaction (RFC 3261 §17.1.3, §17.2.3) and
to see a wrong answer — the start line (status code or method), Call-ID, the
CSeq method, the To tag and the top Via's branch — and nothing else (SIPp's
approach: a generator reads only what it matches on).

Two ways to find the four header values, one way to read them:

- :func:`scan_fast`, the usual shape: one regular expression pass
  (:data:`_LINES`) over the header section collects every line whose name is
  Call-ID, CSeq, To or Via in any spelling, plus every folded line. When the
  names found are exactly the four canonical ones (``Call-ID``, ``CSeq``,
  ``To``, ``Via``, each written so, no compact form, no white space before the
  colon, no folding), the first line of each is the one the general path
  would read. Anything else declines (None).
- :func:`scan_general`, every legal shape: folded lines unfolded (§7.3.1),
  white space before the colon removed (HCOLON, §25.1), names lower-cased and
  compact forms expanded (§7.3.3), the first line of each name read.

Both hand the same raw values to one reader (:func:`_checked`), so the fast
path gives the general path's answer whenever it answers — by construction,
and tests/ua/test_load_wire.py checks it with Hypothesis. What neither reads
raises :class:`SipParseError` (the engines count it as malformed).
"""

from __future__ import annotations

import re

from sipsec.sip import SipParseError

__all__ = ["Scanned", "normalize", "scan", "scan_fast", "scan_general"]

# (status code or method, Call-ID, CSeq method, To tag, top Via branch); the
# last two are b"" when absent.
Scanned = tuple[int | bytes, bytes, bytes, bytes, bytes]

_FOLD = re.compile(rb"[ \t]*\r\n[ \t]+")  # §7.3.1: a folded line is one line
_NAME_SPACE = re.compile(rb"(\r\n[!#-'*+\-.0-9A-Z^-z|~]+)[ \t]+:")  # "Name :" → "Name:"
_TOKEN = re.compile(rb"[!%'*+\-.0-9A-Z_`a-z~]+\Z")  # §25.1 token, for the CSeq method
# A header parameter in any case and spacing, with or without a value.
_TAG = re.compile(rb";[ \t]*tag[ \t]*(?:=([^;]*))?(?=;|\Z)", re.I)
_BRANCH = re.compile(rb";[ \t]*branch[ \t]*(?:=([^;]*))?(?=;|\Z)", re.I)
_METHODS = frozenset((b"INVITE", b"ACK", b"BYE", b"CANCEL", b"OPTIONS", b"REGISTER"))
_LONG = {b"i": b"call-id", b"t": b"to", b"v": b"via", b"m": b"contact"}  # §7.3.3
# A status line in its usual shape (§7.2); other shapes take the long way.
_STATUS = re.compile(rb"SIP/2\.0 ([1-6][0-9][0-9])(?: |\Z)")

# Every header line the scanner reads, whatever its spelling, and every folded
# line: (name as written up to the colon or the line's end, value after the
# colon). A value runs to the CRLF (a lone CR or LF belongs to it, as in the
# general path's split). The name keeps white space before the colon, so only
# the canonical spelling yields a canonical key.
_LINES = re.compile(
    rb"\r\n((?:call-id|cseq|to|via|[itv])[ \t]*(?=:|\r\n)|[ \t])(?::([^\r]*(?:\r(?!\n)[^\r]*)*))?",
    re.I,
)
_CANONICAL = frozenset((b"Call-ID", b"CSeq", b"To", b"Via"))


def normalize(data: bytes) -> bytes:
    """The header section, CRLF-terminated, with folded lines unfolded and
    white space before header colons removed (both legal, both rare)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("no end of the header section")
    head = data[: end + 2]
    # find() rather than "in": the cheaper call, and these run for most datagrams.
    if head.find(b"\r\n ") >= 0 or head.find(b"\r\n\t") >= 0:
        head = _FOLD.sub(b" ", head)
    if head.find(b" :") >= 0 or head.find(b"\t:") >= 0:
        head = _NAME_SPACE.sub(rb"\1:", head)
    return head


def scan(data: bytes) -> Scanned:
    """Classify one datagram; raises :class:`SipParseError` when a field the
    engines match on is unreadable. The fast path inlined: this runs for every
    datagram a generator receives."""
    end = data.find(b"\r\n\r\n") + 2
    if end > 1:
        fields = dict(_LINES.findall(data, 0, end)[::-1])  # reversed: the first line wins
        if fields.keys() == _CANONICAL:
            return _checked(
                data[: data.find(b"\r\n")],
                fields[b"Call-ID"],
                fields[b"CSeq"],
                fields[b"To"],
                fields[b"Via"],
            )
    return scan_general(data)


def scan_fast(data: bytes) -> Scanned | None:
    """:func:`scan`'s fast path alone: its answer, or None where it declines
    (then :func:`scan_general` decides). Raises SipParseError only where the
    general path raises too (the same reader gets the same values)."""
    end = data.find(b"\r\n\r\n") + 2
    if end < 2:
        return None
    fields = dict(_LINES.findall(data, 0, end)[::-1])
    if fields.keys() != _CANONICAL:
        return None
    first = data[: data.find(b"\r\n")]
    return _checked(first, fields[b"Call-ID"], fields[b"CSeq"], fields[b"To"], fields[b"Via"])


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


def _checked(first: bytes, call_id: bytes, cseq_value: bytes, to: bytes, via: bytes) -> Scanned:
    """The scanned fields from the start line and the four header values.
    The usual shapes are read inline (every datagram comes here); the rare
    ones by the helpers, with the same answers."""
    # A status line's code is [1-6][0-9][0-9], 100..699; a request line, or a status
    # line of another shape (accepted, §25.1 is strict), takes the long way.
    status = _STATUS.match(first)
    kind = int(status[1]) if status is not None else _start_line(first)
    call_id = call_id.strip(b" \t")
    if not call_id or b" " in call_id or b"\t" in call_id:
        raise SipParseError("bad Call-ID")
    cseq = cseq_value.split()
    if len(cseq) != 2 or not cseq[0].isdigit():
        raise SipParseError("bad CSeq")
    method = cseq[1]
    if method not in _METHODS and _TOKEN.match(method) is None:
        raise SipParseError("bad CSeq")
    if kind.__class__ is bytes and method != kind:
        raise SipParseError("CSeq method differs from the request method")  # §8.1.1.5
    # The tag is read past the URI's ">": a ";tag=" inside <…> is a URI parameter
    # (§20.10). Usually one ";tag=" and no other mention of the name.
    start = to.rfind(b">") + 1
    found = to.find(b";tag=", start) + 5
    if found > 4 and to.find(b"tag", found) < 0:
        end = to.find(b";", found)
        tag = (to[found:end] if end >= 0 else to[found:]).strip(b" \t")
    elif found < 5 and to.lower().find(b"tag", start) < 0:
        tag = b""  # no tag, as in every request that opens a dialog (§8.1.1.3)
    else:
        tag = _param(to, start, b"tag", _TAG)
    comma = via.find(b",")  # the top Via is the first value of the line
    if comma >= 0:
        via = via[:comma]
    found = via.find(b";branch=") + 8
    if found > 7 and via.find(b"branch", found) < 0:
        end = via.find(b";", found)
        branch = (via[found:end] if end >= 0 else via[found:]).strip(b" \t")
    else:
        branch = _param(via, 0, b"branch", _BRANCH)
    return kind, call_id, method, tag, branch


def _start_line(first: bytes) -> int | bytes:
    """The status code or method of a start line of any legal shape."""
    parts = first.split(None, 2)
    if len(parts) >= 2 and parts[0] == b"SIP/2.0":
        if not (len(parts[1]) == 3 and parts[1].isdigit()):
            raise SipParseError("bad status line")
        code = int(parts[1])
        if not 100 <= code <= 699:
            raise SipParseError("bad status code")
        return code
    if len(parts) == 3 and parts[2] == b"SIP/2.0" and _is_token(parts[0]):
        return parts[0]
    raise SipParseError("bad start line")


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
