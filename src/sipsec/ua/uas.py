"""The UA's server half: requests for us (§8.2) dispatched — a new INVITE
to :mod:`.answering` (§13.3) —, CANCEL (§9.2), BYE (§15.1.2), re-INVITE
and its glare answers (§14.2), OPTIONS (§11.2), and 405 / 420 / 481 / 482 /
500 for what we cannot or must not accept.

Whatever a peer sends, the answer is a status: every protocol error raised
while handling a request becomes the response it names (400 when in
doubt), and nothing escapes to the driver.
"""

from __future__ import annotations

from sipsec.dialog import Dialog
from sipsec.errors import ProtocolError
from sipsec.sip import Request, validate_request

from .answering import AnswerMixin
from .call import Call, CallState, _IncomingReinvite
from .config import ALLOWED_METHODS
from .events import CallEnded, ReinviteReceived

__all__ = ["UasMixin"]


class UasMixin(AnswerMixin):
    """Requests the UA receives, and the application's answers to them."""

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
            call.incoming_reinvite = _IncomingReinvite(
                transaction_id, request, call.remote_body, call.remote_content_type
            )
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
        if invite_id is not None and self._reinvite_cancelled(call, invite_id, now):
            return
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
