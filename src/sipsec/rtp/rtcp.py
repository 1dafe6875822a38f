"""RTCP packets, RFC 3550 §6: SR, RR, SDES, BYE and compound packets;
RFC 5761 §4 demultiplexing of RTP and RTCP sharing one port.

Every packet type has ``parse()`` (from the body following the common header)
and ``__bytes__``; :func:`parse_compound` splits a compound packet and
:func:`build_compound` joins one.  Unknown packet types (APP, XR, feedback …)
are carried through as :class:`UnknownRtcp` so a round trip is exact.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from sipsec.rtp.packet import RTP_VERSION, RtpError

__all__ = [
    "Bye",
    "ReceiverReport",
    "ReportBlock",
    "RtcpPacket",
    "SenderReport",
    "SourceDescription",
    "UnknownRtcp",
    "build_compound",
    "is_rtcp",
    "parse_compound",
]

PT_SR, PT_RR, PT_SDES, PT_BYE = 200, 201, 202, 203
SDES_CNAME = 1
_COMMON = struct.Struct("!BBH")
_BLOCK = struct.Struct("!IIIIII")
_SR_INFO = struct.Struct("!IIIII")


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: with rtcp-mux, an octet 1 of 192–223 marks RTCP (SR 200 … 207).

    RTP payload types 64–95 are the ones this rules out; G.711 (0, 8) and
    dynamic types 96–127 never collide.
    """
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class ReportBlock:
    """§6.4.1 report block: reception quality of one source."""

    ssrc: int
    fraction_lost: int  # 8-bit fixed point, lost/expected × 256
    cumulative_lost: int  # signed 24-bit: duplicates can make it negative
    highest_sequence: int  # extended highest sequence number received
    jitter: int  # interarrival jitter, timestamp units
    lsr: int  # middle 32 bits of the NTP time of the last SR received
    dlsr: int  # delay since that SR, 1/65536 s

    @classmethod
    def parse(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, word, ext, jitter, lsr, dlsr = _BLOCK.unpack_from(data, offset)
        lost = word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(ssrc, word >> 24, lost, ext, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        if not 0 <= self.fraction_lost <= 255:
            raise RtpError("fraction lost is an 8-bit value")
        lost = max(-0x800000, min(0x7FFFFF, self.cumulative_lost)) & 0xFFFFFF
        return _BLOCK.pack(
            self.ssrc,
            self.fraction_lost << 24 | lost,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _blocks(data: bytes, offset: int, count: int) -> tuple[list[ReportBlock], int]:
    if len(data) < offset + 24 * count:
        raise RtpError(f"RTCP report claims {count} blocks it does not hold")
    blocks = [ReportBlock.parse(data, offset + 24 * i) for i in range(count)]
    return blocks, offset + 24 * count


@dataclass(slots=True)
class SenderReport:
    """§6.4.1 SR, packet type 200."""

    ssrc: int
    ntp_timestamp: int  # 64-bit NTP format: seconds since 1900 << 32 | fraction
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""  # profile-specific extension (§6.4.1), kept verbatim

    @classmethod
    def parse(cls, count: int, body: bytes) -> SenderReport:
        if len(body) < 24:
            raise RtpError("RTCP SR shorter than its sender information")
        ssrc, msw, lsw, rtp_ts, packets = _SR_INFO.unpack_from(body)
        (octets,) = struct.unpack_from("!I", body, 20)
        reports, end = _blocks(body, 24, count)
        return cls(ssrc, msw << 32 | lsw, rtp_ts, packets, octets, reports, bytes(body[end:]))

    def __bytes__(self) -> bytes:
        body = _SR_INFO.pack(
            self.ssrc,
            self.ntp_timestamp >> 32 & 0xFFFFFFFF,
            self.ntp_timestamp & 0xFFFFFFFF,
            self.rtp_timestamp,
            self.packet_count,
        )
        body += struct.pack("!I", self.octet_count)
        body += b"".join(bytes(r) for r in self.reports) + self.extension
        return _pack(PT_SR, len(self.reports), body)


@dataclass(slots=True)
class ReceiverReport:
    """§6.4.2 RR, packet type 201."""

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""

    @classmethod
    def parse(cls, count: int, body: bytes) -> ReceiverReport:
        if len(body) < 4:
            raise RtpError("RTCP RR shorter than its SSRC")
        (ssrc,) = struct.unpack_from("!I", body)
        reports, end = _blocks(body, 4, count)
        return cls(ssrc, reports, bytes(body[end:]))

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(r) for r in self.reports)
        return _pack(PT_RR, len(self.reports), body + self.extension)


@dataclass(slots=True)
class SourceDescription:
    """§6.5 SDES, packet type 202: per SSRC a list of ``(item type, value)``.

    CNAME (§6.5.1, type 1) is the one every compound packet carries.
    """

    chunks: list[tuple[int, list[tuple[int, bytes]]]] = field(default_factory=list)

    def cname(self, ssrc: int) -> str | None:
        for source, items in self.chunks:
            if source == ssrc:
                for kind, value in items:
                    if kind == SDES_CNAME:
                        return value.decode("utf-8", "replace")
        return None

    @classmethod
    def parse(cls, count: int, body: bytes) -> SourceDescription:
        chunks = []
        offset = 0
        for _ in range(count):
            if len(body) < offset + 4:
                raise RtpError("RTCP SDES chunk truncated")
            (ssrc,) = struct.unpack_from("!I", body, offset)
            offset += 4
            items = []
            while True:
                if offset >= len(body):
                    raise RtpError("RTCP SDES chunk has no terminating null item")
                kind = body[offset]
                if kind == 0:
                    # §6.5: one or more nulls end the chunk, up to a 32-bit boundary.
                    offset = (offset + 4) & ~3
                    break
                if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                    raise RtpError("RTCP SDES item runs past the end of the packet")
                length = body[offset + 1]
                items.append((kind, bytes(body[offset + 2 : offset + 2 + length])))
                offset += 2 + length
            chunks.append((ssrc, items))
        return cls(chunks)

    def __bytes__(self) -> bytes:
        if len(self.chunks) > 31:
            raise RtpError("an SDES packet carries at most 31 chunks")
        body = b""
        for ssrc, items in self.chunks:
            chunk = struct.pack("!I", ssrc)
            for kind, value in items:
                if not 0 < kind < 256 or len(value) > 255:
                    raise RtpError("an SDES item has type 1-255 and at most 255 octets")
                chunk += bytes([kind, len(value)]) + value
            chunk += bytes(4 - len(chunk) % 4)  # at least one null, to a word boundary
            body += chunk
        return _pack(PT_SDES, len(self.chunks), body)


@dataclass(slots=True)
class Bye:
    """§6.6 BYE, packet type 203: the sources leave, with an optional reason."""

    ssrcs: list[int] = field(default_factory=list)
    reason: bytes = b""

    @classmethod
    def parse(cls, count: int, body: bytes) -> Bye:
        if len(body) < 4 * count:
            raise RtpError("RTCP BYE truncated inside its SSRC list")
        ssrcs = list(struct.unpack_from(f"!{count}I", body))
        reason = b""
        rest = body[4 * count :]
        if rest:
            if 1 + rest[0] > len(rest):
                raise RtpError("RTCP BYE reason runs past the end of the packet")
            reason = bytes(rest[1 : 1 + rest[0]])
        return cls(ssrcs, reason)

    def __bytes__(self) -> bytes:
        if len(self.ssrcs) > 31 or len(self.reason) > 255:
            raise RtpError("a BYE has at most 31 SSRCs and a 255-octet reason")
        body = struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        if self.reason:
            body += bytes([len(self.reason)]) + self.reason
            body += bytes(-len(body) % 4)
        return _pack(PT_BYE, len(self.ssrcs), body)


@dataclass(slots=True)
class UnknownRtcp:
    """Any other packet type (APP 204, feedback 205/206, XR 207 …), kept verbatim."""

    packet_type: int
    count: int
    body: bytes

    def __bytes__(self) -> bytes:
        return _pack(self.packet_type, self.count, self.body)


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | UnknownRtcp


def _pack(packet_type: int, count: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise RtpError("an RTCP packet body is a whole number of 32-bit words")
    return _COMMON.pack(RTP_VERSION << 6 | count, packet_type, len(body) // 4) + body


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Split and parse a compound RTCP packet (§6.1); raise :class:`RtpError`.

    Padding (P bit) is allowed only on the last packet, as §6.4.1 says.
    """
    packets: list[RtcpPacket] = []
    offset = 0
    if len(data) < 4:
        raise RtpError("RTCP packet shorter than its common header")
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtpError("trailing octets after the last RTCP packet")
        b0, packet_type, words = _COMMON.unpack_from(data, offset)
        if b0 >> 6 != RTP_VERSION:
            raise RtpError(f"RTCP version {b0 >> 6}, expected 2")
        end = offset + 4 + 4 * words
        if end > len(data):
            raise RtpError("RTCP length field runs past the end of the datagram")
        body = data[offset + 4 : end]
        if b0 & 0x20:
            if end != len(data):
                raise RtpError("RTCP padding on a packet that is not the last")
            if not body or body[-1] == 0 or body[-1] > len(body) or body[-1] % 4:
                raise RtpError("RTCP padding count is impossible")
            body = body[: -body[-1]]
        count = b0 & 0x1F
        packet: RtcpPacket
        if packet_type == PT_SR:
            packet = SenderReport.parse(count, body)
        elif packet_type == PT_RR:
            packet = ReceiverReport.parse(count, body)
        elif packet_type == PT_SDES:
            packet = SourceDescription.parse(count, body)
        elif packet_type == PT_BYE:
            packet = Bye.parse(count, body)
        else:
            packet = UnknownRtcp(packet_type, count, bytes(body))
        packets.append(packet)
        offset = end
    return packets


def build_compound(packets: list[RtcpPacket]) -> bytes:
    """Join packets into one compound packet (§6.1: SR or RR first, then SDES)."""
    return b"".join(bytes(p) for p in packets)
