"""Counters of the load generator: merging processes, rates, percentiles."""

from __future__ import annotations

import pytest

from sipsec.ua.load_stats import LoadStats, percentile


def test_stats_merge_and_percentiles() -> None:
    a = LoadStats(calls_started=2, calls_succeeded=1, latencies=[0.1, 0.3], first_start=1.0)
    a.fail("INVITE timeout")
    b = LoadStats(calls_started=3, calls_succeeded=3, latencies=[0.2], first_start=0.5)
    b.fail("INVITE timeout")
    b.last_start, b.last_end = 2.5, 3.0
    a.merge(b)
    assert (a.calls_started, a.calls_succeeded, a.calls_failed) == (5, 4, 2)
    assert a.first_start == 0.5 and a.last_end == 3.0
    assert a.offered_rate == pytest.approx(2.0) and a.completed_rate == pytest.approx(1.6)
    assert percentile([], 50) is None
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    assert percentile([3.0], 0) == 3.0
