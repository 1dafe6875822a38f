"""When to send RTCP, RFC 3550 §6.2 and §6.3, for a two-party audio session.

§6.2 bounds the interval below by 5 s (``Tmin``) and spreads it by a random
factor in [0.5, 1.5] so that participants do not synchronise; the first
report goes out after half the minimum (§6.2, "initial").  The bandwidth
rule of §6.3 (5 % of the session bandwidth) never binds for a point-to-point
G.711 call: two members sending ~100-octet compounds within 3.2 kbit/s
would allow an interval well under a second, so the 5 s floor rules, and
this schedule keeps only that part.
"""

from __future__ import annotations

import random

__all__ = ["RtcpSchedule"]


class RtcpSchedule:
    def __init__(self, interval: float, now: float, rng: random.Random) -> None:
        if interval <= 0:
            raise ValueError("the RTCP interval is positive")
        self.interval = interval
        self._rng = rng
        self.next_time = now + self._spread(interval / 2)
        self.reports_sent = 0

    def _spread(self, interval: float) -> float:
        return interval * self._rng.uniform(0.5, 1.5)

    def due(self, now: float) -> bool:
        return self.next_time <= now

    def sent(self, now: float) -> None:
        """A compound packet just went out; draw the next deadline."""
        self.reports_sent += 1
        self.next_time = now + self._spread(self.interval)
