"""The RTCP schedule, RFC 3550 §6.2: 5 s minimum, spread by [0.5, 1.5]."""

from __future__ import annotations

import random

import pytest

from sipsec.rtp.rtcp_timer import RtcpSchedule


def test_first_report_after_half_the_interval_then_spread() -> None:
    rng = random.Random(7)
    schedule = RtcpSchedule(5.0, 100.0, rng)
    assert 101.25 <= schedule.next_time <= 103.75
    assert not schedule.due(101.0)
    gaps = []
    now = schedule.next_time
    for _ in range(200):
        assert schedule.due(now)
        schedule.sent(now)
        gaps.append(schedule.next_time - now)
        now = schedule.next_time
    assert all(2.5 <= g <= 7.5 for g in gaps)
    assert 4.5 < sum(gaps) / len(gaps) < 5.5  # "about every 5 s"
    assert len({round(g, 3) for g in gaps}) > 150  # randomised, not periodic
    assert schedule.reports_sent == 200


def test_bad_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        RtcpSchedule(0, 0.0, random.Random())
