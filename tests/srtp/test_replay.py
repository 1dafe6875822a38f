"""Index estimation (RFC 3711 Appendix A, as libsrtp does it) and the replay list (§3.3.2)."""

from __future__ import annotations

import pytest

from sipsec.srtp import SrtpConfigError, SrtpReplayError
from sipsec.srtp.replay import ReplayWindow, estimate_index, window_size


@pytest.mark.parametrize(
    ("highest", "seq", "index"),
    [
        (0, 40000, 40000),  # young stream: ROC 0 whatever the sequence number
        (0x8000, 0xFFFF, 0xFFFF),
        (0xFFF0, 0x0005, 0x10005),  # wrapped: ROC + 1
        (0x10005, 0xFFF0, 0xFFF0),  # late packet from before the wrap: ROC - 1
        (0x10005, 0x0003, 0x10003),
        (0x28000, 0x7FFF, 0x27FFF),
        (0x9000, 0x0100, 0x10100),  # 0x7100 ahead across the wrap
    ],
)
def test_estimate_index(highest: int, seq: int, index: int) -> None:
    assert estimate_index(highest, seq) == index


def test_guess_never_goes_below_roc_zero() -> None:
    """ROC-1 is guessed only once the stream passed 2^15, so never at ROC 0."""
    for highest in (0x8001, 0xFFFF, 0x10000):
        for seq in (0, 1, 0x7FFF, 0x8000, 0xFFFF):
            assert estimate_index(highest, seq) >= 0


def test_window() -> None:
    w = ReplayWindow(64)
    w.check(0)
    w.add(0)
    with pytest.raises(SrtpReplayError):
        w.check(0)
    w.add(100)
    w.check(99)
    w.add(99)
    with pytest.raises(SrtpReplayError) as info:
        w.check(99)
    assert not info.value.too_old
    w.check(37)  # 100 - 63: the oldest still inside
    with pytest.raises(SrtpReplayError) as info:
        w.check(36)
    assert info.value.too_old
    with pytest.raises(SrtpReplayError):
        w.check(-5)
    w.add(1000)  # a jump clears the mask
    assert w.mask == 1
    assert "1000" in repr(w)


def test_window_size() -> None:
    assert window_size(128) == 128
    assert window_size(100) == 128  # libsrtp rounds up to whole 32-bit words
    for bad in (63, 0x8000, True, 12.0):
        with pytest.raises(SrtpConfigError):
            window_size(bad)  # type: ignore[arg-type]
