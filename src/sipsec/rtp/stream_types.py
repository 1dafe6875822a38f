"""The vocabulary of a media stream: its configuration, events, counters and codecs.

:mod:`sipsec.rtp.stream` holds the machinery; the names a caller configures
it with and reads back (RFC 3550 statistics, RFC 4961 latching, RFC 3551
static payload types) live here, re-exported from there and from
:mod:`sipsec.rtp`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from sipsec.rtp import g711

__all__ = [
    "CODECS",
    "NTP_UNIX_OFFSET",
    "Address",
    "ByeReceived",
    "Codec",
    "DropCounters",
    "Latching",
    "MediaConfig",
    "MediaEvent",
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
