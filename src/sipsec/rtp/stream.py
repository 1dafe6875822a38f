"""A sans-IO media stream: one G.711 audio stream both ways, RTP and RTCP.

:class:`MediaStream` joins the sender, the reception statistics, the jitter
buffer and the RTCP schedule behind the DESIGN.md interface:
``receive(data, addr, now)``, ``handle_timer(now)``, ``get_timer()``,
``datagrams_to_send()``, ``next_event()``.  It reads no clock and no socket;
SRTP is applied outside it (the asyncio shell in ``sipsec.transport``), so
everything it sees has already been authenticated.

Bad input never raises: a malformed packet, an unknown payload type, a
second SSRC or a datagram from an address other than the peer's is dropped
and counted in :class:`DropCounters`.
"""

from __future__ import annotations

import enum
import math
import random
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sipsec.rtp import g711
from sipsec.rtp.jitter import JitterBuffer, PlayedFrame
from sipsec.rtp.packet import RtpError, RtpPacket
from sipsec.rtp.rtcp import (
    Bye,
    ReceiverReport,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    is_rtcp,
    parse_compound,
)
from sipsec.rtp.rtcp_timer import RtcpSchedule
from sipsec.rtp.sender import RtpSender
from sipsec.rtp.stats import ReceptionStats, round_trip_time

__all__ = [
    "CODECS",
    "ByeReceived",
    "DropCounters",
    "Latching",
    "MediaConfig",
    "MediaEvent",
    "MediaStream",
    "ReceptionSummary",
    "RoundTripMeasured",
    "SourceLatched",
]

Address = tuple[str, int]
Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]
# RFC 3551 §6 static payload types: 0 PCMU, 8 PCMA, both 8 kHz.
CODECS: dict[int, Codec] = {
    0: (g711.ulaw_encode, g711.ulaw_decode),
    8: (g711.alaw_encode, g711.alaw_decode),
}
NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
# Audio up to this many octets of PCM (30 s at 8 kHz) is coded once, whole,
# when the stream starts; longer audio frame by frame as it is sent.
PRECODE_LIMIT = 2 * 8000 * 30
# The last few audio buffers coded whole, by payload type and content: many
# calls playing one prompt (a demo, a load test, an announcement) code it once.
_PRECODED: dict[tuple[int, bytes], bytes] = {}
_PRECODED_KEEP = 4
_FIXED = struct.Struct("!BHII")  # octets 1-11 of an RTP header (§5.1)


class Latching(enum.Enum):
    """Which source address the stream accepts media from, and sends to.

    ``STRICT``: only the address from signalling; nothing else, ever.
    ``SYMMETRIC``: the first valid packet's source becomes the peer (RFC 4961
    symmetric RTP, the NAT-friendly choice), then no other address is
    accepted.  Behind SRTP only authenticated packets reach the stream, so an
    attacker cannot steer the latch without the key.
    """

    STRICT = "strict"
    SYMMETRIC = "symmetric"


@dataclass(slots=True)
class MediaConfig:
    payload_type: int = 0
    ptime: float = 0.02
    clock_rate: int = 8000
    rtcp_mux: bool = True
    latching: Latching = Latching.SYMMETRIC
    jitter_delay: float = 0.06
    jitter_depth: int = 50
    cname: str = "sipsec@localhost"
    rtcp_interval: float = 5.0
    # Suppress frames whose peak stays under this (0 = send every frame).
    silence_threshold: int = 0


@dataclass(slots=True)
class DropCounters:
    malformed: int = 0
    unknown_payload_type: int = 0
    foreign_ssrc: int = 0
    foreign_address: int = 0
    stale: int = 0  # out of the sequence window, or a restart not yet confirmed


@dataclass(slots=True, frozen=True)
class SourceLatched:
    address: Address
    rtcp: bool


@dataclass(slots=True, frozen=True)
class ByeReceived:
    ssrc: int
    reason: str


@dataclass(slots=True, frozen=True)
class RoundTripMeasured:
    seconds: float


MediaEvent = SourceLatched | ByeReceived | RoundTripMeasured


@dataclass(slots=True, frozen=True)
class ReceptionSummary:
    """What a caller wants to know about the incoming stream, in one place."""

    received: int  # unique packets from the peer's SSRC
    lost: int  # expected and never received (A.3)
    duplicates: int
    late: int  # arrived after their playout time, dropped
    concealed_ms: float  # silence played in place of missing audio
    jitter_ms: float  # interarrival jitter (A.8)
    rtt_ms: float | None  # from the peer's reports (LSR/DLSR)
    drops: DropCounters


@dataclass(slots=True)
class _Peer:
    rtp: Address | None
    rtcp: Address | None
    rtp_latched: bool = False
    rtcp_latched: bool = False


class MediaStream:
    """One audio stream: sends ``audio`` (8 kHz 16-bit PCM), plays what arrives."""

    def __init__(
        self,
        config: MediaConfig,
        *,
        now: float,
        remote_rtp: Address | None = None,
        remote_rtcp: Address | None = None,
        audio: bytes = b"",
        rng: random.Random | None = None,
        ntp_offset: float = NTP_UNIX_OFFSET,
    ) -> None:
        if config.payload_type not in CODECS:
            raise ValueError(f"payload type {config.payload_type} is not G.711 (0 or 8)")
        rng = rng or random.SystemRandom()
        self.config = config
        self._encode, self._decode = CODECS[config.payload_type]
        self._encode(b"")  # build the codec tables now, not on the first 20 ms tick
        self._ntp_offset = ntp_offset  # NTP time = now + ntp_offset
        if remote_rtcp is None and remote_rtp is not None:
            remote_rtcp = remote_rtp if config.rtcp_mux else (remote_rtp[0], remote_rtp[1] + 1)
        self._peer = _Peer(remote_rtp, remote_rtcp)
        self.sender = RtpSender(
            config.payload_type,
            now=now,
            rng=rng,
            clock_rate=config.clock_rate,
            ptime=config.ptime,
        )
        self._audio = memoryview(audio)
        self._audio_offset = 0
        self._frame_octets = 2 * self.sender.samples_per_frame
        # G.711 codes each sample alone, so coding the whole audio up front
        # gives the very octets frame-by-frame coding gives, without a table
        # look-up per sample on every 20 ms tick.
        self._coded = _precoded(config.payload_type, audio, self._encode)
        self.jitter = JitterBuffer(config.clock_rate, config.jitter_delay, config.jitter_depth)
        self.stats: ReceptionStats | None = None
        self.drops = DropCounters()
        self.rtt: float | None = None
        self.bye_received = False
        self._rtcp = RtcpSchedule(config.rtcp_interval, now, rng)
        self._played: list[bytes] = []
        self._out: list[tuple[bytes, Address, bool]] = []
        self._events: deque[MediaEvent] = deque()
        self._closed = False

    # -- the sans-IO interface ------------------------------------------------

    @property
    def sending(self) -> bool:
        return not self._closed and self._audio_offset < len(self._audio)

    def get_timer(self) -> float | None:
        """The next instant :meth:`handle_timer` wants to run.

        While sending, playout rides on the send ticks (one wake-up per ptime
        per stream); otherwise the jitter buffer's own deadline counts.
        """
        if self._closed:
            return None
        times = [self._rtcp.next_time]
        if self.sending:
            times.append(self.sender.next_time)
        else:
            due = self.jitter.next_time()
            if due is not None:
                times.append(due)
        return min(times)

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        self._send_due(now)
        self._play(self.jitter.pop(now))
        if self._rtcp.due(now):
            self._send_rtcp(now, [])
            self._rtcp.sent(now)

    def receive(self, data: bytes, addr: Address, now: float, rtcp: bool | None = None) -> None:
        """One datagram from ``addr``; ``rtcp`` None means demultiplex (RFC 5761)."""
        if self._closed:
            return
        if rtcp is None:
            rtcp = is_rtcp(data)
        if rtcp:
            self._receive_rtcp(data, addr, now)
        else:
            self._receive_rtp(data, addr, now)

    def datagrams_to_send(self) -> list[tuple[bytes, Address, bool]]:
        """``(datagram, address, is_rtcp)`` for everything queued since the last call."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> MediaEvent | None:
        return self._events.popleft() if self._events else None

    def take_audio(self) -> bytes:
        """The PCM played out since the last call (decoded audio and silence)."""
        played, self._played = self._played, []
        return b"".join(played)

    def summary(self) -> ReceptionSummary:
        stats, jitter = self.stats, self.jitter
        rate = self.config.clock_rate
        return ReceptionSummary(
            received=stats.received if stats else 0,
            lost=stats.lost if stats else 0,
            duplicates=stats.duplicates if stats else 0,
            late=jitter.late,
            concealed_ms=1000 * jitter.concealed_samples / rate,
            jitter_ms=1000 * stats.jitter / rate if stats else 0.0,
            rtt_ms=None if self.rtt is None else 1000 * self.rtt,
            drops=DropCounters(*(getattr(self.drops, f) for f in DropCounters.__slots__)),
        )

    def close(self, now: float, reason: str = "") -> None:
        """Leave the session: a last compound RTCP packet with BYE (§6.6).

        Whatever the jitter buffer still holds is played out at once, so
        :meth:`take_audio` returns everything that was received.
        """
        if self._closed:
            return
        self._play(self.jitter.pop(math.inf))
        self._send_rtcp(now, [Bye([self.sender.ssrc], reason.encode()[:255])])
        self._closed = True

    def _play(self, frames: list[PlayedFrame]) -> None:
        for frame in frames:
            if frame.payload is None:
                self._played.append(bytes(2 * frame.samples))
            else:
                self._played.append(self._decode(frame.payload))

    # -- sending --------------------------------------------------------------

    def _send_due(self, now: float) -> None:
        sender = self.sender
        audio = self._audio
        destination = self._peer.rtp
        threshold = self.config.silence_threshold
        coded = self._coded
        size = self._frame_octets
        while sender.next_time <= now and self._audio_offset < len(audio):
            offset = self._audio_offset
            self._audio_offset += size
            frame: memoryview | bytes = audio[offset : offset + size]
            if len(frame) < size:  # the last frame, padded with silence
                frame = bytes(frame) + bytes(size - len(frame))
            if threshold and _peak(frame) < threshold:
                sender.skip()
                continue
            if coded is not None and offset + size <= len(audio):
                payload = coded[offset >> 1 : (offset + size) >> 1]
            else:  # long audio, or the padded last frame
                payload = self._encode(bytes(frame))
            packet = sender.send(payload, now)
            if destination is not None:
                self._out.append((packet, destination, False))

    def _send_rtcp(self, now: float, extra: list[RtcpPacket]) -> None:
        if self._peer.rtcp is None:
            return
        blocks = [self.stats.report_block(now)] if self.stats is not None else []
        report: RtcpPacket
        if self.sender.packets_sent:
            ntp = round((now + self._ntp_offset) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF
            report = SenderReport(
                self.sender.ssrc,
                ntp,
                self.sender.rtp_timestamp_at(now),
                self.sender.packets_sent & 0xFFFFFFFF,
                self.sender.octets_sent & 0xFFFFFFFF,
                blocks,
            )
        else:
            report = ReceiverReport(self.sender.ssrc, blocks)
        sdes = SourceDescription([(self.sender.ssrc, [(1, self.config.cname.encode()[:255])])])
        packet = build_compound([report, sdes, *extra])
        self._out.append((packet, self._peer.rtcp, True))

    # -- receiving ------------------------------------------------------------

    def _accept_from(self, addr: Address, rtcp: bool) -> bool:
        peer = self._peer
        expected = peer.rtcp if rtcp else peer.rtp
        if addr == expected:
            return True
        latched = peer.rtcp_latched if rtcp else peer.rtp_latched
        if self.config.latching is Latching.STRICT or latched:
            self.drops.foreign_address += 1
            return False
        return True

    def _latch(self, addr: Address, rtcp: bool) -> None:
        peer = self._peer
        if rtcp:
            if not peer.rtcp_latched:
                peer.rtcp_latched = True
                if peer.rtcp != addr:
                    peer.rtcp = addr
                    self._events.append(SourceLatched(addr, True))
        elif not peer.rtp_latched:
            peer.rtp_latched = True
            if peer.rtp != addr:
                peer.rtp = addr
                self._events.append(SourceLatched(addr, False))
            if self.config.rtcp_mux and not peer.rtcp_latched:
                self._latch(addr, True)

    def _receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        if not self._accept_from(addr, False):
            return
        if len(data) > 12 and data[0] == 0x80:
            # The common case (no CSRC, extension or padding), without the
            # dataclass: this runs 50 times a second per call.
            marker_pt, sequence, timestamp, ssrc = _FIXED.unpack_from(data, 1)
            payload_type = marker_pt & 0x7F
            payload = data[12:]
        else:
            try:
                packet = RtpPacket.parse(data)
            except RtpError:
                self.drops.malformed += 1
                return
            payload_type, sequence = packet.payload_type, packet.sequence_number
            timestamp, ssrc, payload = packet.timestamp, packet.ssrc, packet.payload
        if payload_type != self.config.payload_type:
            self.drops.unknown_payload_type += 1
            return
        stats = self.stats
        if stats is None:
            stats = self.stats = ReceptionStats(ssrc, sequence, self.config.clock_rate)
        elif ssrc != stats.ssrc:
            self.drops.foreign_ssrc += 1
            return
        self._latch(addr, False)
        duplicates = stats.duplicates
        if stats.update(sequence, timestamp, now) is None:
            if stats.duplicates == duplicates:
                self.drops.stale += 1
            return
        self.jitter.push(timestamp, payload, now)

    def _receive_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        if not self._accept_from(addr, True):
            return
        try:
            packets = parse_compound(data)
        except RtpError:
            self.drops.malformed += 1
            return
        self._latch(addr, True)
        stats = self.stats
        for packet in packets:
            if isinstance(packet, SenderReport | ReceiverReport):
                if isinstance(packet, SenderReport) and stats and packet.ssrc == stats.ssrc:
                    stats.sender_report_received(packet.ntp_timestamp, now)
                for block in packet.reports:
                    if block.ssrc != self.sender.ssrc:
                        continue
                    ntp_now = round((now + self._ntp_offset) * (1 << 32))
                    rtt = round_trip_time(block, ntp_now)
                    if rtt is not None:
                        self.rtt = rtt
                        self._events.append(RoundTripMeasured(rtt))
            elif isinstance(packet, Bye) and packet.ssrcs:
                # From the peer's address; a peer that never sent RTP has no
                # stats yet, otherwise the BYE must name the source we hear.
                if stats is not None and stats.ssrc not in packet.ssrcs:
                    continue
                self.bye_received = True
                reason = packet.reason.decode("utf-8", "replace")
                ssrc = stats.ssrc if stats is not None else packet.ssrcs[0]
                self._events.append(ByeReceived(ssrc, reason))


def _precoded(payload_type: int, audio: bytes, encode: Callable[[bytes], bytes]) -> bytes | None:
    """All of ``audio`` coded (whole frames only matter), or None when too long."""
    if not audio or len(audio) > PRECODE_LIMIT or len(audio) % 2:
        return None
    key = (payload_type, bytes(audio))
    coded = _PRECODED.get(key)
    if coded is None:
        coded = encode(key[1])
        if len(_PRECODED) >= _PRECODED_KEEP:
            del _PRECODED[next(iter(_PRECODED))]  # the oldest
        _PRECODED[key] = coded
    return coded


def _peak(frame: memoryview | bytes) -> int:
    """Largest magnitude in a frame (native order: little-endian hosts)."""
    samples = memoryview(frame).cast("B").cast("h")
    return max(max(samples), -min(samples)) if len(samples) else 0  # noqa: PLW3301
