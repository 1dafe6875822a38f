"""Transaction timers A–M and their durations (RFC 3261 §17, table 4; RFC 6026 §8).

Every duration is derived from T1, T2 and T4 (and Timer D's own floor), so a
deployment tunes three numbers and the ratios stay those of the RFC. On a
reliable transport (TCP, TLS, SCTP, WebSocket) the retransmission timers A, E
and G are never started and the linger timers D, I, J and K are zero: the
transport already retransmits, so there is nothing to absorb (§17.1.1.2,
§17.1.2.2, §17.2.1, §17.2.2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sipsec.errors import LocalProtocolError

__all__ = ["RELIABLE_TRANSPORTS", "Timer", "TimerConfig", "is_reliable"]

#: Via transports that retransmit for us (§18; RFC 4168 SCTP; RFC 7118 WS/WSS).
RELIABLE_TRANSPORTS = frozenset({"TCP", "TLS", "SCTP", "TLS-SCTP", "WS", "WSS"})


def is_reliable(transport: str) -> bool:
    """Whether a Via transport token names a reliable transport."""
    return transport.upper() in RELIABLE_TRANSPORTS


class Timer(enum.Enum):
    """The RFC's timer letters; the value says what each one is for (table 4).
    (The letter leads each value: D and K have the same description.)"""

    __hash__ = object.__hash__  # members are singletons; Enum's own hashes in Python

    A = "A: INVITE request retransmit (unreliable only)"
    B = "B: INVITE transaction timeout"
    D = "D: wait time for response retransmits"
    E = "E: non-INVITE request retransmit (unreliable only)"
    F = "F: non-INVITE transaction timeout"
    G = "G: INVITE response retransmit (unreliable only)"
    H = "H: wait time for ACK receipt"
    I = "I: wait time for ACK retransmits"  # noqa: E741 (the RFC's letter)
    J = "J: wait time for non-INVITE request retransmits"
    K = "K: wait time for response retransmits"
    L = "L: wait time for accepted INVITE request retransmits (RFC 6026)"
    M = "M: wait time for retransmission of 2xx to INVITE (RFC 6026)"


#: Timers that exist only to retransmit over an unreliable transport.
RETRANSMIT_TIMERS = frozenset({Timer.A, Timer.E, Timer.G})
#: Timers that are zero on a reliable transport.
ZERO_WHEN_RELIABLE = frozenset({Timer.D, Timer.I, Timer.J, Timer.K})


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1, T2, T4 in seconds (§17.1.1.1: 500 ms, 4 s, 5 s by default).

    ``timer_d`` is Timer D on an unreliable transport, "at least 32 seconds"
    (§17.1.1.2); it is not a multiple of T1 in the RFC, so it is its own knob.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4", "timer_d"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
                raise LocalProtocolError(f"{name} must be a positive finite number, not {value!r}")
        if self.t2 < self.t1:
            raise LocalProtocolError("T2 must not be below T1 (§17.1.2.2 caps E and G at T2)")

    def first(self, timer: Timer, reliable: bool) -> float | None:
        """The first interval of ``timer``; None when it is not started at all."""
        if reliable:
            if timer in RETRANSMIT_TIMERS:
                return None
            if timer in ZERO_WHEN_RELIABLE:
                return 0.0
        if timer in RETRANSMIT_TIMERS:
            return self.t1  # A: §17.1.1.2; E: §17.1.2.2; G: §17.2.1
        if timer is Timer.D:
            return self.timer_d
        if timer is Timer.I or timer is Timer.K:
            return self.t4  # §17.2.1, §17.1.2.2
        return 64 * self.t1  # B, F, H, J, L, M

    def backoff(self, timer: Timer, previous: float) -> float:
        """The interval after ``previous`` when a retransmit timer fires again:
        A doubles without bound (§17.1.1.2), E and G double up to T2
        (§17.1.2.2, §17.2.1)."""
        if timer is Timer.A:
            return 2 * previous
        return min(2 * previous, self.t2)
