"""Token buckets for failed attempts, with a fake clock."""

from __future__ import annotations

import pytest

from sipsec.auth import FailureLimiter


def test_burst_then_refill_at_rate() -> None:
    limiter = FailureLimiter(rate=0.5, burst=3)
    for _ in range(3):
        assert limiter.allowed("k", 100.0)
        limiter.charge("k", 100.0)
    assert not limiter.allowed("k", 100.0)
    assert limiter.retry_after("k", 100.0) == pytest.approx(2.0)
    assert not limiter.allowed("k", 101.9)
    assert limiter.retry_after("k", 101.0) == pytest.approx(1.0)
    assert limiter.allowed("k", 102.0)
    assert limiter.retry_after("k", 102.0) == 0.0
    assert limiter.allowed("other", 100.0)


def test_the_level_never_goes_below_zero_or_above_burst() -> None:
    limiter = FailureLimiter(rate=1, burst=2)
    for _ in range(50):
        limiter.charge("k", 0.0)
    assert limiter.allowed("k", 1.0)  # one token after one second, not -48
    limiter.charge("k", 1.0)
    assert not limiter.allowed("k", 1.0)
    assert limiter.allowed("k", 1000.0)


def test_a_clock_going_backwards_refills_nothing() -> None:
    limiter = FailureLimiter(rate=1, burst=1)
    limiter.charge("k", 50.0)
    assert not limiter.allowed("k", 10.0)


def test_memory_is_bounded_and_refilled_buckets_are_dropped() -> None:
    limiter = FailureLimiter(rate=1, burst=5, capacity=100)
    for i in range(1000):
        limiter.charge(f"src{i}", 0.0)
    assert len(limiter) == 100
    limiter.charge("late", 10.0)  # everything else has refilled by now
    assert len(limiter) == 1


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="rate"):
        FailureLimiter(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        FailureLimiter(rate=1, burst=0.5)
