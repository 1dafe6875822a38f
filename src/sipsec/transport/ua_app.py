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
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sipsec.errors import LocalProtocolError
from sipsec.transaction import Peer, TransportName
from sipsec.ua import (
    AuthenticationFailed,
    Call,
    CallAnswered,
    CallEnded,
    CallFailed,
    IncomingCall,
    Registered,
    RegistrationFailed,
    ReinviteReceived,
    UaConfig,
    UaEvent,
    Unregistered,
    UserAgent,
)
from sipsec.ua.media_offer import (
    KeyTransportRefused,
    MediaOfferError,
    NegotiatedMedia,
    accept_answer,
    create_answer,
    create_offer,
    unwrap_sdp,
)

from .endpoint import SipEndpoint
from .ua_events import UaPump
from .ua_keys import arrived_over_tls as _arrived_over_tls  # the name tests import
from .ua_keys import from_aor, keys_protected_to, refusal_reason
from .ua_listen import (
    Listening,
    advertised_address,
    listens_on_tls,
    open_listening,
    transports_for,
)
from .ua_media import CallMedia, tone
from .ua_settings import (
    CallSummary,
    UaAppError,
    UaSettings,
    failure_kind,
    sip_uri,
    summarize,
)

__all__ = ["CallSummary", "UaApp", "UaAppError", "UaSettings"]


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UaApp:
    """A SipEndpoint, a UserAgent and a MediaSession per call."""

    def __init__(self, settings: UaSettings) -> None:
        self.settings = settings
        self.policy = settings.policy()
        self.transport: TransportName = settings.signalling_transport()
        self.endpoint: SipEndpoint | None = None
        self.ua: UserAgent | None = None
        self.pump: UaPump | None = None
        self.local: Peer | None = None
        self.advertised = ""  # our IP for Contact and SDP c= (see ua_listen)
        self.bindings: list[str] = []
        self.unregister_on_close = False
        self._registered = False
        self._sessions: set[CallMedia] = set()
        self._listening: Listening | None = None
        self.calls: dict[str, Call] = {}  # the calls in progress, by Call-ID

    @property
    def hop_is_tls(self) -> bool:
        """Whether a key in cleartext SDP to ``settings.target`` is protected
        on every hop (see :meth:`keys_protected_to`); False without a target."""
        target = self.settings.target
        return target is not None and self.keys_protected_to(target)

    def keys_protected_to(self, target: str) -> bool:
        """May an SDES key travel in cleartext SDP to ``target``, and its
        answer's key come back? See :func:`.ua_keys.keys_protected_to`."""
        return keys_protected_to(self.transport, self.settings, target)

    @property
    def listens_on_tls(self) -> bool:
        """A TLS server needs a certificate; a TLS client does not (see
        :mod:`.ua_listen`)."""
        return listens_on_tls(self.transport, self.settings)

    def _note(self, text: str) -> None:
        if self.settings.on_note is not None:
            self.settings.on_note(text)

    async def start(self) -> None:
        """Listen, resolve the proxy, attach the UA core."""
        s = self.settings
        self._listening = listening = await open_listening(s, self.transport)
        self.endpoint, self.local = listening.endpoint, listening.local
        if listening.note is not None:
            self._note(listening.note)
        resolver = self.endpoint.resolver
        outbound = None
        if s.proxy is not None:
            peers = await resolver.resolve(sip_uri(s.proxy))
            if not peers:
                raise UaAppError(
                    f"cannot resolve the proxy {s.proxy} for {self.transport}", kind="network"
                )
            outbound = peers[0]
        self.advertised, note = advertised_address(s, self.local, resolver, outbound)
        if note is not None:
            self._note(note)
        host = s.contact_host or self.advertised
        contact = {t: (host, self.local.port) for t in transports_for(self.transport)}
        config = UaConfig(
            s.aor,
            contact=contact,
            outbound_proxy=outbound,
            username=s.username,
            password=s.password,
            register_expires=s.register_expires,
        )
        self.ua = UserAgent(config)
        self.pump = UaPump(self.ua)
        self.endpoint.attach(self.pump)

    # -- plumbing ------------------------------------------------------------------
    def _parts(self) -> tuple[SipEndpoint, UserAgent, UaPump]:
        if self.endpoint is None or self.ua is None or self.pump is None:
            raise UaAppError("UaApp.start() was not called", kind="usage")
        return self.endpoint, self.ua, self.pump

    def _flush(self) -> None:
        endpoint, _, pump = self._parts()
        endpoint.poke()
        pump.drain()

    async def _next(self, queue: asyncio.Queue[UaEvent], timeout: float | None) -> UaEvent | None:
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return None

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

    # -- calling ---------------------------------------------------------------------
    async def _new_media(self) -> CallMedia:
        assert self.local is not None
        media = await CallMedia.bind(self.local.host, on_wire=self.settings.on_media_wire)
        self._sessions.add(media)
        if self.settings.on_media is not None:
            self.settings.on_media(media)
        return media

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

    async def _next_of(
        self, queue: asyncio.Queue[UaEvent], kinds: tuple[type, ...], timeout: float | None
    ) -> UaEvent | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            event = await self._next(queue, left)
            if isinstance(event, ReinviteReceived):
                self._refuse_reinvite(event.call)
            elif event is None or isinstance(event, kinds):
                return event

    def _refuse_reinvite(self, call: Call) -> None:
        """RFC 3261 §14.2: an offer we do not take gets 488 and leaves the
        session as it was. Changing keys or codec mid-call is not supported."""
        endpoint, ua, _ = self._parts()
        try:
            ua.answer(call, endpoint.now(), status=488)
        except LocalProtocolError:
            return  # the re-INVITE is gone already
        self._flush()

    async def _until_ended(self, call: Call, queue: asyncio.Queue[UaEvent]) -> None:
        await self._next_of(queue, (CallEnded, CallFailed), self.settings.timeout)

    async def _hang_up(
        self, call: Call, queue: asyncio.Queue[UaEvent], media: CallMedia
    ) -> UaEvent | None:
        """End the media (RTCP BYE), send our BYE and wait for how the call
        ended. The session is over as the BYE goes (§15.1.1): what the peer
        still sends while it hangs up (baresip's RTCP BYE comes in clear) is
        not counted against it. The UA core holds a callee's BYE until the
        ACK came (§15); a caller's BYE that crossed ours ends the call."""
        media.close()
        endpoint, ua, _ = self._parts()
        try:
            ua.bye(call, endpoint.now())
        except LocalProtocolError:
            pass  # the call ended as we decided to end it; its event is queued
        self._flush()
        return await self._next_of(queue, (CallEnded, CallFailed), self.settings.timeout)

    async def _rtcp_without_mux(self, media: CallMedia, agreed: NegotiatedMedia) -> None:
        """We offer and answer rtcp-mux (RFC 5761); a peer that refused it
        sends its RTCP to our RTP port + 1, so we listen there too."""
        if agreed.config.rtcp_mux:
            return
        port = media.local_rtp[1] + 1
        if await media.open_rtcp_port():
            self._note(f"the peer refused rtcp-mux: receiving its RTCP on port {port}")
        else:
            self._note(f"the peer refused rtcp-mux and port {port} is taken: its RTCP is lost")

    def _drop(self, media: CallMedia) -> None:
        media.close()
        self._sessions.discard(media)

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
            for media in list(self._sessions):
                self._drop(media)
            if self.endpoint is not None:
                await self.endpoint.close()
            if self._listening is not None:
                self._listening.release()
