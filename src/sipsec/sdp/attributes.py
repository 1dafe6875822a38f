"""Typed readings of the attributes audio offer/answer needs (RFC 8866 §6).

``a=rtpmap`` (§6.6), ``a=fmtp`` (§6.15), ``a=ptime`` (§6.4), the four
direction attributes (§6.7) and ``a=rtcp-mux`` (RFC 5761 §5.1.1). The
session keeps the attribute text as received; these only read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipsec.sdp.errors import SdpError
from sipsec.sdp.lines import canonical_int
from sipsec.sdp.session import MediaDescription, SessionDescription

__all__ = [
    "DIRECTIONS",
    "Codec",
    "direction_of",
    "fmtp_of",
    "ptime_of",
    "rtpmaps",
]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ENCODING = re.compile(r"[A-Za-z0-9_.+\-]+\Z")
_PTIME = re.compile(r"([0-9]{1,6})(?:\.0*)?\Z")


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP payload format: ``a=rtpmap:<pt> <name>/<clock rate>[/<channels>]``."""

    name: str
    payload_type: int
    clock_rate: int = 8000
    channels: int | None = None

    @classmethod
    def parse_rtpmap(cls, value: str) -> Codec:
        pt, sep, encoding = value.partition(" ")
        if not sep:
            raise SdpError("a=rtpmap needs <payload type> <encoding>/<clock rate>")
        payload_type = canonical_int(pt, "rtpmap payload type", 127)
        name, *numbers = encoding.split("/")
        if not _ENCODING.match(name) or len(numbers) not in (1, 2):
            raise SdpError("a=rtpmap encoding is <name>/<clock rate>[/<channels>]")
        clock = canonical_int(numbers[0], "rtpmap clock rate")
        channels = canonical_int(numbers[1], "rtpmap channels") if len(numbers) == 2 else None
        if clock == 0 or channels == 0:
            raise SdpError("a=rtpmap clock rate and channels are positive")
        return cls(name, payload_type, clock, channels)

    def rtpmap(self) -> str:
        tail = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.name}/{self.clock_rate}{tail}"

    def same_format(self, other: Codec) -> bool:
        """Same encoding (names are case-insensitive, RFC 4855 §3), rate and channels."""
        return (
            self.name.lower() == other.name.lower()
            and self.clock_rate == other.clock_rate
            and (self.channels or 1) == (other.channels or 1)
        )


# RFC 3551 §6: the static payload types audio offer/answer uses here.
STATIC = {0: Codec("PCMU", 0), 8: Codec("PCMA", 8)}


def rtpmaps(media: MediaDescription) -> list[Codec]:
    """The media's formats in its own order, typed; unknown static ones are skipped."""
    maps: dict[int, Codec] = {}
    for value in media.attribute_values("rtpmap"):
        codec = Codec.parse_rtpmap(value)
        maps.setdefault(codec.payload_type, codec)
    out = []
    for fmt in media.formats:
        if not (fmt.isascii() and fmt.isdigit()) or len(fmt) > 3:
            continue  # not an RTP payload type (another proto), nothing to map
        pt = int(fmt)
        found = maps.get(pt) or STATIC.get(pt)
        if found is not None:
            out.append(found)
    return out


def fmtp_of(media: MediaDescription, payload_type: int) -> str | None:
    """The parameters of ``a=fmtp:<pt> <params>`` for one format."""
    for value in media.attribute_values("fmtp"):
        pt, _, params = value.partition(" ")
        if pt == str(payload_type):
            return params
    return None


def ptime_of(media: MediaDescription) -> int | None:
    """``a=ptime`` in milliseconds (whole milliseconds only)."""
    values = media.attribute_values("ptime")
    if not values:
        return None
    match = _PTIME.match(values[0])
    if not match or int(match.group(1)) == 0:
        raise SdpError("a=ptime is a positive whole number of milliseconds")
    return int(match.group(1))


def direction_of(session: SessionDescription, media: MediaDescription) -> str:
    """The media's direction, else the session's, else sendrecv (RFC 3264 §5.1)."""
    for level in (media, session):
        found = [a.name for a in level.attributes if a.name in DIRECTIONS]
        if len(found) > 1:
            raise SdpError("more than one direction attribute")
        if found:
            return found[0]
    return "sendrecv"
