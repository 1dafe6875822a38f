"""The playout buffer: order, duplicates, late frames, concealment, bounded depth."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp.jitter import JitterBuffer, PlayedFrame

F = 160  # samples per 20 ms frame


def frame(i: int) -> bytes:
    return bytes([i % 256]) * F


def test_reorders_and_plays_on_time() -> None:
    jb = JitterBuffer(delay=0.06)
    base = 1000
    jb.push(base, frame(0), 0.0)
    jb.push(base + 2 * F, frame(2), 0.041)
    jb.push(base + F, frame(1), 0.042)
    assert jb.next_time() == pytest.approx(0.06)
    assert jb.pop(0.059) == []
    assert jb.pop(0.09) == [PlayedFrame(frame(0), F), PlayedFrame(frame(1), F)]
    assert jb.pop(0.09) == []
    assert jb.pop(0.2) == [PlayedFrame(frame(2), F)]


def test_duplicates_and_late_frames_are_refused() -> None:
    jb = JitterBuffer(delay=0.02)
    assert jb.push(0, frame(0), 0.0)
    assert not jb.push(0, frame(0), 0.001)
    jb.push(F, frame(1), 0.02)
    jb.pop(0.05)
    assert not jb.push(0, frame(0), 0.06)  # already played
    assert (jb.duplicates, jb.late) == (1, 1)


def test_loss_is_concealed_with_silence() -> None:
    jb = JitterBuffer(delay=0.0)
    jb.push(0, frame(0), 0.0)
    jb.push(3 * F, frame(3), 0.06)
    assert jb.pop(1.0) == [
        PlayedFrame(frame(0), F),
        PlayedFrame(None, 2 * F),
        PlayedFrame(frame(3), F),
    ]
    assert jb.concealed_samples == 2 * F


def test_waits_when_dry_instead_of_inventing() -> None:
    jb = JitterBuffer(delay=0.0)
    jb.push(0, frame(0), 0.0)
    assert len(jb.pop(0.5)) == 1
    assert jb.next_time() is None
    jb.push(F, frame(1), 0.6)  # arrives long after its time: played at once
    assert jb.pop(0.6) == [PlayedFrame(frame(1), F)]


def test_depth_is_bounded() -> None:
    jb = JitterBuffer(delay=0.06, depth=5)
    for i in range(12):
        jb.push(i * F, frame(i), 0.0)
        assert len(jb) <= 5
    assert jb.overflows >= 1
    # Playout restarted at the newest frames; nothing older than them plays.
    played = [f.payload for f in jb.pop(10.0)]
    assert played[-1] == frame(11)


def test_timestamp_wraps() -> None:
    jb = JitterBuffer(delay=0.0)
    jb.push(2**32 - F, frame(0), 0.0)
    jb.push(0, frame(1), 0.02)
    assert [f.payload for f in jb.pop(1.0)] == [frame(0), frame(1)]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="depth"):
        JitterBuffer(depth=0)


@settings(max_examples=1000)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.floats(0, 0.3)), min_size=1, max_size=80),
    st.integers(0, 2**32 - 1),
)
def test_playout_is_contiguous_ordered_and_bounded(
    arrivals: list[tuple[int, float]], base: int
) -> None:
    """Frames arriving in any order, late, twice or never: what plays is one
    gap-free, ordered run of samples, and the buffer never exceeds its depth."""
    jb = JitterBuffer(delay=0.04, depth=8)
    now = 0.0
    played: list[PlayedFrame] = []
    for index, delay in sorted(arrivals, key=lambda a: a[0] * F / 8000 + a[1]):
        now = max(now, index * F / 8000 + delay)
        played += jb.pop(now)
        jb.push((base + index * F) % 2**32, frame(index), now)
        assert len(jb) <= 8
    played += jb.pop(now + 10)
    real = [f.payload for f in played if f.payload is not None]
    indices = [p[0] for p in real]
    assert indices == sorted(set(indices))  # in order, each frame once
    if jb.overflows == 0:
        assert sum(f.samples for f in played) == (indices[-1] - indices[0] + 1) * F


@settings(max_examples=500)
@given(
    st.lists(
        st.tuples(
            st.integers(-3, 60),  # frames after the previous one (negative: reordered)
            st.sampled_from([0, 80, 160, 160, 320]),  # payload octets
            st.floats(0, 0.08),  # time passing before this step
            st.booleans(),  # pop after the push
        ),
        max_size=80,
    ),
    st.integers(0, 2**32 - 1),
)
def test_pop_payloads_is_pop_without_the_objects(
    steps: list[tuple[int, int, float, bool]], ts0: int
) -> None:
    """The stream's playout path gives the frames, gaps and counters of pop()."""
    general, fast = JitterBuffer(depth=8), JitterBuffer(depth=8)
    now, ts = 0.0, ts0
    for frames_on, size, wait, pop in steps:
        now += wait
        ts = (ts + frames_on * F) & 0xFFFFFFFF
        payload = bytes([ts & 0xFF]) * size
        assert general.push(ts, payload, now) == fast.push(ts, payload, now)
        if pop:
            played = general.pop(now)
            assert fast.pop_payloads(now) == [
                f.samples if f.payload is None else f.payload for f in played
            ]
        assert fast.next_time() == general.next_time()
    assert fast.pop_payloads(float("inf")) == [
        f.samples if f.payload is None else f.payload for f in general.pop(float("inf"))
    ]
    for name in ("late", "duplicates", "overflows", "concealed_samples", "played_frames"):
        assert getattr(fast, name) == getattr(general, name)
