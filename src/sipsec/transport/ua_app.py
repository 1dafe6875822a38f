"""The user agent application: a SIP endpoint, the UA core and a media session per call.

:class:`UaApp` is what ``sipsec register | call | answer`` run, and what a
script or test can drive directly::

    app = UaApp(UaSettings("sip:alice@atlanta.example", proxy="sips:atlanta.example", ...))
    await app.start()
    await app.register()
    summary = await app.call("sips:bob@biloxi.example", duration=2.0)
    await app.close()

The signalling transport follows the proxy URI (RFC 3261 §8.1.2 and RFC 3263
§4.1: ``;transport=tcp``, ``;transport=tls`` or ``sips:``), or the target's
when there is no proxy. The SDP and its SRTP keys come from
:mod:`sipsec.ua.media_offer`; a key in cleartext SDP goes out only over TLS
on every hop (a ``sips:`` target, RFC 3261 §26.2.2) and is taken only from
an offer whose every Via is TLS, otherwise the body is S/MIME-encrypted to
the peer (``keys="smime"``); those checks are :mod:`.ua_keys`.
Where it listens and which address it advertises is :mod:`.ua_listen` (a
TLS client without a certificate opens no listener). Either side may hang
up: the caller after ``duration``, the callee with ``answer(hangup_after=)``;
each summary says who did.

This module is what a user does (register, query with OPTIONS, call,
answer); the state, start and close, media sessions and event waits are
:mod:`.ua_app_base`'s.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sipsec.errors import LocalProtocolError
from sipsec.ua import (
    AuthenticationFailed,
    Call,
    CallAnswered,
    CallEnded,
    CallFailed,
    IncomingCall,
    OptionsAnswered,
    Registered,
    RegistrationFailed,
    UaEvent,
    Unregistered,
)
from sipsec.ua.media_offer import (
    KeyTransportRefused,
    MediaOfferError,
    accept_answer,
    create_answer,
    create_offer,
    unwrap_sdp,
)

from .ua_app_base import UaAppBase
from .ua_app_base import wall_clock as _wall
from .ua_keys import arrived_over_tls as _arrived_over_tls  # the name tests import
from .ua_keys import from_aor, refusal_reason
from .ua_media import tone
from .ua_settings import (
    CallSummary,
    UaAppError,
    UaSettings,
    failure_kind,
    summarize,
)

__all__ = ["CallSummary", "UaApp", "UaAppError", "UaSettings"]


class UaApp(UaAppBase):
    """A SipEndpoint, a UserAgent and a MediaSession per call."""

    # -- registration ----------------------------------------------------------------
    async def register(self, expires: int | None = None) -> list[str]:
        """REGISTER and wait for the registrar; the bindings it answered with."""
        endpoint, ua, pump = self._parts()
        ua.register(endpoint.now(), expires=expires)
        self._flush()
        while True:
            event = await self._next(pump.registration, self.settings.timeout)
            if event is None:
                raise UaAppError("no answer from the registrar", 408, kind="network")
            if isinstance(event, Registered):
                self._registered = event.expires > 0
                self.bindings = list(event.bindings)
                return self.bindings
            if isinstance(event, AuthenticationFailed):
                raise UaAppError(
                    f"authentication failed ({event.status}, realm {event.realm!r})",
                    event.status,
                    kind="auth",
                )
            if isinstance(event, RegistrationFailed):
                raise UaAppError(
                    f"registration failed: {event.status} {event.reason}",
                    event.status,
                    kind=failure_kind(event.status),
                )

    async def unregister(self) -> None:
        endpoint, ua, pump = self._parts()
        ua.unregister(endpoint.now())
        self._flush()
        while True:
            event = await self._next(pump.registration, self.settings.timeout)
            if event is None or isinstance(
                event, Unregistered | RegistrationFailed | AuthenticationFailed
            ):
                self._registered = False
                return

    # -- OPTIONS (RFC 3261 §11) ----------------------------------------------------------
    async def options(self, target: str) -> OptionsAnswered:
        """Ask ``target`` what it supports; its answer, whatever the status
        (a 401/407 we could not answer, or 408 / 503 when none came, as
        :class:`OptionsAnswered` reports them). Only this caller gets it;
        registration waiters never see it. :class:`UaAppError` when
        ``target`` is no SIP URI or no answer came within ``settings.timeout``."""
        endpoint, ua, pump = self._parts()
        try:
            call_id = ua.options(target, endpoint.now())
        except LocalProtocolError as exc:
            raise UaAppError(f"cannot query {target}: {exc.reason}", kind="usage") from None
        answer = pump.expect_options(call_id)  # before the flush drains an early answer
        try:
            self._flush()
            return await asyncio.wait_for(answer, self.settings.timeout)
        except TimeoutError:
            raise UaAppError(f"no answer to OPTIONS from {target}", 408, kind="network") from None
        finally:
            pump.forget_options(call_id)

    # -- calling ---------------------------------------------------------------------
    async def call(self, target: str, duration: float) -> CallSummary:
        """INVITE ``target``, run media for ``duration`` seconds, BYE."""
        endpoint, ua, pump = self._parts()
        loop = asyncio.get_running_loop()
        protected = self.keys_protected_to(target)  # a bad target fails before any media
        media = await self._new_media()
        port = media.local_rtp[1]
        try:
            offer = create_offer(
                self.advertised,
                port,
                self.policy,
                hop_is_tls=protected,
                recipient=self.settings.smime_recipient(target),
                now=_wall(),
            )
        except KeyTransportRefused as exc:
            self._drop(media)
            why = refusal_reason(exc.reason, self.transport, target)
            raise UaAppError(why, kind="usage") from None
        call = ua.invite(
            target,
            endpoint.now(),
            body=offer.body.body,
            content_type=offer.body.content_type,
            headers=offer.body.headers,
        )
        queue = pump.follow(call)
        self.calls[call.call_id] = call
        self._flush()
        try:
            answered = await self._until_answered(call, queue)
            if isinstance(answered, CallSummary):
                return answered
            try:
                received = unwrap_sdp(
                    answered.response.body,
                    answered.response.headers.get("Content-Type"),
                    self.policy,
                    hop_is_tls=protected,
                    signer_address=self.settings.callee_identity(target),
                    now=_wall(),
                )
                agreed = accept_answer(offer, received, self.policy)
            except MediaOfferError as exc:
                ua.bye(call, endpoint.now())
                self._flush()
                await self._until_ended(call, queue)
                return summarize(call, exc.status, f"answer refused: {exc.reason}", media)
            audio = self.settings.play or tone(duration + 1)
            media.start(agreed, audio=audio, record=self.settings.record)
            await self._rtcp_without_mux(media, agreed)
            started = loop.time()
            ended = await self._next_of(queue, (CallEnded, CallFailed), duration)
            by_remote = ended is not None
            if ended is None:
                await self._hang_up(call, queue, media)
            return summarize(
                call,
                200,
                "OK",
                media,
                agreed=agreed,
                by_remote=by_remote,
                duration=loop.time() - started,
            )
        finally:
            pump.forget(call)
            self.calls.pop(call.call_id, None)
            self._drop(media)

    async def _until_answered(
        self, call: Call, queue: asyncio.Queue[UaEvent]
    ) -> CallAnswered | CallSummary:
        endpoint, ua, _ = self._parts()
        deadline = asyncio.get_running_loop().time() + self.settings.timeout
        cancelled = False
        while True:
            left = deadline - asyncio.get_running_loop().time()
            event = await self._next(queue, max(left, 0.0) if not cancelled else 32.0)
            if event is None:
                if cancelled:
                    return summarize(call, 408, "no answer (CANCEL unanswered)")
                ua.cancel(call, endpoint.now())
                self._flush()
                cancelled = True
                continue
            if isinstance(event, CallAnswered):
                return event
            if isinstance(event, CallFailed):
                reason = "no answer before --timeout" if cancelled else event.reason
                return summarize(call, event.status, reason)

    # -- answering -------------------------------------------------------------------
    async def answer(
        self, calls: int, *, timeout: float | None = None, hangup_after: float | None = None
    ) -> list[CallSummary]:
        """Answer ``calls`` incoming calls (180, then 200), each until the
        caller's BYE or, with ``hangup_after``, until we send ours that many
        seconds after answering (§15.1.1; after the ACK, as §15 asks)."""
        if hangup_after is not None and hangup_after < 0:
            raise UaAppError("hangup_after must not be negative", kind="usage")
        _, _, pump = self._parts()
        tasks: list[asyncio.Task[CallSummary]] = []
        try:
            for index in range(calls):
                try:
                    incoming = await asyncio.wait_for(pump.incoming.get(), timeout)
                except TimeoutError:
                    break
                record = self._record_path(index, calls)
                tasks.append(asyncio.create_task(self._answer_one(incoming, record, hangup_after)))
            return list(await asyncio.gather(*tasks))
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:  # each closes its media before it goes
                await asyncio.gather(*pending, return_exceptions=True)

    def _record_path(self, index: int, calls: int) -> Path | None:
        record = self.settings.record
        if record is None or calls == 1:
            return record
        return record.with_name(f"{record.stem}-{index + 1}{record.suffix}")

    async def _answer_one(
        self, incoming: IncomingCall, record: Path | None, hangup_after: float | None
    ) -> CallSummary:
        endpoint, ua, pump = self._parts()
        loop = asyncio.get_running_loop()
        call, request = incoming.call, incoming.request
        hop_is_tls = _arrived_over_tls(
            request, call.source, last_hop_only=self.settings.allow_sdes_over_first_hop_tls
        )
        media = await self._new_media()
        queue = pump.follow(call)
        self.calls[call.call_id] = call
        try:
            try:
                offer = unwrap_sdp(
                    request.body,
                    request.headers.get("Content-Type"),
                    self.policy,
                    hop_is_tls=hop_is_tls,
                    signer_address=from_aor(request),
                    now=_wall(),
                )
                agreed, body = create_answer(
                    offer,
                    self.advertised,
                    media.local_rtp[1],
                    self.policy,
                    hop_is_tls=hop_is_tls,
                    now=_wall(),
                )
            except (MediaOfferError, KeyTransportRefused) as exc:
                # A refused key transport is about the session description: 488.
                status = exc.status if isinstance(exc, MediaOfferError) else 488
                ua.reject(call, endpoint.now(), status=status)
                self._flush()
                return summarize(call, status, exc.reason, media)
            try:
                ua.ring(call, endpoint.now())
                ua.answer(
                    call, endpoint.now(), body=body.body, content_type=body.content_type,
                    headers=body.headers,  # §23: session;handling=required on S/MIME
                )  # fmt: skip
            except LocalProtocolError:  # cancelled (or timed out) before we answered
                self._flush()
                failed = await self._next_of(queue, (CallFailed,), 0.1)
                status = failed.status if isinstance(failed, CallFailed) else 487
                return summarize(call, status, "cancelled before the answer", media)
            self._flush()
            started = loop.time()
            audio = self.settings.play or tone(self.settings.answer_audio_seconds)
            media.start(agreed, audio=audio, record=record)
            await self._rtcp_without_mux(media, agreed)
            ended = await self._next_of(queue, (CallEnded, CallFailed), hangup_after)
            if ended is None:  # our turn to hang up
                ended = await self._hang_up(call, queue, media)
            if isinstance(ended, CallFailed):  # the ACK never came (§13.3.1.4)
                return summarize(call, ended.status, ended.reason, media, agreed=agreed)
            return summarize(
                call,
                200,
                "OK",
                media,
                agreed=agreed,
                by_remote=isinstance(ended, CallEnded) and ended.by_remote,
                duration=loop.time() - started,
            )
        finally:
            pump.forget(call)
            self.calls.pop(call.call_id, None)
            self._drop(media)

    # -- shutdown --------------------------------------------------------------------
    async def close(self) -> None:
        """Un-REGISTER if registered, close media and sockets."""
        try:
            if self._registered and self.unregister_on_close and self.ua is not None:
                await self.unregister()
        finally:
            await self._release()
