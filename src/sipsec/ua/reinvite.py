"""Re-INVITE as the UAC (RFC 3261 §14.1): modify the session of an
established call, ACK its 2xx, retry after a 491 once the random glare
delay has passed, and end the dialog on 481 / 408. The UAS side of §14.2
(491 and 500 answers) is in :mod:`.uas`."""

from __future__ import annotations

from sipsec.errors import LocalProtocolError
from sipsec.sip import Response

from .base import _Pending, with_credentials
from .call import Call, CallState, _Reinvite
from .events import CallEnded, ReinviteAnswered, ReinviteFailed
from .uac import UacMixin

__all__ = ["ReinviteMixin"]


class ReinviteMixin(UacMixin):
    """re-INVITE, glare retry, and the responses to it."""

    # -- re-INVITE (§14.1) ------------------------------------------------------------
    def reinvite(
        self, call: Call, now: float, body: bytes = b"", content_type: str | None = None
    ) -> None:
        """Modify an established session; :class:`ReinviteAnswered` or
        :class:`ReinviteFailed` follows. A 491 (glare) is retried after the
        §14.1 random delay."""
        if call.state is not CallState.ESTABLISHED or call.dialog is None:
            raise LocalProtocolError(f"cannot re-INVITE a call that is {call.state.value}")
        if call.outgoing_reinvite is not None:
            raise LocalProtocolError("a re-INVITE of ours is already pending (§14.1)")
        call.outgoing_reinvite = _Reinvite(body, content_type)
        self._send_reinvite(call, now)

    def _send_reinvite(self, call: Call, now: float) -> None:
        reinvite, dialog = call.outgoing_reinvite, call.dialog
        if reinvite is None or dialog is None or call.state is not CallState.ESTABLISHED:
            call.outgoing_reinvite = None
            return
        request = dialog.create_request(
            "INVITE",
            body=reinvite.body,
            content_type=reinvite.content_type,
            headers=[("User-Agent", self.config.user_agent)],
        )
        flow = self.digest.start(
            "INVITE", str(request.uri), reinvite.body, preemptive={"Proxy-Authorization"}
        )
        pending = _Pending("reinvite", request, dialog.next_hop, call=call, flow=flow)
        with_credentials(request, pending)
        self._dispatch(pending, now)

    def glare_delay(self, call: Call) -> float:
        """§14.1: 2.1–4 s (in 10 ms steps) when we own the Call-ID (we sent
        the initial INVITE), 0–2 s otherwise."""
        if not call.incoming:
            return self.rng.randint(210, 400) / 100
        return self.rng.randint(0, 200) / 100

    def _reinvite_response(
        self, pending: _Pending, status: int, response: Response | None, now: float
    ) -> None:
        call = pending.call
        assert call is not None
        dialog = call.dialog
        if status < 200 or dialog is None:
            return
        if 200 <= status < 300 and response is not None:
            dialog.update_from_response(pending.request, response)
            call.take_body(response)
            self._send_ack(call, dialog, pending, now)
            if call.outgoing_reinvite is not None:
                call.outgoing_reinvite = None
                self._emit(ReinviteAnswered(call, response))
            return
        if status == 491 and call.outgoing_reinvite is not None:
            call.outgoing_reinvite.transaction_id = None  # waiting, no longer in flight
            self._count("glare")
            self._set_timer(
                ("glare", id(call)),
                now + self.glare_delay(call),
                lambda t: self._send_reinvite(call, t),
            )
            return
        call.outgoing_reinvite = None
        reason = response.reason if response is not None else "no answer"
        self._emit(ReinviteFailed(call, status, reason))
        if status in (408, 481):  # §14.1: the dialog is gone or unreachable
            if status == 481:
                call.state = CallState.ENDED
                self._drop_dialog(dialog)
                self._forget_call(call)
                self._emit(CallEnded(call, True, f"re-INVITE answered {status}"))
            elif call.state is CallState.ESTABLISHED:
                self.bye(call, now)

    def _on_final_or_provisional(
        self, pending: _Pending, status: int, reason: str, response: Response | None, now: float
    ) -> None:
        if pending.kind == "reinvite":
            self._reinvite_response(pending, status, response, now)
        else:
            super()._on_final_or_provisional(pending, status, reason, response, now)
