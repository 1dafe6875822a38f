"""The in-order RTP fast path of StreamReceiving leaves exactly the state the general path does.

Each plan feeds one stream as it is and a twin whose ``receive_rtp`` always
takes the general path (header parse, ``ReceptionStats.update``,
``JitterBuffer.push``), packet for packet, and compares everything the two
paths touch after every packet.
"""

from __future__ import annotations

import itertools
import os
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp import MediaConfig, MediaStream
from sipsec.rtp.stream import Latching

# Run bigger by hand: RTP_FUZZ_SCALE=20 tools/test tests/rtp/test_stream_receive.py
SCALE = int(os.environ.get("RTP_FUZZ_SCALE", "1"))
A = ("192.0.2.1", 40000)
OTHER = ("192.0.2.9", 40000)


class GeneralPath(MediaStream):
    """A stream whose RTP always goes the general way (what the fast path stands in for)."""

    def receive_rtp(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        if self._closed:
            return
        if addr != self._peer.rtp and not self._accept_from(addr, False):
            return
        self._receive_rtp(data, addr, now)


def state(stream: MediaStream) -> Any:
    stats, jitter = stream.stats, stream.jitter
    return (
        None
        if stats is None
        else (
            stats.ssrc,
            stats.base_seq,
            stats.max_seq,
            stats.cycles,
            stats.received,
            stats.duplicates,
            stats._seen,
            stats._bad_seq,
            stats.jitter,
            stats._transit,
        ),
        sorted(jitter._frames.items()),
        (jitter._cursor, jitter._newest, jitter._anchor_ts, jitter._anchor_time),
        (jitter.late, jitter.duplicates, jitter.overflows),
        [getattr(stream.drops, f) for f in stream.drops.__slots__],
        (stream._peer.rtp, stream._peer.rtp_latched, stream._peer.rtcp_latched),
        list(stream.events),
    )


# Per packet: step of the sequence number (mostly the next), step of the
# timestamp in frames, SSRC (mostly the one), payload type, payload size,
# header shape, source address, arrival delay.
plan = st.lists(
    st.tuples(
        st.sampled_from([1, 1, 1, 1, 1, 0, -1, -2, 2, 5, 99, 3000, 40000, 65535]),
        st.sampled_from([1, 1, 1, 1, 0, -1, 2, 60, 1 << 31]),
        st.sampled_from([7, 7, 7, 7, 8]),
        st.sampled_from([0, 0, 0, 0, 8]),
        st.sampled_from([160, 160, 160, 0, 1, 80]),
        st.sampled_from(["plain", "plain", "plain", "csrc", "short"]),
        st.sampled_from([A, A, A, A, OTHER]),
        st.floats(0, 0.2),
    ),
    max_size=80,
)


@settings(max_examples=500 * SCALE, deadline=None)
@given(
    plan,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.sampled_from(list(Latching)),
    st.integers(1, 60),
)
def test_fast_receive_matches_the_general_path(
    packets: list[tuple[int, int, int, int, int, str, tuple[str, int], float]],
    seq0: int,
    ts0: int,
    latching: Latching,
    depth: int,
) -> None:
    config = MediaConfig(latching=latching, jitter_depth=depth)
    fast = MediaStream(config, now=0.0, remote_rtp=A, audio=b"")
    general = GeneralPath(config, now=0.0, remote_rtp=A, audio=b"")
    seq, ts, now = seq0, ts0, 0.0
    for step, frames, ssrc, pt, size, shape, addr, delay in packets:
        seq = (seq + step) & 0xFFFF
        ts = (ts + frames * 160) & 0xFFFFFFFF
        now += 0.02 + delay
        first = {"plain": 0x80, "csrc": 0x81, "short": 0x80}[shape]
        data = struct.pack("!BBHII", first, pt, seq, ts, ssrc)
        data += bytes(4) if shape == "csrc" else b""
        data = data[:11] if shape == "short" else data + bytes([seq & 0xFF]) * size
        fast.receive(data, addr, now, False)
        general.receive(data, addr, now, False)
        assert state(fast) == state(general)
        if step == 2:  # playout between packets, as the send ticks do
            assert fast.jitter.pop_payloads(now) == general.jitter.pop_payloads(now)


def test_the_steady_state_takes_the_fast_path() -> None:
    """A clean stream of packets never reaches the general path after the
    first (else the test above would prove nothing)."""
    calls: list[int] = []

    class Counting(MediaStream):
        def _receive_rtp(self, data: bytes, addr: tuple[str, int], now: float) -> None:
            calls.append(1)
            super()._receive_rtp(data, addr, now)

    stream = Counting(MediaConfig(), now=0.0, remote_rtp=A, audio=b"")
    for i in range(50):
        packet = struct.pack("!BBHII", 0x80, 0, i, 160 * i, 7) + bytes(160)
        stream.receive(packet, A, 0.02 * i, False)
        stream.jitter.pop_payloads(0.02 * i)
    assert len(calls) == 1
    assert stream.stats is not None and stream.stats.received == 50
    assert stream.jitter.late == stream.jitter.overflows == 0


def test_the_buffer_depth_edge_is_the_same_on_both_paths() -> None:
    """A frame exactly at, just inside and just past the buffer's horizon
    (depth frames ahead of the playout point), and at the frame limit."""
    for depth, ahead, last in itertools.product((1, 2, 3, 5), range(8), (160, 800)):
        # A longer last frame moves the horizon out: then the frame count decides.
        config = MediaConfig(jitter_depth=depth)
        fast = MediaStream(config, now=0.0, remote_rtp=A, audio=b"")
        general = GeneralPath(config, now=0.0, remote_rtp=A, audio=b"")
        frames = [0, 1, 2, 2 + ahead, 3 + ahead, 4 + ahead]
        for i, frame in enumerate(frames):
            size = last if i == len(frames) - 1 else 160
            packet = struct.pack("!BBHII", 0x80, 0, 100 + i, 160 * frame, 7) + bytes(size)
            fast.receive(packet, A, 0.0, False)
            general.receive(packet, A, 0.0, False)
            assert state(fast) == state(general), (depth, ahead, i)
