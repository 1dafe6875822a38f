"""The UA's client half: REGISTER (§10.2), INVITE / ACK / CANCEL / BYE
(§13, §9.1, §15), re-INVITE with glare (§14.1), and the Digest retry of a
401/407 (§22.2) for all of them."""

from __future__ import annotations

from collections.abc import Iterable

from sipsec.auth import GaveUp
from sipsec.dialog import Dialog, DialogId, DialogSet
from sipsec.errors import LocalProtocolError, ProtocolError
from sipsec.sip import (
    AuthChallenge,
    Request,
    Response,
    SipParseError,
    generate_call_id,
    generate_tag,
)
from sipsec.transaction import Peer

from .base import AUTH_HEADERS, _Pending, initial_headers, target_uri, with_credentials
from .call import Call, CallState
from .events import (
    AuthenticationFailed,
    CallAnswered,
    CallEnded,
    CallFailed,
    CallRinging,
)
from .registering import RegisterMixin

__all__ = ["UacMixin"]


def _challenges(response: Response) -> list[AuthChallenge]:
    try:
        if response.status == 401:
            return response.www_authenticate
        return response.proxy_authenticate
    except SipParseError:
        return []


class UacMixin(RegisterMixin):
    """Requests the UA sends and what it does with their responses."""

    # -- INVITE (§13.2) ---------------------------------------------------------------
    def invite(
        self,
        target: str,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Call:
        """Call ``target`` (a SIP URI); returns the :class:`Call` to follow."""
        uri = target_uri(target, "call")
        call_id, tag = generate_call_id(), generate_tag()
        out = initial_headers(self.config, uri, "INVITE", call_id, tag, headers=headers)
        if body and content_type is not None:
            out.add("Content-Type", content_type)
        out.add("Content-Length", str(len(body)))
        request = Request("INVITE", uri, out, body)
        call = Call(call_id, tag, request, incoming=False, state=CallState.CALLING)
        flow = self.digest.start("INVITE", str(uri), body, preemptive={"Proxy-Authorization"})
        pending = _Pending(
            "invite", request, self.config.outbound_proxy or uri, call=call, flow=flow, contact=""
        )
        with_credentials(request, pending)
        self._count("calls_out")
        self._dispatch(pending, now)
        return call

    def cancel(self, call: Call, now: float) -> None:
        """CANCEL our pending INVITE (§9.1); a 487 then ends the call. After
        64*T1 without a final response the call fails anyway (§9.1)."""
        if call.incoming:
            raise LocalProtocolError("only the caller cancels; use reject")
        if call.state not in (CallState.CALLING, CallState.RINGING) or call.cancelled:
            return
        call.cancelled = True
        self._count("cancels_sent")
        if call.invite_transaction_id is not None:
            self._layer.cancel(call.invite_transaction_id, now)
        give_up = now + 64 * self.config.timers.t1

        def expire(when: float) -> None:
            if call.state in (CallState.CALLING, CallState.RINGING):
                if call.invite_transaction_id is not None:
                    self._layer.terminate(call.invite_transaction_id)
                self._call_failed(call, 487, "cancelled, no final response")

        self._set_timer(("cancel", id(call)), give_up, expire)

    def _sent(self, pending: _Pending, request: Request, now: float) -> None:
        call = pending.call
        if pending.kind == "invite" and call is not None:
            call.request = request
            call.invite_transaction_id = pending.transaction_id
            call.dialog_set = DialogSet(request)
            if call.cancelled and pending.transaction_id is not None:
                self._layer.cancel(pending.transaction_id, now)
        elif pending.kind == "reinvite" and call is not None and call.outgoing_reinvite:
            call.outgoing_reinvite.transaction_id = pending.transaction_id

    def _invite_response(self, pending: _Pending, response: Response, now: float) -> None:
        call = pending.call
        assert call is not None and call.dialog_set is not None
        status = response.status
        if status == 100:
            return
        try:
            dialog, new = call.dialog_set.update(response)
        except ProtocolError:
            dialog, new = None, False
        if dialog is not None and new:
            self.dialogs.add(dialog)
            self._call_of[dialog.id] = call
            call.dialog_ids.append(dialog.id)
        if status < 200:
            if call.state is CallState.CALLING:
                call.state = CallState.RINGING
            if dialog is not None and (call.dialog is None or not call.dialog.is_confirmed):
                call.dialog = dialog
            call.take_body(response)
            self._emit(CallRinging(call, response))
            return
        if dialog is None:
            return
        self._send_ack(call, dialog, pending, now)
        if call.state in (CallState.CALLING, CallState.RINGING):
            call.dialog = dialog
            call.state = CallState.ESTABLISHED
            call.final_status = status
            call.take_body(response)
            self._cancel_timer(("cancel", id(call)))
            for early in call.dialog_set.terminate_early():
                self._drop_dialog(early)
            self._count("calls_answered")
            self._emit(CallAnswered(call, response))
            if call.cancelled:  # §9.1: the 2xx won the race; end the session
                self.bye(call, now)
        elif dialog is not call.dialog and new:
            # Another fork answered too (§13.2.2.4): acknowledge, then hang up.
            self._count("forked_2xx_released")
            self._send_bye(dialog, None, now)

    def _send_ack(self, call: Call, dialog: Dialog, pending: _Pending, now: float) -> None:
        """The ACK for a 2xx (§13.2.2.4), or the one sent before, again."""
        cseq = pending.request.cseq
        assert cseq is not None
        key = (dialog.id, cseq.seq)
        sent = self._acks.get(key)
        if sent is not None:
            self._layer.send_stateless(*sent)
            self._count("acks_resent")
            return
        ack = dialog.create_request("ACK", cseq=cseq.seq)
        for name in AUTH_HEADERS:  # §22.1: the same credentials as the INVITE
            for value in (pending.sent or pending.request).headers.get_lines(name):
                ack.headers.add(name, value)
        self._dispatch(_Pending("ack", ack, dialog.next_hop, call=call), now)

    def _sent_ack(self, pending: _Pending, ack: Request, peer: Peer) -> None:
        call, cseq, to, from_ = pending.call, ack.cseq, ack.to, ack.from_
        if call is None or cseq is None or to is None or from_ is None or not call.is_active:
            return
        key = (DialogId(call.call_id, from_.tag or "", to.tag or ""), cseq.seq)
        self._acks[key] = (ack, peer)
        call.ack_keys.append(key)
        call.ack, call.ack_peer = ack, peer

    def _stray_2xx(self, response: Response) -> None:
        """A 2xx after its transaction ended: re-ACK it (§13.2.2.4)."""
        to, from_, call_id, cseq = response.to, response.from_, response.call_id, response.cseq
        if to is None or from_ is None or call_id is None or cseq is None:
            return
        sent = self._acks.get((DialogId(call_id, from_.tag or "", to.tag or ""), cseq.seq))
        if sent is not None:
            self._layer.send_stateless(*sent)
            self._count("acks_resent")

    # -- BYE (§15.1) ------------------------------------------------------------------
    def bye(self, call: Call, now: float) -> None:
        """Hang up an established call; :class:`CallEnded` follows the BYE's
        final response (or its timeout)."""
        if call.state is CallState.TERMINATING or not call.is_active:
            return
        if call.state not in (CallState.ESTABLISHED, CallState.ANSWERED) or call.dialog is None:
            raise LocalProtocolError(f"cannot hang up a call that is {call.state.value}")
        if call.state is CallState.ANSWERED and call.answer_pending is not None:
            # §15: the callee waits for the ACK (or for giving up on it) first.
            call.hangup_requested = True
            return
        self._stop_answering(call)
        call.state = CallState.TERMINATING
        self._send_bye(call.dialog, call, now)

    def _send_bye(self, dialog: Dialog, call: Call | None, now: float) -> None:
        request = dialog.create_request("BYE", headers=[("User-Agent", self.config.user_agent)])
        flow = self.digest.start("BYE", str(request.uri), preemptive={"Proxy-Authorization"})
        pending = _Pending("bye", request, dialog.next_hop, call=call, flow=flow, dialog=dialog)
        with_credentials(request, pending)
        dialog.terminate()  # §15.1.1: the session is over once the BYE is sent
        self._count("byes_sent")
        self._dispatch(pending, now)

    def _bye_done(self, pending: _Pending, status: int, reason: str) -> None:
        call = pending.call
        if pending.dialog is not None:
            self._drop_dialog(pending.dialog)
            self._call_of.pop(pending.dialog.id, None)
        if call is not None and call.state is CallState.TERMINATING:
            call.state = CallState.ENDED
            self._forget_call(call)
            answered = f"BYE answered {status} {reason}"
            self._emit(
                CallEnded(call, False, f"{call.reason}; {answered}" if call.reason else answered)
            )

    # -- responses and failures ---------------------------------------------------------
    def _on_response(self, pending: _Pending, response: Response, now: float) -> None:
        try:
            self._handle_response(pending, response, now)
        except ProtocolError:
            # A response whose headers we cannot use (a Contact or
            # Record-Route that does not parse …): dropped, as §8.1.3.3 does.
            self._count("responses_dropped")

    def _handle_response(self, pending: _Pending, response: Response, now: float) -> None:
        status = response.status
        self._count(f"responses_received_{status // 100}xx")
        if status >= 200:
            pending.answered = True
        if self._superseded(pending):
            return
        if status in (401, 407) and self._retry_with_auth(pending, response, now):
            return
        self._on_final_or_provisional(pending, status, response.reason, response, now)

    def _superseded(self, pending: _Pending) -> bool:
        """A REGISTER that a later one replaced: only the newest one's
        outcome describes our binding (§10.2: one CSeq per registration)."""
        cseq = pending.request.cseq
        if pending.kind != "register" or cseq is None or cseq.seq == self.registration.cseq:
            return False
        self._count("superseded_register_outcomes")
        return True

    def _request_failed(self, pending: _Pending, status: int, reason: str, now: float) -> None:
        if pending.answered or self._superseded(pending):
            return
        if pending.alternatives and status in (408, 503) and pending.kind != "ack":
            # RFC 3263 §4.3: a hop that times out or cannot be reached makes
            # way for the next one the resolver gave.
            peer = pending.alternatives.pop(0)
            self._transmit(pending, peer, now)
            return
        pending.answered = True
        self._on_final_or_provisional(pending, status, reason, None, now)

    def _on_final_or_provisional(
        self, pending: _Pending, status: int, reason: str, response: Response | None, now: float
    ) -> None:
        kind, call = pending.kind, pending.call
        if kind == "register":
            if status >= 200:
                self._registered(pending, status, reason, response, now)
        elif kind == "invite" and call is not None:
            if response is not None and status < 300:
                self._invite_response(pending, response, now)
            elif status >= 300:
                self._invite_failed(call, status, reason)
        elif kind == "bye" and status >= 200:
            self._bye_done(pending, status, reason)

    def _invite_failed(self, call: Call, status: int, reason: str) -> None:
        if call.dialog_set is not None:
            for early in call.dialog_set.terminate_early():
                self._drop_dialog(early)
        if call.state in (CallState.CALLING, CallState.RINGING):
            self._call_failed(call, status, reason)

    def _call_failed(self, call: Call, status: int, reason: str) -> None:
        if not call.is_active:
            return
        call.state = CallState.FAILED
        call.final_status = status
        call.reason = reason
        self._cancel_timer(("cancel", id(call)))
        self._cancel_timer(("unanswered", id(call)))
        self._cancel_timer(("ringing", id(call)))  # §13.3.1.1 ends with the final response
        if call.dialog is not None:
            self._drop_dialog(call.dialog)
        self._forget_call(call)
        self._count("calls_failed")
        self._emit(CallFailed(call, status, reason))

    def _retry_with_auth(self, pending: _Pending, response: Response, now: float) -> bool:
        """Answer a 401/407 once per challenge (§22.2); False when we give up."""
        flow, call = pending.flow, pending.call
        if flow is None or (call is not None and call.cancelled and pending.kind == "invite"):
            return False
        challenges = _challenges(response)
        step = flow.challenged(response.status, challenges)
        if isinstance(step, GaveUp):
            realm = next((c.params.get("realm") for c in challenges), None)
            self._count("auth_failures")
            if call is not None:
                call.auth_failures += 1
            self._emit(AuthenticationFailed(response.status, realm))
            return False
        template = pending.request
        request = Request(template.method, template.uri, template.headers.copy(), template.body)
        cseq = template.cseq
        assert cseq is not None
        if pending.kind == "register":
            self.registration.cseq += 1
            number = self.registration.cseq
        elif pending.kind in ("bye", "reinvite") and call is not None and call.dialog is not None:
            number = call.dialog.next_cseq()
            if pending.kind == "reinvite":
                call.dialog.invite_cseq = number
        else:
            number = cseq.seq + 1  # §22.2: "the same Call-ID ... CSeq incremented"
        request.headers.set("CSeq", f"{number} {template.method}")
        retry = _Pending(
            pending.kind,
            request,
            pending.next_hop,
            call=call,
            flow=flow,
            contact=pending.contact,
        )
        with_credentials(request, retry)
        self._count("auth_retries")
        self._dispatch(retry, now)
        return True

    # -- shared with the server half ----------------------------------------------------
    def _drop_dialog(self, dialog: Dialog) -> None:
        dialog.terminate()
        self.dialogs.remove(dialog)

    def _forget_call(self, call: Call) -> None:
        """The call is over: forget its dialogs and ACKs (memory stays bounded)."""
        self._cancel_timer(("glare", id(call)))
        self._cancel_timer(("answer", id(call)))
        for dialog_id in call.dialog_ids:
            if self._call_of.get(dialog_id) is call:
                del self._call_of[dialog_id]
        for key in call.ack_keys:
            self._acks.pop(key, None)
        call.dialog_ids.clear()
        call.ack_keys.clear()

    def _stop_answering(self, call: Call) -> None:
        call.answer_pending = None
        self._cancel_timer(("answer", id(call)))
