"""The fast relay's response path (RFC 3261 §16.7, RFC 6026).

A response is the relay's when its top Via carries the relay's branch
prefix and the relay knows the branch (see :mod:`.relay`). What comes back
from downstream is, in the common call, a response a template reads:
:func:`~.relay_scan.reply_fields` takes the few values step 3 needs from
the one match — the top Via, the CSeq method, From, To and Call-ID to hold
against the request as sent (§8.2.6.2), where the first Via line lies —
and the response goes upstream as the datagram without that line (§16.7
step 3: our Via removed). Everything else is read the general way
(:func:`~.relay_scan.scan_response`), and a shape it does not splice goes
to the parser (:meth:`ReplyPath._parsed_response`), as before; both give
the same answer for a message the fast read takes
(``tests/proxy/test_relay_reply.py`` holds them together).
"""

from __future__ import annotations

from sipsec.sip import Request, SipParseError, parse_message

from . import relay_scan as rs
from . import relay_shapes as sh
from . import relay_splice as sp
from .relay_flow import RelayFlow, echoes
from .relay_shapes import COMMA, NUL, TOKEN_CHARS, remember
from .relay_txn import RelayTxn
from .relay_via import STAND_IN

__all__ = ["PREFIX", "Fields", "ReplyPath", "echoes_values", "reply_fields"]

PREFIX = b"z9hG4bKr."
# the scanner's memos and template lookup, bound once (reply_fields reads them inline)
_STARTS, _CSEQS, _FIND = rs._STARTS, rs._CSEQS, rs._FIND


class ReplyPath(RelayFlow):
    """Responses from downstream into :class:`~.relay_flow.RelayFlow`."""

    _via_head = b""  # our Via's value up to its branch (FastRelay sets it)

    def _response(self, data: bytes, now: float) -> bool:
        if data.find(PREFIX) < 0:  # not ``in``: see relay_shapes.COMMA
            return False  # not ours: no need to look closer
        fields = reply_fields(data)
        if fields is None:
            return self._general_response(data, now)
        status, clean, top, _, cseq_method, from_, to, call_id, begin, end, below = fields
        txn = self._client_of(top)
        if isinstance(txn, bool):  # not ours, or the parser's verdict on our Via
            return self._parsed_response(data, now) if txn else False
        if cseq_method == b"CANCEL":  # the answer to our CANCEL: absorbed
            self.on_response(txn, status, b"CANCEL", fwd=b"", raw=data, now=now)
            return True
        if below is None or below != txn.below:
            # the Via below ours is not the one we sent (§8.2.6.2 copies it):
            # read the rest the general way, which checks it
            return self._general_response(data, now)
        # echoes_values, inline, with the To a response of this branch last
        # carried (its tag checked then) taken as it is
        sent = txn.echo
        if (
            clean
            and from_ == sent[0]
            and call_id == sent[2]
            and (to == sent[1] or to == txn.to_seen or echoes_values(from_, to, call_id, txn))
        ):
            txn.to_seen = to
            # a 100 goes no further (§16.7 step 5); else the datagram without our Via
            fwd = data[:begin] + data[end:] if status != 100 else b""
            if not self.on_response(txn, status, cseq_method, fwd=fwd, raw=data, now=now):
                return False  # a final the parser refuses: the full path's verdict
            self.stats["relay_responses"] += 1
            return True
        return self._parsed_response(data, now)

    def _client_of(self, top: bytes) -> RelayTxn | bool:
        """The client transaction a response's top Via names: False when the
        response is not ours, True when only the parser can say (a Via list,
        or our branch in a Via not exactly as we wrote it)."""
        if COMMA in top:
            return True
        at = top.find(b";branch=")
        if at < 0:
            return False
        branch = top[at + 8 :].partition(b";")[0]
        if not branch.startswith(PREFIX):
            return False
        txn = self.clients.get(branch)
        if txn is None:
            return False
        head = self._via_head  # our Via as we wrote it, up to the branch
        if at == len(head) - 8 and top.startswith(head) and _tail_ok(top[at + len(branch) + 8 :]):
            return txn
        return True

    def _general_response(self, data: bytes, now: float) -> bool:
        """:meth:`_response` for a header block no template reads (yet)."""
        r = rs.scan_response(data)
        if r is not None:
            status, clean, _, lines, via_lines, vals, cseq_method, _ = r
            top = vals[b"via"]
            txn = self._client_of(top)
            if isinstance(txn, bool):
                return self._parsed_response(data, now) if txn else False
            if cseq_method == b"CANCEL":  # the answer to our CANCEL: absorbed
                self.on_response(txn, status, b"CANCEL", fwd=b"", raw=data, now=now)
                return True
            if (
                len(via_lines) > 1
                and clean
                and echoes(vals, txn)
                and rs.lower_vias_ok(lines, via_lines)  # else the parser's verdict
            ):
                fwd = b""  # a 100 goes no further (§16.7 step 5)
                if status != 100:
                    fwd = sp.without_first(data, lines[via_lines[0]])
                if not self.on_response(txn, status, cseq_method, fwd=fwd, raw=data, now=now):
                    return False  # as in _response
                self.stats["relay_responses"] += 1
                return True
        return self._parsed_response(data, now)

    def _parsed_response(self, data: bytes, now: float) -> bool:
        """A response of ours in a shape the scanner does not splice: the
        full path's own steps on the parsed message (§16.7 step 3)."""
        try:
            response = parse_message(data)
            if isinstance(response, Request):
                return False
            via, cseq = response.top_via, response.cseq
        except SipParseError:
            return False
        branch = via.branch.encode() if via is not None and via.branch else b""
        txn = self.clients.get(branch) if branch.startswith(PREFIX) else None
        if txn is None or cseq is None or "To" not in response.headers:
            return False
        if cseq.method == "CANCEL":
            self.on_response(txn, response.status, b"CANCEL", fwd=b"", raw=data, now=now)
            return True
        response.headers.pop_first("Via")
        try:
            if not response.vias:
                return False
        except SipParseError:
            return False
        return self.on_response(
            txn, response.status, cseq.method.encode(), fwd=bytes(response), raw=data, now=now
        )


_TAILS: dict[bytes, bool] = {}  # what follows our branch in our Via → the value is plain
_ANY_HEAD = b"SIP/2.0/UDP 192.0.2.1:5060;branch=" + STAND_IN  # a head in the plain shape


def _tail_ok(tail: bytes) -> bool:
    """Our Via, its head as we wrote it and its branch ours, with ``tail``
    after the branch (a ``received`` or ``rport`` added downstream) is in
    the plain shape the parser accepts. The head and branch are plain, so
    the verdict is the tail's: remembered by it (a peer writes the same
    ``;rport=…;received=…`` every time; bounded like the other memos)."""
    ok = _TAILS.get(tail)
    if ok is None:
        ok = rs.via_values_ok(_ANY_HEAD + tail)
        if len(tail) <= 256:
            remember(_TAILS, tail, ok, 1024)
    return ok


def echoes_values(from_: bytes, to: bytes, call_id: bytes, txn: RelayTxn) -> bool:
    """:func:`~.relay_flow.echoes` on the three values as read."""
    sent_from, sent_to, sent_call_id = txn.echo
    if from_ != sent_from or call_id != sent_call_id:
        return False
    if to == sent_to:
        return True
    tag = to[len(sent_to) + 5 :]  # a token: TOKEN_CHARS only, one at least
    return to.startswith(sent_to + b";tag=") and tag != b"" and not tag.translate(None, TOKEN_CHARS)


# What the relay's response path reads (§16.7): status, whether the status
# line is written back as it came, the top Via value, how many Via lines,
# the CSeq method, From, To and Call-ID as written, where the first Via line
# starts (its CRLF) and ends in the datagram (what step 3 removes), and the
# line after it when that is the only other Via line (else None).
Fields = tuple[int, bool, bytes, int, bytes, bytes, bytes, bytes, int, int, bytes | None]
_PLANNED = (b"via", b"from", b"to", b"call-id", b"cseq", b"content-length")
_OPTIONAL = (b"max-forwards", b"content-type", b"expires")


def _plan(keys: list[bytes]) -> tuple[int, ...]:
    """The index in a template's groups of each value reply_fields reads (-1: none)."""
    return tuple(keys.index(key) if key in keys else -1 for key in _PLANNED + _OPTIONAL)


def reply_fields(data: bytes) -> Fields | None:
    """What :func:`scan_response` reads of a response whose header block a
    template matches, taken from the match alone (no line split, no dict);
    None when no template matches or the message is not plain ASCII, not a
    response, or not one scan_response accepts — the caller then asks
    scan_response, which decides. Tested against it in
    ``tests/proxy/test_relay_reply.py``."""
    head, sep, body = data.partition(b"\r\n\r\n")
    at = head.find(b"\r\n")
    if not sep or at < 0 or NUL in head or not head.isascii():
        return None
    first = _STARTS(head[:at])
    if first is None or first[0] is not None:
        return None
    hit = _FIND(head, at)
    if hit is None:
        return None
    template, m = hit
    plan = template.plan
    if plan is None:
        plan = template.plan = _plan(template.keys)
    g = m.groups()
    via, from_, to, call_id, cseq_at, length_at, mf, ctype, expires = plan
    cseq = _CSEQS(g[cseq_at]) or sh.cseq(g[cseq_at])
    length = g[length_at]
    if cseq is None or not (length.isdigit() and len(length) <= 10) or int(length) != len(body):
        return None
    if mf >= 0 and not (g[mf].isdigit() and len(g[mf]) <= 10 and int(g[mf]) <= 255):
        return None
    if ctype >= 0 and not sh.content_type_ok(g[ctype]):
        return None
    if expires >= 0 and not sh.digits(g[expires]):
        return None
    # The first Via line: from the CRLF before its value to the CRLF after
    # it (a line holds neither, so these are the line's own).
    begin = head.rfind(b"\r\n", 0, m.start(via + 1))
    # A captured value runs possessively to the CR that ends its line (or
    # the block's end), so where it ends is where the line ends.
    end = m.end(via + 1)
    via_lines = template.shape[2]
    below = None
    if len(via_lines) == 2 and via_lines[1] == via_lines[0] + 1:
        after = head.find(b"\r\n", end + 2)
        below = head[end + 2 : after if after >= 0 else len(head)]
    return (
        first[2], first[3], g[via], len(via_lines), cseq[1], g[from_], g[to], g[call_id],
        begin, end, below,
    )  # fmt: skip
