"""RTP data packets, RFC 3550 §5.1: parse and serialize, round trip exact.

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           timestamp                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           synchronization source (SSRC) identifier            |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |            contributing source (CSRC) identifiers             |
    |                             ....                              |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from sipsec.errors import SipsecError

__all__ = ["RTP_VERSION", "RtpError", "RtpPacket", "build_rtp"]

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
_HEADER_LEN = 12


class RtpError(SipsecError, ValueError):
    """An RTP or RTCP packet is malformed (truncated, wrong version, bad lengths).

    The media layer drops such packets and counts them; it never lets this
    escape to the network loop.
    """


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet.  ``bytes(packet)`` serializes it again, exactly.

    ``extension`` is ``(profile, data)`` of the §5.3.1 header extension;
    ``padding`` is the number of padding octets (the last one holds the count,
    §5.1 P bit), kept so that a round trip reproduces the input;
    ``padding_octets`` are those octets as received (§5.1 leaves the others'
    values open: a parsed packet keeps them, a built one sends zeros).
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: list[int] = field(default_factory=list)
    extension: tuple[int, bytes] | None = None
    padding: int = 0
    padding_octets: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet; raise :class:`RtpError` for anything malformed."""
        if len(data) < _HEADER_LEN:
            raise RtpError(f"RTP packet of {len(data)} octets is shorter than the header")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {b0 >> 6}, expected 2")
        cc = b0 & 0x0F
        offset = _HEADER_LEN + 4 * cc
        if len(data) < offset:
            raise RtpError(f"RTP packet truncated inside its {cc} CSRCs")
        csrcs = list(struct.unpack_from(f"!{cc}I", data, _HEADER_LEN)) if cc else []
        extension = None
        if b0 & 0x10:
            # §5.3.1: 16-bit profile-defined field, 16-bit length in 32-bit words.
            if len(data) < offset + 4:
                raise RtpError("RTP packet truncated inside its header extension")
            profile, words = struct.unpack_from("!HH", data, offset)
            end = offset + 4 + 4 * words
            if len(data) < end:
                raise RtpError("RTP header extension runs past the end of the packet")
            extension = (profile, bytes(data[offset + 4 : end]))
            offset = end
        end = len(data)
        padding = 0
        if b0 & 0x20:
            # §5.1: the last octet counts the padding octets, itself included.
            padding = data[-1]
            if padding == 0 or offset + padding > end:
                raise RtpError(f"RTP padding count {padding} is impossible")
            end -= padding
        return cls(
            payload_type=b1 & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(b1 & 0x80),
            csrcs=csrcs,
            extension=extension,
            padding=padding,
            padding_octets=bytes(data[end:]) if padding else b"",
        )

    def __bytes__(self) -> bytes:
        if len(self.csrcs) > 15:
            raise RtpError("an RTP packet carries at most 15 CSRCs")
        b0 = RTP_VERSION << 6 | len(self.csrcs)
        if self.padding:
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        parts = [
            _HEADER.pack(
                b0,
                (0x80 if self.marker else 0) | self.payload_type & 0x7F,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        if self.csrcs:
            parts.append(struct.pack(f"!{len(self.csrcs)}I", *self.csrcs))
        if self.extension is not None:
            profile, data = self.extension
            if len(data) % 4 or len(data) > 0xFFFF * 4:
                raise RtpError("an RTP header extension is a whole number of 32-bit words")
            parts.append(struct.pack("!HH", profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        if self.padding:
            if not 0 < self.padding < 256:
                raise RtpError("RTP padding is 1 to 255 octets")
            octets = self.padding_octets
            if len(octets) != self.padding or octets[-1] != self.padding:
                octets = bytes(self.padding - 1) + bytes([self.padding])
            parts.append(octets)
        return b"".join(parts)


def build_rtp(  # noqa: PLR0917 - the per-packet hot path, positional on purpose
    payload_type: int, sequence_number: int, timestamp: int, ssrc: int, payload: bytes, marker: bool
) -> bytes:
    """The fast path for the sender: a plain 12-octet header and the payload."""
    return (
        _HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, sequence_number, timestamp, ssrc)
        + payload
    )
