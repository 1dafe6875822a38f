"""Sans-IO call generator scenarios, in the spirit of SIPp's built-in ``uac``
and ``uas``: INVITE–100–180–200–ACK–BYE–200 (RFC 3261 §13, §15, §17).

Lean on purpose, like SIPp: no transaction layer, no dialog objects. Each
call lives in one slot (a small ``__slots__`` object, reused through a free
list) found by its Call-ID; datagrams are matched by their start line,
Call-ID and CSeq and parsed in full only when the engine must read them; the
INVITE is a template built once with :class:`~sipsec.sip.Request`, the BYE is
derived from the ACK's bytes, the 180 from the 200's. Retransmissions over
UDP follow §17 (INVITE: T1 doubling with no cap, Timer A; BYE: T1 doubling
capped at T2, Timer E; the UAS's 2xx: Timer G until the ACK, §13.3.1.4), and
every call gives up after 64·T1 (Timers B, F, H). The engines are driven like every sipsec core::

    uac = UacScenario(config, rate=2000, calls=20000)
    uac.start(now)
    uac.receive(datagram, source, now)   # never raises for any bytes
    uac.handle_timer(now)                # when now >= uac.get_timer()
    for data, address in uac.datagrams_to_send(): ...
    uac.finished, uac.stats              # LoadStats, merged across processes

Calls are paced: call *i* starts at ``t0 + i / rate`` (never a burst at
start); a driver that falls behind starts the overdue calls at once, and the
measured ``offered_rate`` shows it.
"""

from __future__ import annotations

from sipsec.errors import LocalProtocolError
from sipsec.sip import (
    Request,
    Response,
    SipUri,
    generate_branch,
    generate_call_id,
    make_response,
)

from .load_engine import (
    ANSWERED,
    BYE_SENT,
    CALLING,
    CONFIRMED,
    HOLDING,
    LINGER,
    PROCEEDING,
    Address,
    CallSlot,
    ScenarioConfig,
    ScenarioEngine,
    address_of,
    parse_as,
)
from .load_stats import LoadStats, percentile

__all__ = ["Address", "LoadStats", "ScenarioConfig", "UacScenario", "UasScenario", "percentile"]

# Markers in the INVITE template: tokens no URI or tag of ours contains.
_MARK = ("z9hG4bKmarkbranch0", "marktag1", "markcallid2")


class UacScenario(ScenarioEngine):
    """Places ``calls`` calls at ``rate`` calls/s to ``config.target``."""

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
        self._from = f"<sip:load@{self._local}>"
        self._contact = f"<sip:load@{self._local}>"
        self._to = f"<{config.target}>"
        self._template = self._invite_template()
        # A branch-shaped marker no peer can guess, replaced in each ACK and BYE.
        self._ack_mark = f"z9hG4bK{config.new_id()}{config.new_id()}"

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
            self._invite(now)
            due = self._next_start()

    def _invite_template(self) -> bytes:
        """The INVITE, built once with :class:`Request` around three markers and
        then filled per call by ``%`` (SIPp's ``[branch]``, ``[call_id]``
        keywords): an order of magnitude cheaper than building each INVITE."""
        invite = Request(
            "INVITE",
            self.config.target,
            [
                ("Via", f"SIP/2.0/UDP {self._local};branch={_MARK[0]};rport"),
                ("Max-Forwards", "70"),
                ("From", f"{self._from};tag={_MARK[1]}"),
                ("To", self._to),
                ("Call-ID", _MARK[2]),
                ("CSeq", "1 INVITE"),
                ("Contact", self._contact),
                ("Content-Length", "0"),
            ],
        )
        template = bytes(invite).replace(b"%", b"%%")
        for mark in _MARK:
            if template.count(mark.encode()) != 1:
                raise LocalProtocolError(f"the target must not contain {mark!r}")
            template = template.replace(mark.encode(), b"%s")
        return template

    def _invite(self, now: float) -> None:
        config = self.config
        call = self._new_call(generate_call_id())
        call.local_tag = config.new_id()
        branch = generate_branch()
        call.pending = self._template % (
            branch.encode(),
            call.local_tag.encode(),
            call.call_id.encode(),
        )
        call.peer = self.next_hop
        call.state = CALLING
        call.started = now
        call.interval = config.t1
        call.expires = now + config.timeout
        self._out.append((call.pending, call.peer))
        stats = self.stats
        stats.calls_started += 1
        if stats.first_start is None:
            stats.first_start = now
        stats.last_start = now
        self._arm(call, now + config.t1)

    def _on_response(self, data: bytes, status: int, call_id: str, method: str, now: float) -> None:
        call = self._calls.get(call_id)
        if call is None:
            self.stats.unexpected += 1
            return
        state = call.state
        if method == "INVITE" and state in (CALLING, PROCEEDING):
            if status < 200:
                call.state = PROCEEDING  # §17.1.1.2: no more retransmissions
                self._arm(call, call.expires)
            elif status < 300:
                self._answered(call, parse_as(data, Response), now)
            else:
                self._ack_failure(call, parse_as(data, Response))
                self._finish(call, now, f"INVITE {status}")
        elif method == "INVITE" and status >= 200 and state in (HOLDING, BYE_SENT, LINGER):
            # The final response again: our ACK was lost. A 2xx gets the same
            # end-to-end ACK (§13.2.2.4), a non-2xx the same hop-by-hop ACK
            # (§17.1.1.2, Completed state).
            self.stats.duplicates += 1
            if call.answer:
                self._out.append((call.answer, call.peer))
        elif method == "BYE" and state == BYE_SENT and status >= 200:
            self._finish(call, now, None if status < 300 else f"BYE {status}")
        elif method in ("BYE", "INVITE"):
            self.stats.duplicates += 1  # a provisional or final seen before
        else:
            self.stats.unexpected += 1

    def _answered(self, call: CallSlot, response: Response, now: float) -> None:
        """2xx: ACK it end to end and, after the hold time, hang up (§13.2.2.4)."""
        self.stats.latencies.append(now - call.started)
        to = response.to
        contacts = response.contacts
        if to is None or to.tag is None or not contacts or contacts[0].uri is None:
            self._finish(call, now, "INVITE 2xx without To tag or Contact")
            return
        target = contacts[0].uri
        route_set = list(reversed(response.record_routes))  # §12.1.2
        routes = [str(route) for route in route_set]
        # Loose routing (§12.2.1.1): the first route, else the remote target.
        hop_uri = route_set[0].uri if route_set else target
        if not isinstance(hop_uri, SipUri) or not isinstance(target, SipUri):
            self._finish(call, now, "INVITE 2xx with a non-SIP Contact")
            return
        call.peer = address_of(hop_uri, self.next_hop)
        headers = [
            ("Max-Forwards", "70"),
            ("From", f"{self._from};tag={call.local_tag}"),
            ("To", str(to)),
            ("Call-ID", call.call_id),
        ] + [("Route", r) for r in routes]
        mark = self._ack_mark
        ack = Request(
            "ACK",
            target,
            [("Via", self._via(mark)), *headers, ("CSeq", "1 ACK"), ("Content-Length", "0")],
        )
        # The BYE differs from the ACK only in method, CSeq and branch (§12.2.1.1):
        # one Request built per call, the BYE derived from its bytes.
        data = bytes(ack)
        bye = b"BYE" + data[3:].replace(b"\r\nCSeq: 1 ACK\r\n", b"\r\nCSeq: 2 BYE\r\n", 1)
        if data.count(mark.encode()) != 1 or b"CSeq: 2 BYE" not in bye:  # pragma: no cover
            raise LocalProtocolError("ACK template did not serialize as expected")
        call.answer = data.replace(mark.encode(), generate_branch().encode())
        call.bye = bye.replace(mark.encode(), generate_branch().encode())
        self._out.append((call.answer, call.peer))
        call.state = HOLDING
        if self.config.hold > 0:
            self._arm(call, now + self.config.hold)
        else:
            self._bye(call, now)

    def _via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self._local};branch={branch};rport"

    def _bye(self, call: CallSlot, now: float) -> None:
        call.pending, call.bye = call.bye, b""
        call.state = BYE_SENT
        call.interval = self.config.t1
        call.expires = now + self.config.timeout
        self._out.append((call.pending, call.peer))
        self._arm(call, now + self.config.t1)

    def _ack_failure(self, call: CallSlot, response: Response) -> None:
        """§17.1.1.3: the ACK of a non-2xx has the INVITE's branch, URI and Via."""
        invite = parse_as(call.pending, Request)  # rare: the INVITE, parsed back
        headers = [
            (name, value)
            for name, value in invite.headers
            if name.lower() in ("via", "from", "call-id", "max-forwards")
        ]
        to = response.headers.get("To") or self._to
        ack = Request(
            "ACK", invite.uri, [*headers, ("To", to), ("CSeq", "1 ACK"), ("Content-Length", "0")]
        )
        call.answer = bytes(ack)
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
            self._arm(call, call.expires)


class UasScenario(ScenarioEngine):
    """Answers every INVITE with 100, 180 and 200, and every BYE with 200."""

    def __init__(self, config: ScenarioConfig) -> None:
        super().__init__(config)
        self._contact = f"<sip:uas@{self._local}>"

    @property
    def finished(self) -> bool:
        return not self._active

    def _on_request(
        self, data: bytes, method: str, call_id: str, source: Address, now: float
    ) -> None:
        call = self._calls.get(call_id)
        stats = self.stats
        if method == "INVITE" and call is None:
            self._answer(parse_as(data, Request), call_id, source, now)
        elif method == "INVITE" and call is not None:
            stats.duplicates += 1  # §17.2.1: the last response again
            if call.state == ANSWERED:
                self._out.append((call.pending, call.peer))
        elif method == "ACK" and call is not None and call.state == ANSWERED:
            call.state = CONFIRMED  # §13.3.1.4: Timer G stops
            self._arm(call, now + self.config.timeout)  # BYE expected before this
        elif method == "ACK":
            stats.duplicates += 1
        elif method == "BYE" and call is not None and call.state in (ANSWERED, CONFIRMED):
            call.answer = bytes(make_response(parse_as(data, Request), 200))
            call.peer = source
            self._out.append((call.answer, source))
            self._finish(call, now, None)
        elif method == "BYE" and call is not None and call.answer:
            stats.duplicates += 1  # our 200 was lost: the same 200 again
            self._out.append((call.answer, call.peer))
        elif method != "ACK":
            # §12.2.2: a request for no dialog we know gets 481; others 501.
            status = 481 if method in ("BYE", "CANCEL") else 501
            stats.unexpected += 1
            self._out.append((bytes(make_response(parse_as(data, Request), status)), source))

    def _answer(self, invite: Request, call_id: str, source: Address, now: float) -> None:
        call = self._new_call(call_id)
        call.local_tag = self.config.new_id()
        call.peer = source  # §18.2.2 over UDP: where it came from (rport)
        stats = self.stats
        stats.calls_started += 1
        if stats.first_start is None:
            stats.first_start = now
        stats.last_start = now
        self._out.append((bytes(make_response(invite, 100)), source))
        ok = make_response(invite, 200, to_tag=call.local_tag)
        for value in invite.headers.get_lines("Record-Route"):  # §12.1.1: copied
            ok.headers.add("Record-Route", value)
        ok.headers.add("Contact", self._contact)
        data = bytes(ok)
        # The 180 carries the same headers (the early dialog's tag, §13.3.1.1).
        self._out.append((b"SIP/2.0 180 Ringing" + data[len(b"SIP/2.0 200 OK") :], source))
        self._out.append((data, source))
        call.pending = data
        call.state = ANSWERED
        call.started = now
        call.interval = self.config.t1
        call.expires = now + self.config.timeout
        self._arm(call, now + self.config.t1)

    def _on_timer(self, call: CallSlot, now: float) -> None:
        if call.state == LINGER:
            self._free_call(call)
        elif call.state == CONFIRMED:
            self._finish(call, now, "BYE not received")
        elif now >= call.expires:
            self._finish(call, now, "ACK timeout")  # Timer H
        else:
            self._retransmit(call, now, self.config.t2)  # Timer G
