"""The plumbing under :class:`~sipsec.transport.ua_app.UaApp`: its state,
starting (listen, resolve the proxy, attach the UA core) and closing, the
media session of each call, and waiting for a call's events — its end,
a re-INVITE refused on the way (§14.2), our BYE (§15.1.1). What a user
does with the app (register, call, answer) is :mod:`.ua_app`'s.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sipsec.errors import LocalProtocolError
from sipsec.transaction import Peer, TransportName
from sipsec.ua import (
    Call,
    CallEnded,
    CallFailed,
    ReinviteReceived,
    UaConfig,
    UaEvent,
    UserAgent,
)
from sipsec.ua.media_offer import NegotiatedMedia

from .endpoint import SipEndpoint
from .ua_events import UaPump
from .ua_keys import keys_protected_to
from .ua_listen import (
    Listening,
    advertised_address,
    listens_on_tls,
    open_listening,
    transports_for,
)
from .ua_media import CallMedia
from .ua_settings import UaAppError, UaSettings, sip_uri

__all__ = ["UaAppBase", "wall_clock"]


def wall_clock() -> dt.datetime:
    """Now, for certificate validity (S/MIME signing and checking)."""
    return dt.datetime.now(dt.UTC)


class UaAppBase:
    """The state, lifecycle and shared plumbing of a :class:`UaApp`."""

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

    # -- media and the end of a call --------------------------------------------------
    async def _new_media(self) -> CallMedia:
        assert self.local is not None
        media = await CallMedia.bind(self.local.host, on_wire=self.settings.on_media_wire)
        self._sessions.add(media)
        if self.settings.on_media is not None:
            self.settings.on_media(media)
        return media

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

    # -- shutdown --------------------------------------------------------------------
    async def _release(self) -> None:
        """Close every media session, the endpoint and its sockets."""
        for media in list(self._sessions):
            self._drop(media)
        if self.endpoint is not None:
            await self.endpoint.close()
        if self._listening is not None:
            self._listening.release()
