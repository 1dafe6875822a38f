"""Packet index estimation and the replay list (RFC 3711 §3.3.1, §3.3.2, Appendix A).

The window is kept the way libsrtp keeps it (``srtp_rdbx_t``), so both accept
and refuse exactly the same packets: the highest index seen and a bit mask of
the ``size`` indices at and below it. A fresh window stands at index 0 with
nothing marked.
"""

from __future__ import annotations

from sipsec.srtp.errors import SrtpConfigError, SrtpReplayError

__all__ = ["ReplayWindow", "estimate_index", "window_size"]

_MEDIAN = 1 << 15


def window_size(size: int) -> int:
    """Check a configured window; libsrtp allows 64 ≤ size < 2^15, rounded up to 32 bits."""
    if not isinstance(size, int) or isinstance(size, bool) or not 64 <= size < 0x8000:
        raise SrtpConfigError(f"replay window must be 64..32767 packets, not {size!r}")
    return (size + 31) & ~31


def estimate_index(highest: int, seq: int) -> int:
    """The 48-bit index of a packet with sequence number ``seq`` (Appendix A).

    Like libsrtp's ``srtp_rdbx_estimate_index``: until the stream has passed
    index 2^15 the rollover counter is taken as 0; afterwards the ROC is
    guessed as ROC-1, ROC or ROC+1, whichever puts ``seq`` nearest ``s_l``.
    A guess of ROC-1 at ROC 0 gives a negative index, which the window
    refuses as too old.
    """
    if highest <= _MEDIAN:
        return seq
    local = highest & 0xFFFF
    roc = highest >> 16
    if local < _MEDIAN:
        if seq - local > _MEDIAN:
            roc -= 1
    elif local - _MEDIAN > seq:
        roc += 1
    return (roc << 16) | seq


class ReplayWindow:
    """The replay list of one stream (§3.3.2)."""

    __slots__ = ("full", "highest", "mask", "size")

    def __init__(self, size: int, highest: int = 0) -> None:
        self.size = size
        self.full = (1 << size) - 1
        self.highest = highest
        self.mask = 0

    def check(self, index: int) -> None:
        """Raise :class:`SrtpReplayError` unless ``index`` may be accepted; no change."""
        delta = self.highest - index
        if delta < 0:
            return
        if delta >= self.size:
            raise SrtpReplayError(f"packet index {index} is behind the replay window", too_old=True)
        if (self.mask >> delta) & 1:
            raise SrtpReplayError(f"packet index {index} was already received")

    def add(self, index: int) -> None:
        """Mark ``index`` as received (only after the packet was authenticated)."""
        delta = index - self.highest
        if delta > 0:
            self.mask = ((self.mask << delta) | 1) & self.full
            self.highest = index
        else:
            self.mask |= 1 << -delta

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self.size}, highest={self.highest})"
