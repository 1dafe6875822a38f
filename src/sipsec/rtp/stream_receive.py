"""The receiving half of a media stream: RTP into the jitter buffer, RTCP into the reports.

:class:`StreamReceiving` is a part of :class:`sipsec.rtp.MediaStream` (its
base class), kept apart because the stream's sending half and its receiving
half are each a module's worth.  Everything here has already passed SRTP
in the shell; what fails the RFC 3550 rules or the latching policy (RFC
4961) is dropped and counted, never raised.

An RTP packet takes the general path — header parse (§5.1), the reception
statistics' ``update`` (Appendix A.1, A.8) and the jitter buffer's ``push``
— unless it is the packet a call receives 50 times a second: a plain
12-octet header, the source already heard from its latched address, the
sequence number one past the highest and the frame landing in the buffer
with room to spare.  That case is written inline here, with the very
arithmetic of ``ReceptionStats.update`` and ``JitterBuffer.push``, and
``tests/rtp/test_stream_receive.py`` holds the two paths to the same state,
packet for packet.
"""

from __future__ import annotations

import struct
from collections import deque

from sipsec.rtp.jitter import JitterBuffer
from sipsec.rtp.packet import RtpError, RtpPacket
from sipsec.rtp.rtcp import Bye, ReceiverReport, SenderReport, parse_compound
from sipsec.rtp.sender import RtpSender
from sipsec.rtp.stats import JITTER_JUMP, WINDOW_MASK, ReceptionStats, round_trip_time
from sipsec.rtp.stream_types import (
    Address,
    ByeReceived,
    DropCounters,
    Latching,
    MediaConfig,
    MediaEvent,
    RoundTripMeasured,
    SourceLatched,
)

__all__ = ["Peer", "StreamReceiving"]

_FIXED = struct.Struct("!BHII")  # octets 1-11 of an RTP header (§5.1)


class Peer:
    """Where the peer's RTP and RTCP come from and go to, and whether latched."""

    __slots__ = ("rtcp", "rtcp_latched", "rtp", "rtp_latched")

    def __init__(self, rtp: Address | None, rtcp: Address | None) -> None:
        self.rtp = rtp
        self.rtcp = rtcp
        self.rtp_latched = False
        self.rtcp_latched = False


class StreamReceiving:
    """RTP and RTCP reception of :class:`sipsec.rtp.MediaStream`."""

    # Set by MediaStream.__init__.
    config: MediaConfig
    sender: RtpSender
    jitter: JitterBuffer
    stats: ReceptionStats | None
    drops: DropCounters
    rtt: float | None
    bye_received: bool
    _peer: Peer
    _payload_type: int
    _events: deque[MediaEvent]
    _ntp_offset: float
    _closed: bool

    def receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        """One RTP packet (already known not to be RTCP) from ``addr``."""
        if self._closed:
            return
        peer = self._peer
        if addr != peer.rtp and not self._accept_from(addr, False):
            return
        stats = self.stats
        if stats is None or len(data) <= 12 or data[0] != 0x80 or not peer.rtp_latched:
            self._receive_rtp(data, addr, now)
            return
        marker_pt, sequence, timestamp, ssrc = _FIXED.unpack_from(data, 1)
        if (
            sequence != stats.max_seq + 1
            or ssrc != stats.ssrc
            or marker_pt & 0x7F != self._payload_type
        ):
            self._receive_rtp(data, addr, now)
            return
        # ReceptionStats.update for the next packet in order (A.1: the
        # highest moves on by one, no wrap; the packet cannot be a duplicate).
        stats._seen = ((stats._seen << 1) & WINDOW_MASK) | 1
        stats.max_seq = sequence
        stats.received += 1
        transit = now * stats.clock_rate - timestamp
        previous = stats._transit
        if previous is not None:
            d = abs(transit - previous)
            if d < JITTER_JUMP:  # not a timestamp wrap or jump
                stats.jitter += (d - stats.jitter) / 16
        stats._transit = transit
        # JitterBuffer.push when the frame is new, at or after the newest
        # and within the buffer's depth; anything else (or a buffer of
        # another class, whose push may do more) goes there.
        jitter = self.jitter
        newest = jitter._newest
        cursor = jitter._cursor
        step = (timestamp - newest) & 0xFFFFFFFF
        frames = jitter._frames
        if cursor is not None and step < 0x80000000 and type(jitter) is JitterBuffer:
            ts = newest + step
            samples = len(data) - 12
            if (
                ts >= cursor
                and ts - cursor < jitter.depth * samples
                and len(frames) < jitter.depth
                and ts not in frames
            ):
                frames[ts] = (data[12:], samples)
                jitter._newest = ts
                return
        jitter.push(timestamp, data[12:], now)

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
        """The general path: any RTP packet from an accepted address."""
        peer = self._peer
        if len(data) > 12 and data[0] == 0x80:
            # No CSRC, extension or padding: the header without the dataclass.
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
