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

The configuration, events and counters are in :mod:`sipsec.rtp.stream_types`
(re-exported here), the audio coded up front in :mod:`sipsec.rtp.precode`.
Playout keeps the coded payloads and decodes them in runs when the audio is
taken (G.711 codes each octet alone, so that is the same PCM, with fewer
calls); the send and receive paths run 50 times a second per call and are
written for that, with ``tests/rtp`` holding them to the general rules.
"""

from __future__ import annotations

import math
import random
import struct
from collections import deque
from dataclasses import dataclass

from sipsec.rtp.jitter import JitterBuffer
from sipsec.rtp.packet import RtpError, RtpPacket
from sipsec.rtp.precode import PRECODE_LIMIT, peak, precoded
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
from sipsec.rtp.stream_types import (
    CODECS,
    NTP_UNIX_OFFSET,
    Address,
    ByeReceived,
    DropCounters,
    Latching,
    MediaConfig,
    MediaEvent,
    ReceptionSummary,
    RoundTripMeasured,
    SourceLatched,
)

__all__ = [
    "CODECS",
    "NTP_UNIX_OFFSET",
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

_FIXED = struct.Struct("!BHII")  # octets 1-11 of an RTP header (§5.1)


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
        self._audio_len = len(audio)
        self._audio_offset = 0
        self._frame_octets = 2 * self.sender.samples_per_frame
        # G.711 codes each sample alone, so coding the whole audio up front
        # gives the very octets frame-by-frame coding gives, without a table
        # look-up per sample on every 20 ms tick.
        self._coded = precoded(config.payload_type, audio, self._encode, PRECODE_LIMIT)
        self.jitter = JitterBuffer(config.clock_rate, config.jitter_delay, config.jitter_depth)
        self.stats: ReceptionStats | None = None
        self.drops = DropCounters()
        self.rtt: float | None = None
        self.bye_received = False
        self._rtcp = RtcpSchedule(config.rtcp_interval, now, rng)
        # Played out and not yet taken: coded payloads, or an int of silent
        # samples; decoded by take_audio, in runs (G.711 codes each octet alone).
        self._played: list[bytes | int] = []
        self._out: list[tuple[bytes, Address, bool]] = []
        self._events: deque[MediaEvent] = deque()
        self._closed = False

    # -- the sans-IO interface ------------------------------------------------

    @property
    def sending(self) -> bool:
        return not self._closed and self._audio_offset < self._audio_len

    def get_timer(self) -> float | None:
        """The next instant :meth:`handle_timer` wants to run.

        While sending, playout rides on the send ticks (one wake-up per ptime
        per stream); otherwise the jitter buffer's own deadline counts.
        """
        if self._closed:
            return None
        rtcp = self._rtcp.next_time
        if self._audio_offset < self._audio_len:
            due: float | None = self.sender.next_time
        else:
            due = self.jitter.next_time()
        return due if due is not None and due < rtcp else rtcp

    def handle_timer(self, now: float) -> None:
        if self._closed:
            return
        if self.sender.next_time <= now and self._audio_offset < self._audio_len:
            self._send_due(now)
        played = self.jitter.pop_payloads(now)
        if played:
            self._played += played
        if self._rtcp.next_time <= now:
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

    @property
    def pending_audio(self) -> int:
        """Frames (and silent gaps) played out and not yet taken by :meth:`take_audio`."""
        return len(self._played)

    def take_audio(self) -> bytes:
        """The PCM played out since the last call (decoded audio and silence)."""
        played = self._played
        if not played:
            return b""
        self._played = []
        decode = self._decode
        if len(played) == 1 and type(played[0]) is bytes:
            return decode(played[0])
        pcm: list[bytes] = []
        run: list[bytes] = []
        for item in played:
            if type(item) is bytes:
                run.append(item)
                continue
            if run:
                pcm.append(decode(b"".join(run)))
                run = []
            pcm.append(bytes(2 * item))
        if run:
            pcm.append(decode(b"".join(run)))
        return b"".join(pcm)

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
        self._played += self.jitter.pop_payloads(math.inf)
        self._send_rtcp(now, [Bye([self.sender.ssrc], reason.encode()[:255])])
        self._closed = True

    # -- sending --------------------------------------------------------------

    def _send_due(self, now: float) -> None:
        sender = self.sender
        audio = self._audio
        total = self._audio_len
        destination = self._peer.rtp
        threshold = self.config.silence_threshold
        coded = self._coded
        size = self._frame_octets
        out = self._out
        while sender.next_time <= now and self._audio_offset < total:
            offset = self._audio_offset
            end = self._audio_offset = offset + size
            if coded is not None and not threshold and end <= total:
                # The steady state: a slice of the audio coded up front.
                packet = sender.send(coded[offset >> 1 : end >> 1], now)
                if destination is not None:
                    out.append((packet, destination, False))
                continue
            frame: memoryview | bytes = audio[offset:end]
            if len(frame) < size:  # the last frame, padded with silence
                frame = bytes(frame) + bytes(size - len(frame))
            if threshold and peak(frame) < threshold:
                sender.skip()
                continue
            if coded is not None and end <= total:
                payload = coded[offset >> 1 : (offset + size) >> 1]
            else:  # long audio, or the padded last frame
                payload = self._encode(bytes(frame))
            packet = sender.send(payload, now)
            if destination is not None:
                out.append((packet, destination, False))

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
        peer = self._peer
        if addr != peer.rtp and not self._accept_from(addr, False):
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
        if not peer.rtp_latched:
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
