"""Token buckets for failed authentication attempts, in bounded memory.

Each key (a source address, a username) has a bucket of ``burst`` tokens
refilled at ``rate`` tokens per second; a failed attempt takes one token and
an empty bucket refuses further attempts until it refills. Successful
attempts cost nothing, so an honest user who mistyped a password once is
never locked out, while guessing is slowed to ``rate`` per second per
source *and* per user. The Digest RFCs leave this to the server; without
it a SIP registrar is an online password-guessing oracle.

Time is an argument (``now``, seconds, any monotonic origin).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["FailureLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class FailureLimiter:
    """Per-key token buckets; at most ``capacity`` keys are remembered.

    A full bucket is the same as no bucket, so when the table is full the
    least recently charged key is forgotten — and that only ever hands a
    key its full burst back, which is the documented price of bounded
    memory. Limiting per user as well as per source keeps that price low:
    an attacker cycling sources to push its own bucket out still empties the
    target user's.
    """

    def __init__(self, *, rate: float, burst: float, capacity: int = 100_000) -> None:
        if rate <= 0 or burst < 1 or capacity < 1:
            raise ValueError("rate must be positive, burst at least 1, capacity positive")
        self.rate = rate
        self.burst = burst
        self._capacity = capacity
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, key: Hashable, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.burst
        # A clock that goes backwards refills nothing (and takes nothing).
        elapsed = max(0.0, now - bucket.updated)
        return min(self.burst, bucket.tokens + elapsed * self.rate)

    def retry_after(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        level = self._level(key, now)
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def allowed(self, key: Hashable, now: float) -> bool:
        return self._level(key, now) >= 1

    def charge(self, key: Hashable, now: float) -> None:
        """Record one failed attempt by ``key``."""
        level = max(0.0, self._level(key, now) - 1)
        self._buckets.pop(key, None)
        self._prune(now)
        while len(self._buckets) >= self._capacity:
            self._buckets.popitem(last=False)
        self._buckets[key] = _Bucket(level, now)

    def _prune(self, now: float) -> None:
        # Buckets that have refilled carry no information: drop them from the
        # front (least recently charged) so idle keys do not linger.
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if bucket.tokens + max(0.0, now - bucket.updated) * self.rate < self.burst:
                break
            del self._buckets[key]
