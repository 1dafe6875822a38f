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
from collections import deque

from sipsec.rtp.jitter import JitterBuffer
from sipsec.rtp.precode import PRECODE_LIMIT, peak, precoded
from sipsec.rtp.rtcp import (
    Bye,
    ReceiverReport,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    is_rtcp,
)
from sipsec.rtp.rtcp_timer import RtcpSchedule
from sipsec.rtp.sender import RtpSender
from sipsec.rtp.stats import ReceptionStats
from sipsec.rtp.stream_receive import Peer, StreamReceiving
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


class MediaStream(StreamReceiving):
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
        self._payload_type = config.payload_type
        self._encode, self._decode = CODECS[config.payload_type]
        self._encode(b"")  # build the codec tables now, not on the first 20 ms tick
        self._ntp_offset = ntp_offset  # NTP time = now + ntp_offset
        if remote_rtcp is None and remote_rtp is not None:
            remote_rtcp = remote_rtp if config.rtcp_mux else (remote_rtp[0], remote_rtp[1] + 1)
        self._peer = Peer(remote_rtp, remote_rtcp)
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
        # The same queue, for a shell that checks it on every packet: a
        # truth test where next_event() would be a call.
        self.events = self._events
        self._closed = False
        # Whether audio is still being sent: kept where the offset moves and
        # in close(), so that the shell reads it per packet without a call.
        self.sending = self._audio_offset < self._audio_len

    # -- the sans-IO interface ------------------------------------------------

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
        sender = self.sender
        if sender.next_time <= now and self.sending:
            offset = self._audio_offset
            end = offset + self._frame_octets
            coded = self._coded
            destination = self._peer.rtp
            if coded is not None and end < self._audio_len and not self.config.silence_threshold:
                # The steady state, one frame of the audio coded up front: what
                # _send_due's first pass does, without the call and the loop.
                self._audio_offset = end
                packet = sender.send(coded[offset >> 1 : end >> 1], now)
                if destination is not None:
                    self._out.append((packet, destination, False))
                if sender.next_time <= now:  # more than one frame was due
                    self._send_due(now)
            else:
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
            self.receive_rtp(data, addr, now)

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
        self.sending = False

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
        self.sending = self._audio_offset < total

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
