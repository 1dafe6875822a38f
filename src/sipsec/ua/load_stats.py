"""Counters of the load generator's engines, and the percentiles reported.

One :class:`LoadStats` per engine; the runner merges those of every process
(``merge``). Times are monotonic seconds of the one system clock
(CLOCK_MONOTONIC is shared by every process of a host), so first start, last
start and last end of several processes combine into one rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["LoadStats", "percentile"]


@dataclass
class LoadStats:
    """Counters of one engine; ``merge`` adds those of other processes."""

    calls_started: int = 0  # UAC: INVITEs sent; UAS: new INVITEs received
    calls_succeeded: int = 0  # UAC: BYE answered 2xx; UAS: BYE received
    failures: dict[str, int] = field(default_factory=dict)
    retransmissions: int = 0  # requests/responses we sent again on a timer
    duplicates: int = 0  # retransmissions received and answered
    unexpected: int = 0  # valid SIP matching no call or state
    malformed: int = 0  # not SIP (SipParseError or a broken header)
    latencies: list[float] = field(default_factory=list)  # INVITE → first 2xx
    first_start: float | None = None
    last_start: float | None = None
    last_end: float | None = None

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1

    @property
    def calls_failed(self) -> int:
        return sum(self.failures.values())

    def merge(self, other: LoadStats) -> None:
        self.calls_started += other.calls_started
        self.calls_succeeded += other.calls_succeeded
        for reason, count in other.failures.items():
            self.failures[reason] = self.failures.get(reason, 0) + count
        self.retransmissions += other.retransmissions
        self.duplicates += other.duplicates
        self.unexpected += other.unexpected
        self.malformed += other.malformed
        self.latencies.extend(other.latencies)
        self.first_start = _pick(min, self.first_start, other.first_start)
        self.last_start = _pick(max, self.last_start, other.last_start)
        self.last_end = _pick(max, self.last_end, other.last_end)

    @property
    def offered_rate(self) -> float | None:
        """Calls started per second between the first and the last start."""
        if self.first_start is None or self.last_start is None or self.calls_started < 2:
            return None
        span = self.last_start - self.first_start
        return (self.calls_started - 1) / span if span > 0 else None

    @property
    def completed_rate(self) -> float | None:
        """Successful calls per second from the first start to the last end."""
        if self.first_start is None or self.last_end is None:
            return None
        span = self.last_end - self.first_start
        return self.calls_succeeded / span if span > 0 else None


def _pick(
    choose: Callable[[float, float], float], a: float | None, b: float | None
) -> float | None:
    if a is None:
        return b
    return a if b is None else choose(a, b)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
