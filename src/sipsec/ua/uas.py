"""The UA's server half: requests for us (§8.2), answering INVITEs with the
2xx retransmitted until its ACK (§13.3.1.4), CANCEL (§9.2), BYE (§15.1.2),
re-INVITE and its glare answers (§14.2), OPTIONS (§11.2), and 405 / 420 /
481 / 482 / 500 for what we cannot or must not accept.

Whatever a peer sends, the answer is a status: every protocol error raised
while handling a request becomes the response it names (400 when in
doubt), and nothing escapes to the driver.
"""

from __future__ import annotations

from collections.abc import Iterable

from sipsec.dialog import Dialog
from sipsec.errors import LocalProtocolError, ProtocolError
from sipsec.sip import Request, Response, SipUri, generate_tag, validate_request
from sipsec.transaction import Peer

from .addressing import contact_uri
from .call import Call, CallState, _Answer, _IncomingReinvite
from .config import ALLOWED_METHODS
from .events import CallConfirmed, CallEnded, IncomingCall, ReinviteReceived
from .reinvite import ReinviteMixin

__all__ = ["UasMixin"]


class UasMixin(ReinviteMixin):
    """Requests the UA receives, and the application's answers to them."""

    def _allow(self) -> tuple[str, str]:
        return ("Allow", ", ".join(ALLOWED_METHODS))

    # -- the entry points ---------------------------------------------------------------
    def _on_request(
        self, transaction_id: int, request: Request, source: object, now: float
    ) -> None:
        self._count("requests_received")
        try:
            self._handle_request(transaction_id, request, source, now)
        except ProtocolError as exc:
            status = exc.status if 300 <= exc.status <= 699 else 400
            self._count("requests_refused")
            try:
                self._respond(transaction_id, request, status, now, reason=None)
            except ProtocolError:
                self._count("unanswerable")

    def _handle_request(
        self, transaction_id: int, request: Request, source: object, now: float
    ) -> None:
        method = request.method
        if method not in ALLOWED_METHODS:  # §8.2.1
            self._respond(transaction_id, request, 405, now, headers=[self._allow()])
            return
        error = validate_request(request, supported=self.config.supported)
        if error is not None:
            headers = []
            if error.status == 420:  # §8.2.2.3
                headers.append(("Unsupported", ", ".join(error.unsupported)))
            self._respond(transaction_id, request, error.status, now, headers=headers)
            return
        to = request.to
        assert to is not None  # validate_request checked it
        if to.tag is not None:  # §12.2.2: a request within a dialog
            dialog = self.dialogs.match(request)  # 481 when unknown
            self._in_dialog(transaction_id, request, dialog, now)
        elif method == "INVITE":
            self._new_call(transaction_id, request, source, now)
        elif method == "OPTIONS":
            self._answer_options(transaction_id, request, now)
        else:  # a BYE outside any dialog
            self._respond(transaction_id, request, 481, now)

    def _in_dialog(self, transaction_id: int, request: Request, dialog: Dialog, now: float) -> None:
        call = self._call_of.get(dialog.id)
        if (
            request.method == "INVITE"
            and call is not None
            and self._glare(transaction_id, request, call, now)
        ):
            return
        dialog.receive_request(request)  # 500 for an out-of-order CSeq
        if request.method == "BYE":
            self._respond(transaction_id, request, 200, now)
            self._remote_bye(dialog, call, now)
        elif request.method == "OPTIONS":
            self._answer_options(transaction_id, request, now)
        elif request.method == "INVITE" and call is not None:
            call.incoming_reinvite = _IncomingReinvite(transaction_id, request)
            call.take_body(request)
            self._server_calls[transaction_id] = call
            self._emit(ReinviteReceived(call, request))
        else:
            self._respond(transaction_id, request, 481, now)

    def _glare(self, transaction_id: int, request: Request, call: Call, now: float) -> bool:
        """§14.2: 491 when our own re-INVITE is pending, 500 with Retry-After
        when we have not answered the peer's previous one (or it awaits an ACK)."""
        ours = call.outgoing_reinvite
        if ours is not None and ours.transaction_id is not None:  # in flight, not waiting
            self._count("glare")
            self._respond(transaction_id, request, 491, now)
            return True
        if call.incoming_reinvite is not None or call.answer_pending is not None:
            retry_after = str(self.rng.randint(0, 10))
            self._respond(transaction_id, request, 500, now, headers=[("Retry-After", retry_after)])
            return True
        if call.state is not CallState.ESTABLISHED:
            self._respond(transaction_id, request, 491, now)
            return True
        return False

    def _answer_options(self, transaction_id: int, request: Request, now: float) -> None:
        """§11.2: what we support, as a 200."""
        headers = [
            self._allow(),
            ("Accept", ", ".join(self.config.accept)),
            ("Accept-Encoding", "identity"),
            ("Supported", ", ".join(self.config.supported)),
        ]
        self._respond(transaction_id, request, 200, now, headers=headers)

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
        response = self._build_response(
            reinvite.request, status, body=body, content_type=content_type, headers=headers
        )
        self._send_response(reinvite.transaction_id, response, now)
        if status >= 200:
            call.incoming_reinvite = None
        if 200 <= status < 300:
            self._retransmit_until_ack(call, response, reinvite.transaction_id, now)

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

    # -- CANCEL and BYE ------------------------------------------------------------------
    def _on_cancel(
        self, transaction_id: int, request: Request, invite_id: int | None, now: float
    ) -> None:
        """§9.2: 200 for the CANCEL, then 487 for the INVITE if unanswered."""
        call = self._server_calls.get(invite_id) if invite_id is not None else None
        if call is None:
            self._respond(transaction_id, request, 481, now)
            return
        self._respond(transaction_id, request, 200, now)
        if call.state in (CallState.INCOMING, CallState.RINGING) and invite_id is not None:
            self._respond(invite_id, call.request, 487, now, to_tag=call.local_tag)
            self._call_failed(call, 487, "cancelled by the caller")

    def _remote_bye(self, dialog: Dialog, call: Call | None, now: float) -> None:
        self._drop_dialog(dialog)
        if call is None or not call.is_active:
            return
        if call.state in (CallState.INCOMING, CallState.RINGING):
            # §15.1.2: a BYE on an early dialog ends the INVITE with a 487.
            if call.invite_transaction_id is not None:
                self._respond(
                    call.invite_transaction_id, call.request, 487, now, to_tag=call.local_tag
                )
            self._call_failed(call, 487, "BYE before the answer")
            return
        self._stop_answering(call)
        call.state = CallState.ENDED
        self._forget_call(call)
        self._count("calls_ended_by_remote")
        self._emit(CallEnded(call, True, "BYE"))

    def _server_transaction_ended(self, transaction_id: int) -> None:
        self._server_calls.pop(transaction_id, None)
