"""The load generator's UAS: answers every INVITE with 100, 180 and 200 and
every BYE with 200, SIPp's ``uas`` scenario (RFC 3261 §13.3, §15.1.2).

Responses are built from the request's own header lines, copied verbatim
(§8.2.6.2: Via, From, To, Call-ID, CSeq; §12.1.1: Record-Route in the 180
and 200), with our To tag added and a Contact. A request is matched to its
call by Call-ID and to its dialog by the To tag: a BYE or ACK carrying
another tag than ours is a wrong answer, counted (a BYE for no dialog gets
481, §12.2.2). The 2xx is retransmitted on Timer G (T1 doubling, capped at
T2) until the ACK (§13.3.1.4), giving up after 64·T1 (Timer H).
"""

from __future__ import annotations

from sipsec.errors import SipsecError

from .load_engine import ANSWERED, CONFIRMED, LINGER, CallSlot, ScenarioConfig, ScenarioEngine
from .load_wire import Address, normalize, reply_headers, scan, with_tag

__all__ = ["UasScenario"]

_LENGTH = b"Content-Length: 0\r\n\r\n"
_REASONS = {481: b"481 Call/Transaction Does Not Exist", 501: b"501 Not Implemented"}


class UasScenario(ScenarioEngine):
    """Answers every INVITE with 100, 180 and 200, and every BYE with 200."""

    def __init__(self, config: ScenarioConfig) -> None:
        super().__init__(config)
        self._contact = b"Contact: <sip:uas@" + self._local + b">\r\n"

    @property
    def finished(self) -> bool:
        return not self._active

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """Feed one datagram; bad input is counted, never raised. A request is
        matched to its call by Call-ID and to its dialog by our To tag; the
        engine's dispatch is inlined here, as this runs for every datagram."""
        stats = self.stats
        try:
            method, call_id, _, to_tag, branch = scan(data)
            if not isinstance(method, bytes):
                stats.unexpected += 1  # a response: this scenario's UAC sends none
                return
            call = self._calls.get(call_id)
            if call is None:
                if method == b"INVITE" and not to_tag:
                    self._answer(data, call_id, branch, source, now)
                    return
            elif method == b"ACK" and to_tag == call.local_tag:
                if call.state == ANSWERED:
                    call.state = CONFIRMED  # §13.3.1.4: Timer G stops
                    self._after(call, now, self._timeout)  # BYE expected before this
                else:
                    stats.duplicates += 1
                return
            elif method == b"BYE" and to_tag == call.local_tag:
                if call.state != LINGER:
                    call.answer = self._reply(normalize(data), b"200 OK", None)
                    call.peer = source
                    self._out.append((call.answer, source))
                    self._finish(call, now, None)
                    return
                if call.answer:
                    stats.duplicates += 1  # our 200 was lost: the same 200 again
                    self._out.append((call.answer, call.peer))
                    return
            elif method == b"INVITE" and branch == call.branch:
                stats.duplicates += 1  # §17.2.1: the last response again
                if call.state == ANSWERED:
                    self._out.append((call.pending, call.peer))
                return
            stats.unexpected += 1  # no call, another dialog's tag, another method
            if method != b"ACK":  # an ACK is never answered (§17.1.1.3)
                # §12.2.2: a request for no dialog we know gets 481; others 501.
                status = 481 if method in (b"BYE", b"CANCEL", b"INVITE") else 501
                reply = self._reply(normalize(data), _REASONS[status], self._next_id())
                self._out.append((reply, source))
        except SipsecError:
            stats.malformed += 1

    def _reply(self, head: bytes, status: bytes, tag: bytes | None) -> bytes:
        """A response copying the request's Via, From, To, Call-ID and CSeq."""
        copied, _, to = reply_headers(head)
        if tag is not None:
            to = with_tag(to, tag)
        return b"SIP/2.0 " + status + b"\r\n" + copied + to + _LENGTH

    def _answer(
        self, data: bytes, call_id: bytes, branch: bytes, source: Address, now: float
    ) -> None:
        copied, routes, to = reply_headers(normalize(data))
        call = self._new_call(call_id)
        call.local_tag = tag = self._next_id()
        call.branch = branch
        call.peer = source  # §18.2.2 over UDP: where it came from (rport)
        stats = self.stats
        stats.calls_started += 1
        if stats.first_start is None:
            stats.first_start = now
        stats.last_start = now
        # The 100 carries no tag and no Record-Route (§8.2.6.1); the 180 and the
        # 200 the same tag (one early dialog, §13.3.1.1) and the route set. The
        # INVITE had no To tag (scan() read it), so the tag is appended.
        if self.config.trying:
            self._out.append((b"SIP/2.0 100 Trying\r\n" + copied + to + _LENGTH, source))
        tail = routes + copied + to[:-2] + b";tag=" + tag + b"\r\n" + self._contact + _LENGTH
        self._out.append((b"SIP/2.0 180 Ringing\r\n" + tail, source))
        call.pending = b"SIP/2.0 200 OK\r\n" + tail
        self._out.append((call.pending, source))
        call.state = ANSWERED
        call.started = now
        call.interval = self._t1
        call.expires = now + self._timeout
        self._after(call, now, self._t1)

    def _on_timer(self, call: CallSlot, now: float) -> None:
        if call.state == LINGER:
            self._free_call(call)
        elif call.state == CONFIRMED:
            self._finish(call, now, "BYE not received")
        elif now >= call.expires:
            self._finish(call, now, "ACK timeout")  # Timer H
        else:
            self._retransmit(call, now, self.config.t2)  # Timer G
