"""The load generator's UAC: places calls at a paced rate, SIPp's ``uac``
scenario (INVITE, 100/180 optional, 200, ACK, BYE, 200; RFC 3261 §13, §15).

Every request is a byte template filled with ``%`` (SIPp's ``[branch]``,
``[call_id]`` keywords): the INVITE once built at start, the ACK and BYE per
call from the 2xx's To line, Contact and Record-Route (§12.1.2, §12.2.1.1).
A response is matched to its call by Call-ID and to its transaction by CSeq
method and top Via branch (§17.1.3); one that matches nothing, or a 2xx
without a To tag or Contact, is counted, never acted on. Over UDP the INVITE
is retransmitted on Timer A (T1 doubling, no cap) until a provisional or
final response, the BYE on Timer E (capped at T2); both give up after
64·T1 (Timers B and F, §17.1.1.2, §17.1.2.2).
"""

from __future__ import annotations

from sipsec.errors import LocalProtocolError, SipsecError

from .load_engine import (
    BYE_SENT,
    CALLING,
    HOLDING,
    LINGER,
    PROCEEDING,
    CallSlot,
    ScenarioConfig,
    ScenarioEngine,
)
from .load_wire import (
    Address,
    contact_uri,
    hop_of,
    normalize,
    reply_headers,
    route_set,
    scan,
    to_value,
)

__all__ = ["UacScenario"]


def _literal(value: bytes) -> bytes:
    """A fixed part of a ``%`` template (a URI may hold a ``%``-escape)."""
    return value.replace(b"%", b"%%")


class UacScenario(ScenarioEngine):
    """Places ``calls`` calls at ``rate`` calls/s to ``config.target``.

    Calls are paced: call *i* starts at ``t0 + i / rate`` (never a burst at
    start); a driver that falls behind starts the overdue calls at once (as
    many as are due at each timer: several per tick at high rates), and the
    measured ``offered_rate`` shows it.
    """

    def __init__(self, config: ScenarioConfig, *, rate: float, calls: int) -> None:
        super().__init__(config)
        if not rate > 0 or calls < 0:
            raise LocalProtocolError("rate must be > 0 and calls >= 0")
        if config.next_hop is None:
            raise LocalProtocolError("a UAC needs next_hop (the proxy or the UAS)")
        self.next_hop: Address = config.next_hop
        self.rate = float(rate)
        self.calls = calls
        self._t0: float | None = None
        self._hops: dict[bytes, Address | None] = {}
        local = _literal(self._local)
        target = _literal(config.target.encode("ascii"))
        via = b"Via: SIP/2.0/UDP " + local + b";branch=%s;rport\r\n"
        from_ = b"From: <sip:load@" + local + b">;tag=%s\r\n"
        # INVITE: (branch, from tag, Call-ID).
        self._invite = (
            b"INVITE " + target + b" SIP/2.0\r\n" + via + b"Max-Forwards: 70\r\n" + from_
            + b"To: <" + target + b">\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
            + b"Contact: <sip:load@" + local + b">\r\nContent-Length: 0\r\n\r\n"
        )  # fmt: skip
        # ACK or BYE in the dialog (§12.2.1.1): (method, Request-URI, branch,
        # the dialog's From, To, Call-ID and Route lines, CSeq).
        self._in_dialog = (
            b"%s %s SIP/2.0\r\n" + via + b"Max-Forwards: 70\r\n%sCSeq: %s\r\n"
            + b"Content-Length: 0\r\n\r\n"
        )  # fmt: skip
        self._from_prefix = b"From: <sip:load@" + self._local + b">;tag="
        # ACK of a non-2xx (§17.1.1.3): the INVITE's URI and branch; (branch,
        # from tag, the response's To line, Call-ID).
        self._failure_ack = (
            b"ACK " + target + b" SIP/2.0\r\n" + via + b"Max-Forwards: 70\r\n" + from_
            + b"%sCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        )  # fmt: skip

    @property
    def finished(self) -> bool:
        return self._t0 is not None and self.stats.calls_started >= self.calls and not self._active

    def start(self, now: float) -> None:
        """The pacing clock starts; the first INVITE goes out at ``now``."""
        if self._t0 is not None:
            raise LocalProtocolError("already started")
        self._t0 = now
        self._start_due(now)

    def get_timer(self) -> float | None:
        deadline = super().get_timer()
        due = self._next_start()
        if due is None:
            return deadline
        return due if deadline is None else min(due, deadline)

    def handle_timer(self, now: float) -> None:
        super().handle_timer(now)
        self._start_due(now)

    def _next_start(self) -> float | None:
        started = self.stats.calls_started
        if self._t0 is None or started >= self.calls:
            return None
        limit = self.config.max_concurrent
        if limit is not None and self._active >= limit:
            return None  # a call's end (a timer or a response) makes room
        return self._t0 + started / self.rate

    def _start_due(self, now: float) -> None:
        due = self._next_start()
        while due is not None and due <= now:
            self._place(now)
            due = self._next_start()

    def _place(self, now: float) -> None:
        ident = self._next_id()
        call = self._new_call(ident)
        call.local_tag = ident
        call.branch = b"z9hG4bK" + ident
        call.pending = self._invite % (call.branch, ident, ident)
        call.peer = self.next_hop
        call.state = CALLING
        call.started = now
        call.interval = self._t1
        call.expires = now + self._timeout
        self._out.append((call.pending, call.peer))
        stats = self.stats
        stats.calls_started += 1
        if stats.first_start is None:
            stats.first_start = now
        stats.last_start = now
        self._after(call, now, self._t1)

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """Feed one datagram; bad input is counted, never raised. A response is
        matched to its call by Call-ID, to its transaction by CSeq method and
        top Via branch (§17.1.3); the engine's dispatch is inlined here, as
        this runs for every datagram."""
        stats = self.stats
        try:
            status, call_id, method, to_tag, branch = scan(data)
            if isinstance(status, bytes):
                stats.unexpected += 1  # a request: this scenario's UAS sends none
                return
            call = self._calls.get(call_id)
            if call is None:
                stats.unexpected += 1  # no call of ours (or one long over)
            elif branch == call.branch and method == b"INVITE":
                state = call.state
                if state < HOLDING:  # CALLING or PROCEEDING (the order of the flow)
                    if status < 200:
                        call.state = PROCEEDING  # §17.1.1.2: no more retransmissions
                    elif status < 300:
                        self._answered(call, data, to_tag, now)
                    else:
                        self._ack_failure(call, data)
                        self._finish(call, now, f"INVITE {status}")
                elif status >= 200 and call.answer and (status >= 300 or to_tag == call.remote_tag):
                    # The final response again: our ACK was lost. A 2xx gets the same
                    # end-to-end ACK (§13.2.2.4), a non-2xx the same hop-by-hop ACK
                    # (§17.1.1.2, Completed state).
                    stats.duplicates += 1
                    self._out.append((call.answer, call.peer))
                elif status < 200:
                    stats.duplicates += 1  # a provisional after the final one
                else:
                    stats.unexpected += 1  # a 2xx of another dialog (forking is not ours)
            elif branch == call.bye_branch and method == b"BYE" and branch:
                if to_tag != call.remote_tag:
                    stats.unexpected += 1  # not from the dialog's peer (§12.2.1.2)
                elif call.state == BYE_SENT and status >= 200:
                    self._finish(call, now, None if status < 300 else f"BYE {status}")
                else:
                    stats.duplicates += 1  # a provisional, or the final one again
            else:
                stats.unexpected += 1  # a CSeq method or branch we never sent
        except SipsecError:
            stats.malformed += 1

    def _answered(self, call: CallSlot, data: bytes, to_tag: bytes, now: float) -> None:
        """2xx: ACK it end to end and, after the hold time, hang up (§13.2.2.4)."""
        self.stats.latencies.append(now - call.started)
        if not to_tag:
            self._finish(call, now, "INVITE 2xx without To tag")  # §8.2.6.2: UAS MUST add
            return
        call.remote_tag = to_tag
        head = normalize(data)
        target = contact_uri(head)
        if target is None:
            self._finish(call, now, "INVITE 2xx without Contact")  # §12.1.1: MUST have
            return
        routes = route_set(head)
        # Loose routing (§12.2.1.1): the first route, else the remote target.
        hop = self._hop(routes[0] if routes else target)
        if hop is None or (routes and self._hop(target) is None):
            self._finish(call, now, "INVITE 2xx with a non-SIP Contact or route")
            return
        call.peer = hop
        # The dialog's lines of the ACK and the BYE: From (our tag), To (the
        # remote tag), Call-ID, the route set (§12.2.1.1).
        ident = call.local_tag
        dialog = (
            self._from_prefix + ident + b"\r\nTo: " + (to_value(head) or b"")
            + b"\r\nCall-ID: " + ident + b"\r\n"
            + b"".join([b"Route: <" + uri + b">\r\n" for uri in routes])
        )  # fmt: skip
        call.answer = self._in_dialog % (b"ACK", target, b"z9hG4bKa" + ident, dialog, b"1 ACK")
        call.bye_branch = b"z9hG4bKb" + ident
        call.bye = self._in_dialog % (b"BYE", target, call.bye_branch, dialog, b"2 BYE")
        self._out.append((call.answer, hop))
        call.state = HOLDING
        if self.config.hold > 0:
            self._after(call, now, self.config.hold)
        else:
            self._bye(call, now)

    def _hop(self, uri: bytes) -> Address | None:
        """:func:`hop_of`, remembered by scheme, user and host:port: every call
        of a run has the same Contact and route set but for parameters (a
        proxy's Record-Route carries the call's ``ftag``), and reading an IP
        address is not cheap."""
        end = uri.find(b";", uri.find(b"@") + 1)  # a user part may hold ';'
        key = uri if end < 0 else uri[:end]
        hops = self._hops
        if key not in hops:
            if len(hops) >= 1024:
                hops.clear()
            hops[key] = hop_of(uri, self.next_hop)
        return hops[key]

    def _bye(self, call: CallSlot, now: float) -> None:
        call.pending, call.bye = call.bye, b""
        call.state = BYE_SENT
        call.interval = self._t1
        call.expires = now + self._timeout
        self._out.append((call.pending, call.peer))
        self._after(call, now, self._t1)

    def _ack_failure(self, call: CallSlot, data: bytes) -> None:
        """§17.1.1.3: the ACK of a non-2xx has the INVITE's branch, URI and Via,
        and the response's To (its tag)."""
        to_line = reply_headers(normalize(data))[2]
        ident = call.local_tag
        call.answer = self._failure_ack % (call.branch, ident, to_line, ident)
        call.peer = self.next_hop
        self._out.append((call.answer, call.peer))

    def _on_timer(self, call: CallSlot, now: float) -> None:
        state = call.state
        if state == LINGER:
            self._free_call(call)
        elif state == HOLDING:
            self._bye(call, now)
        elif now >= call.expires:
            self._finish(call, now, "INVITE timeout" if state != BYE_SENT else "BYE timeout")
        elif state == CALLING:
            self._retransmit(call, now, None)  # Timer A: no cap
        elif state == BYE_SENT:
            self._retransmit(call, now, self.config.t2)  # Timer E
        else:  # PROCEEDING: waiting for the final response until Timer B's time
            self._at(call, call.expires)
