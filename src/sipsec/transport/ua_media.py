"""One call's media for the UA app: a :class:`MediaSession`, its SRTP, its counters.

The session is bound before the offer is written (the SDP names its port)
and started once offer and answer agreed: then the codec, ptime and the
SRTP contexts of each direction are known (RFC 3264 §6, RFC 4568 §7).
Without ``--play`` the UA sends a quiet 440 Hz tone, so that both
directions carry packets that can be counted and heard in a recording.
"""

from __future__ import annotations

import array
import asyncio
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipsec.rtp import MediaConfig
from sipsec.srtp import SrtpContext
from sipsec.srtp.keys import SRTP_LIFETIME
from sipsec.ua.media_offer import NegotiatedMedia

from .media import MediaSession
from .media_crypto import Datagram, MediaCrypto
from .trace import WireCallback, WireRecord

__all__ = ["CallMedia", "MediaCounters", "media_crypto", "tone"]

RATE = 8000


def tone(seconds: float, frequency: int = 440, amplitude: int = 3000) -> bytes:
    """``seconds`` of a sine as 8 kHz 16-bit little-endian PCM."""
    one = array.array(
        "h", (round(amplitude * math.sin(2 * math.pi * frequency * i / RATE)) for i in range(RATE))
    )
    if sys.byteorder != "little":
        one.byteswap()
    whole, rest = divmod(max(0, round(seconds * RATE)), RATE)
    data = one.tobytes()
    return data * whole + data[: 2 * rest]


def media_crypto(agreed: NegotiatedMedia) -> MediaCrypto:
    """SRTP contexts for the two directions, or plain RTP when none was agreed."""
    return MediaCrypto(*_contexts(agreed))


def _contexts(agreed: NegotiatedMedia) -> tuple[SrtpContext | None, SrtpContext | None]:
    send, receive = agreed.send_key, agreed.receive_key
    if send is None or receive is None:
        return None, None
    return (
        SrtpContext(
            send.suite, send.key_salt, mki=send.mki, srtp_lifetime=send.lifetime or SRTP_LIFETIME
        ),
        SrtpContext(
            receive.suite,
            receive.key_salt,
            mki=receive.mki,
            srtp_lifetime=receive.lifetime or SRTP_LIFETIME,
        ),
    )


class _WiredCrypto(MediaCrypto):
    """:class:`MediaCrypto` that also reports each protected datagram: what
    leaves the socket next, byte for byte (the session sends exactly what
    ``protect`` returns, in order), for a capture such as the demo's pcap."""

    def __init__(
        self,
        agreed: NegotiatedMedia,
        session: MediaSession,
        on_wire: WireCallback,
    ) -> None:
        super().__init__(*_contexts(agreed))
        self._session = session
        self._on_wire = on_wire

    def protect(self, datagrams: list[Datagram]) -> list[Datagram]:
        out = super().protect(datagrams)
        session, now = self._session, time.time()
        for data, addr, rtcp in out:
            local = session.local_rtcp if rtcp else session.local_rtp
            self._on_wire(WireRecord(now, "out", "udp", local, addr, data))
        return out


@dataclass(frozen=True, slots=True)
class MediaCounters:
    sent: int
    received: int
    rejected: int  # failed SRTP authentication, replays, malformed, foreign sources


class CallMedia:
    """A bound media session waiting for its keys, then running until closed."""

    def __init__(self, session: MediaSession, *, on_wire: WireCallback | None = None) -> None:
        self.session = session
        self.agreed: NegotiatedMedia | None = None
        self.on_wire = on_wire  # each datagram as sent (SRTP as on the wire)
        self.rtcp_received = 0  # SRTCP accepted on the port+1 socket (no rtcp-mux)
        self._rtcp: asyncio.DatagramTransport | None = None
        self._final: MediaCounters | None = None

    @classmethod
    async def bind(cls, host: str, *, on_wire: WireCallback | None = None) -> CallMedia:
        # rtcp-mux (RFC 5761) is what we offer and answer; one socket per call.
        return cls(await MediaSession.bind(MediaConfig(rtcp_mux=True), host), on_wire=on_wire)

    @property
    def local_rtp(self) -> tuple[str, int]:
        return self.session.local_rtp

    def start(
        self, agreed: NegotiatedMedia, *, audio: bytes | Path, record: Path | None = None
    ) -> None:
        """Send ``audio`` to the agreed peer under the agreed keys."""
        self.agreed = agreed
        # Without mux the peer's RTCP port is remote_rtcp; ours stays the RTP
        # socket (the offer said rtcp-mux), which a peer that refused mux may ignore.
        self.session.config = agreed.config
        crypto = (
            media_crypto(agreed)
            if self.on_wire is None
            else _WiredCrypto(agreed, self.session, self.on_wire)
        )
        self.session.start(
            agreed.remote_rtp,
            crypto,
            audio=audio,
            record=record,
            remote_rtcp=agreed.remote_rtcp,
        )

    async def open_rtcp_port(self) -> bool:
        """The peer refused rtcp-mux: RFC 5761 §5.1.3 and RFC 3605 §2 (no
        ``a=rtcp`` in our SDP) send its RTCP to our RTP port + 1, so listen
        there too. False when that port is taken (its RTCP is then lost)."""
        if self._rtcp is not None:
            return True
        host, port = self.local_rtp
        loop = asyncio.get_running_loop()
        try:
            self._rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _RtcpPort(self), local_addr=(host, port + 1)
            )
        except OSError:
            return False
        return True

    def rtcp_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """One datagram on the port+1 socket: SRTCP checked with the
        session's keys (failures counted there), then to the stream."""
        stream, crypto = self.session.stream, self.session.crypto
        if stream is None or crypto is None or self._final is not None:
            return
        plain = crypto.unprotect(data, True)
        if plain is None:
            return
        self.rtcp_received += 1
        stream.receive(plain, addr, asyncio.get_running_loop().time(), True)

    def counters(self) -> MediaCounters:
        if self._final is not None:
            return self._final
        stream, crypto = self.session.stream, self.session.crypto
        if stream is None or crypto is None:
            return MediaCounters(0, 0, 0)  # early packets before our keys: not rejected
        c, d = crypto.counters, stream.drops
        rejected = c.auth_failed + c.replayed + c.other
        rejected += d.malformed + d.unknown_payload_type + d.foreign_ssrc + d.foreign_address
        received = stream.stats.received if stream.stats is not None else 0
        return MediaCounters(stream.sender.packets_sent, received, rejected)

    def close(self, reason: str = "") -> MediaCounters:
        """Send RTCP BYE, close the sockets; the counters stay readable."""
        if self._final is None:
            self.session.close(reason)
            self._final = self.counters()
            if self._rtcp is not None:
                self._rtcp.close()
        return self._final


class _RtcpPort(asyncio.DatagramProtocol):
    def __init__(self, media: CallMedia) -> None:
        self._media = media

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._media.rtcp_datagram(data, (str(addr[0]), int(addr[1])))
