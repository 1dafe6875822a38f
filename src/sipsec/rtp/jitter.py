"""A playout (jitter) buffer: reorders, drops duplicates and late frames,
conceals lost frames with silence, and never holds more than a bounded depth.

Playout is timed from the first packet: a frame with timestamp ``ts`` is due
``delay`` seconds after the instant the first packet's timing says it was
sent.  Frames are keyed by their unwrapped RTP timestamp, so any frame size
works.  When the buffer runs dry the playout point waits (nothing is
invented past the newest frame received); when newer frames arrive, the gap
before them is played as silence.  That gap is the concealment of a lost
frame, or the silence a sender suppressed between talkspurts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JitterBuffer", "PlayedFrame"]


@dataclass(slots=True, frozen=True)
class PlayedFrame:
    """One frame handed to the decoder: ``payload`` None means ``samples`` of silence."""

    payload: bytes | None
    samples: int


class JitterBuffer:
    """Sans-IO: :meth:`push` on arrival, :meth:`pop` when the clock says so."""

    def __init__(self, clock_rate: int = 8000, delay: float = 0.06, depth: int = 50) -> None:
        if delay < 0 or depth < 1 or clock_rate <= 0:
            raise ValueError("delay >= 0, depth >= 1 and clock rate > 0")
        self.clock_rate = clock_rate
        self.delay = delay
        self.depth = depth
        self._frames: dict[int, tuple[bytes, int]] = {}
        self._cursor: int | None = None  # unwrapped timestamp of the next sample to play
        self._anchor_ts = 0  # unwrapped timestamp
        self._anchor_time = 0.0  # when the frame at _anchor_ts is due
        self._newest = 0
        self.late = 0
        self.duplicates = 0
        self.overflows = 0
        self.concealed_samples = 0
        self.played_frames = 0

    def _unwrap(self, timestamp: int) -> int:
        ref = self._newest
        delta = (timestamp - ref) & 0xFFFFFFFF
        if delta & 0x80000000:
            delta -= 1 << 32
        return ref + delta

    def _due(self, ts: int) -> float:
        return self._anchor_time + (ts - self._anchor_ts) / self.clock_rate

    def _anchor(self, ts: int, now: float) -> None:
        self._anchor_ts = ts
        self._anchor_time = now + self.delay
        self._cursor = ts
        self._frames.clear()

    def push(self, timestamp: int, payload: bytes, now: float, samples: int = 0) -> bool:
        """Queue one frame of ``samples`` samples (default: one per octet, as
        G.711); False when it was a duplicate or came too late."""
        samples = samples or len(payload) or 1
        if self._cursor is None:
            self._newest = timestamp
            self._anchor(timestamp, now)
        # _unwrap, inline: this runs for every packet received.
        ref = self._newest
        delta = (timestamp - ref) & 0xFFFFFFFF
        if delta & 0x80000000:
            delta -= 1 << 32
        ts = ref + delta
        assert self._cursor is not None
        if ts < self._cursor:
            self.late += 1
            return False
        if ts in self._frames:
            self.duplicates += 1
            return False
        horizon = self.depth * samples
        if ts - self._cursor >= horizon or len(self._frames) >= self.depth:
            # Far ahead of the playout point (a stall, a clock running fast,
            # a timestamp jump): restart playout at this frame.
            self.overflows += 1
            self._anchor(ts, now)
        self._frames[ts] = (payload, samples)
        self._newest = max(self._newest, ts)
        return True

    def next_time(self) -> float | None:
        """When the next frame is due, or None while the buffer is empty."""
        if not self._frames or self._cursor is None:
            return None
        return self._due(self._cursor)

    def pop(self, now: float) -> list[PlayedFrame]:
        """Every frame due by ``now``, in order, with silence for the gaps."""
        out: list[PlayedFrame] = []
        frames = self._frames
        cursor = self._cursor
        if cursor is None:
            return out
        while frames and self._due(cursor) <= now:
            frame = frames.pop(cursor, None)
            if frame is None:
                following = min(frames)
                gap = following - cursor
                out.append(PlayedFrame(None, gap))
                self.concealed_samples += gap
                cursor = following
                continue
            out.append(PlayedFrame(*frame))
            self.played_frames += 1
            cursor += frame[1]
        self._cursor = cursor
        return out

    def pop_payloads(self, now: float) -> list[bytes | int]:
        """:meth:`pop` for a decoder that needs only the octets, without an
        object per frame: each frame's payload, or for a gap the number of
        samples of silence.  Same frames, same counters, same order."""
        frames = self._frames
        cursor = self._cursor
        if not frames or cursor is None:
            return []
        out: list[bytes | int] = []
        anchor_time, anchor_ts, rate = self._anchor_time, self._anchor_ts, self.clock_rate
        # The _due expression, inline, so both give the very same float.
        while frames and anchor_time + (cursor - anchor_ts) / rate <= now:
            frame = frames.pop(cursor, None)
            if frame is None:
                following = min(frames)
                gap = following - cursor
                out.append(gap)
                self.concealed_samples += gap
                cursor = following
                continue
            out.append(frame[0])
            self.played_frames += 1
            cursor += frame[1]
        self._cursor = cursor
        return out

    def __len__(self) -> int:
        return len(self._frames)
