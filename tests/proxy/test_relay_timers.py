"""relay_timers' queue against a plain heap of the same entries (RFC 3261 §17 timers).

The fresh FIFO must change nothing: for any sequence of transactions
created, timers armed and stopped, and time advanced (now and then going
back, which the FIFO answers with an insertion), the transactions come due
in the same order, with the same timers firing, as from one heap.
"""

from __future__ import annotations

import heapq
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy.relay_timers import TimerQueue
from sipsec.proxy.relay_txn import RelayTxn

T1 = 0.5
NAMES = ("retx", "timeout", "c", "s_end", "c_end", "g")
_SEEN = {"fired": 0, "backwards": 0}


class HeapModel:
    """The queue as one heap: every entry, lazy deletion, (deadline, seq) order."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, RelayTxn]] = []
        self.seq = itertools.count()

    def _push(self, txn: RelayTxn, deadline: float) -> None:
        txn.due = deadline
        heapq.heappush(self.heap, (deadline, next(self.seq), txn))

    def arm(self, txn: RelayTxn, name: str, deadline: float) -> None:
        txn.timers[name] = deadline
        if txn.due is None or deadline < txn.due:
            self._push(txn, deadline)

    def push(self, txn: RelayTxn, earliest: float) -> None:
        self._push(txn, earliest)

    def reschedule(self, txn: RelayTxn) -> None:
        if txn.gone or not txn.timers:
            return
        earliest = min(txn.timers.values())
        if txn.due is None or earliest < txn.due:
            self._push(txn, earliest)

    def next(self) -> float | None:
        while self.heap:
            deadline, _, txn = self.heap[0]
            if txn.due == deadline and not txn.gone:
                return deadline
            heapq.heappop(self.heap)
        return None

    def pop_due(self, now: float) -> RelayTxn | None:
        while self.heap and self.heap[0][0] <= now:
            deadline, _, txn = heapq.heappop(self.heap)
            if txn.due == deadline and not txn.gone:
                txn.due = None
                return txn
        return None

    def __len__(self) -> int:
        return len(self.heap)


Queue = TimerQueue | HeapModel


class World:
    """Transactions and a clock driven through one queue, as RelayFlow drives it."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.txns: list[RelayTxn] = []
        self.now = 0.0
        self.fired: list[tuple[int, str, float]] = []

    def new(self, invite: bool) -> None:
        txn = RelayTxn((b"b", b"h", b"M"), "INVITE" if invite else "BYE", ("h", 1), None, 0.0)
        # as FastRelay._new: A or E, B or F, C, and the earliest pushed
        txn.timers = {"retx": self.now + T1, "timeout": self.now + 64 * T1}
        if invite:
            txn.timers["c"] = self.now + 180.0
        txn.interval = T1
        self.txns.append(txn)
        self.queue.push(txn, min(txn.timers.values()))

    def handle(self) -> None:
        """RelayFlow.handle_timer: every due timer of each due transaction."""
        queue, now = self.queue, self.now
        while (txn := queue.pop_due(now)) is not None:
            for name, deadline in list(txn.timers.items()):
                if deadline <= now and txn.timers.get(name) == deadline:
                    del txn.timers[name]
                    self.fired.append((self.txns.index(txn), name, deadline))
                    if name == "retx":  # a retransmission timer re-arms, doubled
                        txn.interval *= 2
                        queue.arm(txn, "retx", now + txn.interval)
            if not txn.timers:
                txn.gone = True
            queue.reschedule(txn)


Step = tuple[str, int, int, float]
steps = st.lists(
    st.tuples(
        st.sampled_from(["new", "new", "arm", "arm", "stop", "advance", "advance", "next"]),
        st.integers(0, 30),
        st.integers(0, len(NAMES) - 1),
        # multiples of T1/4 make equal deadlines (ties) common; negatives: the clock going back
        st.one_of(
            st.sampled_from([T1, T1, 2 * T1, 0.0, -T1]),  # a fresh one's deadline: ties
            st.integers(-4, 300).map(lambda n: n * T1 / 4),
        ),
    ),
    max_size=80,
)


def run(queue: Queue, script: list[Step]) -> tuple[list[object], World]:
    world, seen = World(queue), list[object]()
    for op, index, name, amount in script:
        txns = world.txns
        if op == "new":
            world.new(invite=index % 2 == 0)
        elif op == "arm" and txns:
            queue.arm(txns[index % len(txns)], NAMES[name], world.now + abs(amount))
        elif op == "stop" and txns:
            txns[index % len(txns)].timers.pop(NAMES[name], None)
        elif op == "advance":
            world.now = max(0.0, world.now + amount)
            world.handle()
        elif op == "next":
            seen.append(queue.next())
        seen.append(len(queue))
    world.now += 1000.0
    world.handle()
    seen.append(queue.next())
    return seen, world


@settings(max_examples=1500, deadline=None)
@given(script=steps)
def test_the_fresh_fifo_fires_as_one_heap_does(script: list[Step]) -> None:
    fast_seen, fast = run(TimerQueue(), script)
    model_seen, model = run(HeapModel(), script)
    assert fast.fired == model.fired
    assert fast_seen == model_seen  # next() and the entries held, step by step
    _SEEN["fired"] += len(fast.fired)
    _SEEN["backwards"] += any(op == "advance" and amount < 0 for op, _, _, amount in script)


def test_the_property_fired_timers_and_saw_the_clock_go_back() -> None:
    if _SEEN["fired"] == 0:
        return  # run alone
    assert _SEEN["fired"] > 1000
    assert _SEEN["backwards"] > 0


def test_a_fresh_transaction_goes_to_the_heap_only_when_its_first_deadline_passes() -> None:
    queue = TimerQueue()
    world = World(queue)
    world.new(invite=True)
    assert len(queue._fresh) == 1 and not queue._heap
    world.txns[0].timers.pop("retx")  # a 1xx stopped Timer A: the entry is stale
    queue.arm(world.txns[0], "s_end", 10.0)  # later than the stale one: no entry
    assert len(queue) == 1
    assert queue.next() == T1  # stale, but due: the transaction moves on from it
    world.now = T1
    world.handle()
    assert world.fired == [] and not queue._fresh and queue.next() == 10.0
    world.now = 10.0
    world.handle()
    assert world.fired == [(0, "s_end", 10.0)]


def test_a_clock_going_back_keeps_the_fifo_in_order() -> None:
    queue = TimerQueue()
    world = World(queue)
    world.now = 5.0
    world.new(invite=False)
    world.now = 1.0
    world.new(invite=False)
    assert [e[0] for e in queue._fresh] == [1.0 + T1, 5.0 + T1]
    world.now = 5.0 + T1
    world.handle()
    assert [(i, name) for i, name, _ in world.fired] == [(1, "retx"), (0, "retx")]
