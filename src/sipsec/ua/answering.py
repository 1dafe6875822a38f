"""Answering an INVITE as the UAS (RFC 3261 §13.3): a new call and its
early dialog, the application's 1xx / 2xx / rejection, the provisional
resent about every minute while the call rings or a re-INVITE waits for
its answer (§13.3.1.1), the 2xx resent until its ACK (§13.3.1.4), and the
ACK itself. What a re-INVITE answer shares with it
(:meth:`AnswerMixin.answer`) is here too; dispatching requests, CANCEL and
BYE are in :mod:`.uas`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sipsec.dialog import Dialog
from sipsec.errors import LocalProtocolError
from sipsec.sip import Request, Response, SipUri, generate_tag
from sipsec.transaction import Peer

from .addressing import contact_uri
from .base import TimerKey
from .call import Call, CallState, _Answer, _IncomingReinvite
from .config import ALLOWED_METHODS
from .events import CallConfirmed, IncomingCall
from .options import OptionsMixin

__all__ = ["AnswerMixin"]


class AnswerMixin(OptionsMixin):
    """An incoming INVITE from its arrival to its ACK."""

    def _allow(self) -> tuple[str, str]:
        return ("Allow", ", ".join(ALLOWED_METHODS))

    # -- a new call (§13.3) --------------------------------------------------------------
    def _merged(self, request: Request, transaction_id: int) -> bool:
        """§8.2.2.2: the same INVITE reached us twice by different paths."""
        from_, cseq = request.from_, request.cseq
        for tid, call in self._server_calls.items():
            other = call.request
            if (
                tid != transaction_id
                and call.incoming
                and other is not request
                and other.call_id == request.call_id
                and other.from_ is not None
                and from_ is not None
                and other.from_.tag == from_.tag
                and other.cseq == cseq
            ):
                return True
        return False

    def _new_call(self, transaction_id: int, request: Request, source: object, now: float) -> None:
        if self._merged(request, transaction_id):
            self._respond(transaction_id, request, 482, now)
            return
        peer = source if isinstance(source, Peer) else None
        transport = peer.transport if peer is not None else "udp"
        local = self.config.contact.get(transport)
        if local is None:
            local = next(iter(self.config.contact.values()), None)
        if local is None:
            raise LocalProtocolError("no local address to put in a Contact", 500)
        secure = isinstance(request.uri, SipUri) and request.uri.secure
        if secure and transport != "tls":
            raise LocalProtocolError("a sips: request that did not come over TLS", 480)
        target = contact_uri(self.config.aor_uri.user, transport, local, secure=secure)
        tag = generate_tag()
        dialog = Dialog.from_uas_request(request, tag, local_target=target)
        call_id = request.call_id
        assert call_id is not None
        call = Call(call_id, tag, request, incoming=True, state=CallState.INCOMING, dialog=dialog)
        call.source = peer
        call.invite_transaction_id = transaction_id
        call.take_body(request)
        self.dialogs.add(dialog)
        self._call_of[dialog.id] = call
        call.dialog_ids.append(dialog.id)
        self._server_calls[transaction_id] = call
        self._count("calls_in")
        self._emit(IncomingCall(call, request))
        if self.config.answer_timeout is not None:
            self._set_timer(
                ("unanswered", id(call)),
                now + self.config.answer_timeout,
                lambda t: self._not_answered(call, t),
            )

    def _not_answered(self, call: Call, now: float) -> None:
        """Nobody answered in time: 480 (§21.4.18), so that neither the
        caller nor our INVITE server transaction waits for ever."""
        if call.state in (CallState.INCOMING, CallState.RINGING):
            self._refuse(call, now, 480, "not answered in time")

    def _dialog_headers(self, call: Call) -> list[tuple[str, str]]:
        """§12.1.1: Record-Route copied, and our Contact, in a response that
        makes a dialog."""
        request = call.request
        headers = [("Record-Route", value) for value in request.headers.get_lines("Record-Route")]
        if call.dialog is not None and call.dialog.local_target is not None:
            headers.append(("Contact", f"<{call.dialog.local_target}>"))
        return headers

    def _check_incoming(self, call: Call) -> int:
        if not call.incoming or call.invite_transaction_id is None:
            raise LocalProtocolError("not an incoming call")
        if call.state not in (CallState.INCOMING, CallState.RINGING):
            raise LocalProtocolError(f"the call is {call.state.value}, not waiting for an answer")
        return call.invite_transaction_id

    def ring(self, call: Call, now: float) -> None:
        """Send 180 Ringing (an early dialog with our tag)."""
        self._provisional(call, 180, now)

    def _provisional(self, call: Call, status: int, now: float) -> None:
        tid = self._check_incoming(call)
        response = self._build_response(
            call.request, status, to_tag=call.local_tag, headers=self._dialog_headers(call)
        )
        if self._send_response(tid, response, now):
            call.state = CallState.RINGING
            if status > 100:
                self._keep_ringing(call, tid, response, now)

    def _keep_ringing(self, call: Call, tid: int, response: Response, now: float) -> None:
        """§13.3.1.1 for a new call: its provisional repeats while it rings,
        stopped by the answer, a rejection, CANCEL, BYE or the answer_timeout
        (whose 480 comes first: no provisional just before it)."""
        self._repeat_provisional(
            call, tid, response, now,
            wanted=lambda: call.state is CallState.RINGING and call.invite_transaction_id == tid,
            deadline=("unanswered", id(call)),
        )  # fmt: skip

    def _repeat_provisional(
        self,
        call: Call,
        tid: int,
        response: Response,
        now: float,
        *,
        wanted: Callable[[], bool],
        deadline: TimerKey | None = None,
    ) -> None:
        """§13.3.1.1: until the final response to an INVITE — a new call's
        or a re-INVITE's — its non-100 provisional goes out again about every
        minute (``provisional_interval``), or the proxies' Timer C (3 min,
        §16.8) would cancel it. The latest one is repeated (for a new call:
        same To tag, same early dialog). ``wanted`` says, when the minute is
        up, whether that INVITE still waits for its answer; none goes out past
        the timer ``deadline``. One timer per call: at most one INVITE of a
        call waits for our answer at a time (a re-INVITE comes after the first
        one was answered, and a second one while it waits gets 500, §14.2)."""
        interval = self.config.provisional_interval
        if interval is None:
            return

        def resend(when: float) -> None:
            if wanted() and self._send_response(tid, response, when):
                self._count("provisionals_resent")
                self._repeat_provisional(
                    call, tid, response, when, wanted=wanted, deadline=deadline
                )

        at = now + interval
        give_up = self._timers.get(deadline) if deadline is not None else None
        if give_up is not None and give_up[0] <= at:
            return
        self._set_timer(("ringing", id(call)), at, resend)

    def answer(
        self,
        call: Call,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        status: int = 200,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Answer an incoming call — or a pending re-INVITE on it — with
        ``status`` (a 1xx, a 2xx retransmitted until the ACK, or a failure).
        ``headers`` go on a 2xx after ours: the Content-Disposition of an
        S/MIME body (§23), as on the INVITE."""
        extra = list(headers)
        reinvite = call.incoming_reinvite
        if reinvite is not None and call.state is CallState.ESTABLISHED:
            self._answer_reinvite(
                call, reinvite, now, body=body, content_type=content_type, status=status,
                extra=extra,
            )  # fmt: skip
            return
        if status < 200:
            self._provisional(call, status, now)
            return
        if status >= 300:
            self.reject(call, now, status)
            return
        tid = self._check_incoming(call)
        response = self._build_response(
            call.request, status, to_tag=call.local_tag, body=body, content_type=content_type,
            headers=[*self._dialog_headers(call), self._allow(), *extra],
        )  # fmt: skip
        if not self._send_response(tid, response, now):
            raise LocalProtocolError("the INVITE transaction is gone (cancelled or timed out)")
        assert call.dialog is not None
        call.dialog.confirm()
        call.state = CallState.ANSWERED
        self._cancel_timer(("unanswered", id(call)))
        self._cancel_timer(("ringing", id(call)))
        call.final_status = status
        self._count("calls_answered")
        self._retransmit_until_ack(call, response, tid, now)

    def _answer_reinvite(
        self,
        call: Call,
        reinvite: _IncomingReinvite,
        now: float,
        *,
        body: bytes,
        content_type: str | None,
        status: int,
        extra: list[tuple[str, str]],
    ) -> None:
        headers = [*self._dialog_headers(call), *extra] if status < 300 else []
        tid = reinvite.transaction_id
        response = self._build_response(
            reinvite.request, status, body=body, content_type=content_type, headers=headers
        )
        sent = self._send_response(tid, response, now)
        if status >= 200:
            call.incoming_reinvite = None
            self._cancel_timer(("ringing", id(call)))  # §13.3.1.1 ends with the final response
            if status >= 300:
                reinvite.restore(call)
        elif status > 100 and sent:
            # §13.3.1.1 holds for a re-INVITE held unanswered too (§14.2).
            self._repeat_provisional(
                call, tid, response, now,
                wanted=lambda: (
                    call.incoming_reinvite is reinvite and call.state is CallState.ESTABLISHED
                ),
            )  # fmt: skip
        if 200 <= status < 300:
            self._retransmit_until_ack(call, response, tid, now)

    def _reinvite_cancelled(self, call: Call, invite_id: int, now: float) -> bool:
        """§9.2 for a re-INVITE not answered yet: 487 for it, and its
        provisional stops repeating; the session goes on as it was. False
        when ``invite_id`` is not such a re-INVITE of ``call``. (The CANCEL's
        own 200 is the caller's, :mod:`.uas`.)"""
        reinvite = call.incoming_reinvite
        if reinvite is None or reinvite.transaction_id != invite_id:
            return False
        call.incoming_reinvite = None
        reinvite.restore(call)
        self._cancel_timer(("ringing", id(call)))
        self._respond(invite_id, reinvite.request, 487, now)
        return True

    def reject(self, call: Call, now: float, status: int = 486) -> None:
        """Refuse an incoming call with a final non-2xx status."""
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"{status} is not a rejection")
        self._refuse(call, now, status, "rejected")

    def _refuse(self, call: Call, now: float, status: int, reason: str) -> None:
        tid = self._check_incoming(call)
        self._respond(tid, call.request, status, now, to_tag=call.local_tag)
        self._call_failed(call, status, reason)

    # -- the 2xx and its ACK (§13.3.1.4) ------------------------------------------------
    def _retransmit_until_ack(self, call: Call, response: Response, tid: int, now: float) -> None:
        assert response.cseq is not None
        t1 = self.config.timers.t1
        call.answer_pending = _Answer(
            response, tid, call.source or Peer("udp", "0.0.0.0", 0), response.cseq.seq,
            interval=t1, next_at=now + t1, give_up_at=now + 64 * t1,
        )  # fmt: skip
        self._set_timer(("answer", id(call)), now + t1, lambda t: self._resend_answer(call, t))

    def _resend_answer(self, call: Call, now: float) -> None:
        answer = call.answer_pending
        if answer is None:
            return
        if now >= answer.give_up_at:
            # §13.3.1.4: no ACK within 64*T1 — confirm the dialog, then end it.
            call.answer_pending = None
            self._count("ack_timeouts")
            # The same holds for the 2xx of a re-INVITE ("the session SHOULD
            # be terminated").
            if call.state in (CallState.ANSWERED, CallState.ESTABLISHED) and call.dialog:
                call.state = CallState.TERMINATING
                call.reason = "no ACK for our 2xx"
                self._send_bye(call.dialog, call, now)
            return
        if self._layer.state_of(answer.transaction_id) is not None:
            self._send_response(answer.transaction_id, answer.response, now)
        else:  # Timer L ended the transaction: the core resends on its own
            self._layer.send_stateless(answer.response, answer.source)
        self._count("2xx_retransmitted")
        answer.interval = min(2 * answer.interval, self.config.timers.t2)
        answer.next_at = min(now + answer.interval, answer.give_up_at)
        self._set_timer(
            ("answer", id(call)), answer.next_at, lambda t: self._resend_answer(call, t)
        )

    def _on_ack(self, request: Request, now: float) -> None:
        """An ACK for one of our 2xx (others were absorbed by their transaction)."""
        dialog = self.dialogs.find(request)
        call = self._call_of.get(dialog.id) if dialog is not None else None
        answer = call.answer_pending if call is not None else None
        cseq = request.cseq
        if call is None or answer is None or cseq is None or cseq.seq != answer.cseq:
            self._count("acks_ignored")
            return
        self._stop_answering(call)
        call.take_body(request)  # the answer, when the 2xx carried the offer
        if call.state is CallState.ANSWERED:
            call.state = CallState.ESTABLISHED
            self._emit(CallConfirmed(call, request))
            if call.hangup_requested:
                self.bye(call, now)
