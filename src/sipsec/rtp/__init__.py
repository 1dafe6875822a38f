"""RTP/RTCP media (RFC 3550), G.711 audio and WAV files — all sans-IO.

Packets in and out as bytes, time passed in as ``now``: the asyncio shell
that owns the sockets and applies SRTP is ``sipsec.transport.media``.
"""

from sipsec.rtp.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from sipsec.rtp.jitter import JitterBuffer, PlayedFrame
from sipsec.rtp.packet import RtpError, RtpPacket
from sipsec.rtp.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    build_compound,
    is_rtcp,
    parse_compound,
)
from sipsec.rtp.sender import RtpSender
from sipsec.rtp.stats import ReceptionStats
from sipsec.rtp.stream import (
    ByeReceived,
    DropCounters,
    Latching,
    MediaConfig,
    MediaEvent,
    MediaStream,
    ReceptionSummary,
    RoundTripMeasured,
    SourceLatched,
)
from sipsec.rtp.wav import WavError, read_wav, resample, write_wav

__all__ = [
    "Bye",
    "ByeReceived",
    "DropCounters",
    "JitterBuffer",
    "Latching",
    "MediaConfig",
    "MediaEvent",
    "MediaStream",
    "PlayedFrame",
    "ReceiverReport",
    "ReceptionStats",
    "ReceptionSummary",
    "ReportBlock",
    "RoundTripMeasured",
    "RtpError",
    "RtpPacket",
    "RtpSender",
    "SenderReport",
    "SourceDescription",
    "SourceLatched",
    "UnknownRtcp",
    "WavError",
    "alaw_decode",
    "alaw_encode",
    "build_compound",
    "is_rtcp",
    "parse_compound",
    "read_wav",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
