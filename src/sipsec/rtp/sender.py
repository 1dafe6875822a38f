"""The RTP sender, RFC 3550 §5.1 and §6.4.1: one packet per ptime off a given clock.

The sender never reads a clock: :meth:`RtpSender.due` and :meth:`send` take
``now``.  Initial sequence number, timestamp and SSRC are random (§5.1: "the
initial value … SHOULD be random (unpredictable) to make known-plaintext
attacks on encryption more difficult").  The marker bit is set on the first
packet of each talkspurt (RFC 3551 §4.1): the first packet, and the first one
sent after frames were suppressed as silence.
"""

from __future__ import annotations

import random
import struct

__all__ = ["RtpSender"]

_HEADER = struct.Struct("!BBHII")


class RtpSender:
    """Packetises frames for one SSRC and keeps the SR sender counters."""

    def __init__(
        self,
        payload_type: int,
        *,
        now: float,
        rng: random.Random,
        clock_rate: int = 8000,
        ptime: float = 0.02,
        late_after: float | None = None,
    ) -> None:
        if not 0 <= payload_type <= 127:
            raise ValueError("an RTP payload type is 0-127")
        if ptime <= 0 or clock_rate <= 0:
            raise ValueError("ptime and clock rate are positive")
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.ptime = ptime
        self.samples_per_frame = round(clock_rate * ptime)
        self.ssrc = rng.getrandbits(32)
        self._sequence = rng.getrandbits(16)
        self._timestamp_base = rng.getrandbits(32)
        self._start = now
        self._frame = 0  # index of the next frame slot
        self.next_time = now  # when the next frame slot is due
        self._talkspurt = True
        # A packet leaving more than this after its slot counts as late.
        self.late_after = ptime / 2 if late_after is None else late_after
        self.packets_sent = 0
        self.octets_sent = 0
        self.late_packets = 0
        self.max_lateness = 0.0

    def due(self, now: float) -> bool:
        return self.next_time <= now

    def rtp_timestamp_at(self, now: float) -> int:
        """The RTP timestamp that corresponds to ``now`` (for an SR, §6.4.1)."""
        elapsed = round((now - self._start) * self.clock_rate)
        return (self._timestamp_base + elapsed) & 0xFFFFFFFF

    def send(self, payload: bytes, now: float) -> bytes:
        """The packet for the current frame slot; moves on to the next slot."""
        lateness = now - self.next_time
        if lateness > self.max_lateness:
            self.max_lateness = lateness
            if lateness > self.late_after:
                self.late_packets += 1
        elif lateness > self.late_after:
            self.late_packets += 1
        frame = self._frame
        # build_rtp, inline: a plain 12-octet header (§5.1) and the payload.
        packet = (
            _HEADER.pack(
                0x80,
                0x80 | self.payload_type if self._talkspurt else self.payload_type,
                self._sequence,
                (self._timestamp_base + frame * self.samples_per_frame) & 0xFFFFFFFF,
                self.ssrc,
            )
            + payload
        )
        self._talkspurt = False
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._frame = frame = frame + 1
        self.next_time = self._start + frame * self.ptime
        self.packets_sent += 1
        self.octets_sent += len(payload)
        return packet

    def skip(self) -> None:
        """The current slot is silence and is not sent (§5.1: the timestamp still
        advances, the sequence number does not); the next packet gets the marker."""
        self._frame += 1
        self.next_time = self._start + self._frame * self.ptime
        self._talkspurt = True
