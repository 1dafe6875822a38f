"""Reception statistics, RFC 3550 Appendix A."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp.rtcp import ReportBlock
from sipsec.rtp.stats import ReceptionStats, ntp_middle, round_trip_time


def feed(stats: ReceptionStats, seqs: list[int], start_ts: int = 0) -> list[int | None]:
    return [stats.update(s, start_ts, 0.0) for s in seqs]


def test_wrap_around_extends_the_sequence() -> None:
    stats = ReceptionStats(1, 65534, 8000)
    assert feed(stats, [65534, 65535, 0, 1]) == [65534, 65535, 65536, 65537]
    assert stats.cycles == 65536 and stats.expected == 4 and stats.lost == 0


def test_loss_duplicates_and_reordering() -> None:
    stats = ReceptionStats(1, 100, 8000)
    # 103 lost, 102 arrives after 104, 101 twice
    assert feed(stats, [100, 101, 101, 104, 102, 105]) == [100, 101, None, 104, 102, 105]
    assert (stats.received, stats.duplicates, stats.expected, stats.lost) == (5, 1, 6, 1)


def test_restart_after_a_big_jump() -> None:
    """A.1: a jump past MAX_DROPOUT is ignored once, accepted when confirmed."""
    stats = ReceptionStats(1, 10, 8000)
    feed(stats, [10, 11])
    assert stats.update(40000, 0, 0.0) is None
    assert stats.update(40001, 0, 0.0) == 40001
    assert (stats.base_seq, stats.received) == (40001, 1)


def test_far_behind_is_stale_not_duplicate() -> None:
    stats = ReceptionStats(1, 5000, 8000)
    feed(stats, list(range(5000, 6100)))
    assert stats.update(5000, 0, 0.0) is None  # behind the duplicate window
    assert stats.duplicates == 0


def test_jitter_a8() -> None:
    """A.8 by hand: transit changes 0, +80, -80 timestamp units → J = 5, 9.6875."""
    stats = ReceptionStats(1, 0, 8000)
    stats.update(0, 0, 0.0)
    stats.update(1, 160, 0.02)  # on time: D = 0
    stats.update(2, 320, 0.05)  # 10 ms late: D = 80
    assert stats.jitter == pytest.approx(80 / 16)
    stats.update(3, 480, 0.06)  # back on time: D = 80
    assert stats.jitter == pytest.approx(5 + (80 - 5) / 16)


def test_report_block_and_intervals() -> None:
    stats = ReceptionStats(7, 0, 8000)
    feed(stats, [0, 1, 3])  # 2 lost
    stats.sender_report_received(0x1111_2222_3333_4444, 10.0)
    block = stats.report_block(10.5)
    assert block.ssrc == 7 and block.cumulative_lost == 1
    assert block.fraction_lost == 256 // 4 and block.highest_sequence == 3
    assert block.lsr == 0x2222_3333 and block.dlsr == 32768
    feed(stats, [4, 5, 5])  # a duplicate: A.3 counts it as received
    block = stats.report_block(11.0)
    assert block.fraction_lost == 0 and block.cumulative_lost == 0


def test_round_trip_time() -> None:
    sent_ntp = 1000 << 32  # our SR at NTP second 1000
    block = ReportBlock(1, 0, 0, 0, 0, ntp_middle(sent_ntp), dlsr=65536 // 2)
    now = (1000 << 32) + (int(0.75 * 2**32))  # 0.75 s later; 0.5 s held by the peer
    assert round_trip_time(block, now) == pytest.approx(0.25, abs=1e-4)
    assert round_trip_time(ReportBlock(1, 0, 0, 0, 0, 0, 0), now) is None
    assert round_trip_time(ReportBlock(1, 0, 0, 0, 0, ntp_middle(now) + 10, 0), now) is None


@settings(max_examples=1000)
@given(
    st.integers(0, 0xFFFF),
    st.lists(st.integers(1, 400), max_size=300),
)
def test_counts_for_any_order_loss_and_duplication(base: int, later: list[int]) -> None:
    """Whatever arrives, in any order and any number of times (within the A.1
    reordering window), the counters add up."""
    later = [x for x in later if max(later) - x < 100]  # A.1 MAX_MISORDER
    stats = ReceptionStats(1, base, 8000)
    stats.update(base, 0, 0.0)
    for offset in later:
        stats.update((base + offset) % 65536, 0, 0.0)
    unique = {0, *later}
    assert stats.received == len(unique)
    assert stats.duplicates == len(later) + 1 - len(unique)
    assert stats.expected == max(unique) + 1
    assert stats.lost == max(unique) + 1 - len(unique)
