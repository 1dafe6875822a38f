"""Timer durations (RFC 3261 §17 table 4, RFC 6026 §8)."""

from __future__ import annotations

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.transaction.timers import Timer, TimerConfig, is_reliable

UNRELIABLE = {
    Timer.A: 0.5,
    Timer.B: 32.0,
    Timer.D: 32.0,
    Timer.E: 0.5,
    Timer.F: 32.0,
    Timer.G: 0.5,
    Timer.H: 32.0,
    Timer.I: 5.0,
    Timer.J: 32.0,
    Timer.K: 5.0,
    Timer.L: 32.0,
    Timer.M: 32.0,
}
RELIABLE = {**UNRELIABLE, Timer.A: None, Timer.E: None, Timer.G: None}
RELIABLE.update({Timer.D: 0.0, Timer.I: 0.0, Timer.J: 0.0, Timer.K: 0.0})


@pytest.mark.parametrize("timer", list(Timer))
def test_table_4(timer: Timer) -> None:
    config = TimerConfig()
    assert config.first(timer, reliable=False) == UNRELIABLE[timer]
    assert config.first(timer, reliable=True) == RELIABLE[timer]


def test_scaled_by_t1_t4() -> None:
    config = TimerConfig(t1=0.1, t2=2.0, t4=1.0, timer_d=40.0)
    assert config.first(Timer.B, False) == pytest.approx(6.4)
    assert config.first(Timer.D, False) == 40.0
    assert config.first(Timer.K, False) == 1.0


def test_backoff() -> None:
    config = TimerConfig()
    assert [config.backoff(Timer.A, x) for x in (0.5, 1.0, 16.0)] == [1.0, 2.0, 32.0]
    assert [config.backoff(Timer.E, x) for x in (0.5, 2.0, 4.0)] == [1.0, 4.0, 4.0]
    assert config.backoff(Timer.G, 3.0) == 4.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"t1": 0},
        {"t2": -1},
        {"t4": float("inf")},
        {"t1": float("nan")},
        {"t1": 5.0},
        {"timer_d": "32"},
    ],
)
def test_bad_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        TimerConfig(**kwargs)  # type: ignore[arg-type]


def test_reliable_transports() -> None:
    assert is_reliable("tcp") and is_reliable("TLS") and is_reliable("WSS")
    assert not is_reliable("UDP") and not is_reliable("DTLS")
