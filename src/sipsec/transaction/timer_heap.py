"""The running transaction timers of one :class:`~.layer.TransactionLayer`, as
one heap, so the layer can answer ``get_timer()`` with a single deadline (the
aioquic shape: one ``call_at`` for the whole element).

A timer's truth is its transaction's ``deadlines`` entry; the heap only
orders them. Stopping a timer (a state change, §17.1.1.2 moving to a
reliable transport, the transaction forgotten) is just deleting that entry:
the heap entry goes stale and is skipped when it reaches the top, so no
stop needs a heap search.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from .tables import Action
from .timers import Timer, TimerConfig
from .transaction import Transaction

__all__ = ["TimerHeap"]


class TimerHeap:
    """Deadlines of the transactions in ``live`` (the layer's id table, read
    to tell a live transaction from a forgotten one)."""

    def __init__(self, live: Mapping[int, Transaction]) -> None:
        self._live = live
        self._heap: list[tuple[float, int, Transaction, Timer]] = []
        self._seq = 0  # ties broken by insertion order; Transactions do not compare

    def __len__(self) -> int:
        """Heap entries, stale ones included (they go as they reach the top)."""
        return len(self._heap)

    def start(
        self, txn: Transaction, action: Action, timer: Timer, now: float, config: TimerConfig
    ) -> bool:
        """Start ``timer``; True when it is zero and so fires right away."""
        previous = txn.intervals.get(timer)
        if action is Action.START_E_T2:
            interval: float | None = config.t2
        elif previous is not None and timer in (Timer.A, Timer.E, Timer.G):
            interval = config.backoff(timer, previous)
        else:
            interval = config.first(timer, txn.reliable)
        if interval is None:
            return False  # a retransmit timer on a reliable transport
        if interval == 0:
            return True
        txn.intervals[timer] = interval
        deadline = txn.deadlines[timer] = now + interval
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, txn, timer))
        return False

    def pop_due(self, now: float) -> tuple[Transaction, Timer] | None:
        """The next timer due at ``now``, taken off its transaction; None
        when none is. Call until None: firing one may start others."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, txn, timer = heapq.heappop(heap)
            if self._current(deadline, txn, timer):
                del txn.deadlines[timer]
                return txn, timer
        return None

    def earliest(self) -> float | None:
        """The earliest deadline of any running timer, or None."""
        heap = self._heap
        while heap:
            deadline, _, txn, timer = heap[0]
            if self._current(deadline, txn, timer):
                return deadline
            heapq.heappop(heap)
        return None

    def _current(self, deadline: float, txn: Transaction, timer: Timer) -> bool:
        """Not stopped, restarted or forgotten since this entry was pushed."""
        return txn.deadlines.get(timer) == deadline and self._live.get(txn.id) is txn
