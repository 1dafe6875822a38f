"""The timer heap alone: intervals per RFC 3261 table 4, one earliest
deadline, stale entries (stopped, restarted, forgotten) never fire."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.transaction.tables import Action, Kind
from sipsec.transaction.timer_heap import TimerHeap
from sipsec.transaction.timers import Timer, TimerConfig
from sipsec.transaction.transaction import Transaction

from .conftest import ALICE, make_request

CONFIG = TimerConfig()


def _txn(transaction_id: int, *, reliable: bool = False) -> Transaction:
    return Transaction(
        transaction_id,
        kind=Kind.INVITE_CLIENT,
        request=make_request(),
        peer=ALICE,
        reliable=reliable,
        key=("branch", transaction_id),
    )


def test_a_doubles_and_fires_in_deadline_order() -> None:
    live: dict[int, Transaction] = {}
    heap = TimerHeap(live)
    txn = live[1] = _txn(1)
    assert not heap.start(txn, Action.START_A, Timer.A, 0.0, CONFIG)
    assert not heap.start(txn, Action.START_B, Timer.B, 0.0, CONFIG)
    assert heap.earliest() == 0.5  # T1 (§17.1.1.2)
    assert heap.pop_due(0.49) is None
    assert heap.pop_due(0.5) == (txn, Timer.A)
    assert Timer.A not in txn.deadlines and heap.pop_due(0.5) is None
    heap.start(txn, Action.START_A, Timer.A, 0.5, CONFIG)
    assert heap.earliest() == 1.5  # then 2*T1
    assert heap.pop_due(100.0) == (txn, Timer.A)
    assert heap.pop_due(100.0) == (txn, Timer.B)  # 64*T1 = 32 s
    assert heap.pop_due(100.0) is None and heap.earliest() is None and len(heap) == 0


def test_e_reset_to_t2_and_capped() -> None:
    live: dict[int, Transaction] = {}
    heap = TimerHeap(live)
    txn = live[1] = _txn(1)
    heap.start(txn, Action.START_E_T2, Timer.E, 0.0, CONFIG)
    assert heap.earliest() == CONFIG.t2  # §17.1.2.2, in Proceeding
    heap.start(txn, Action.START_E, Timer.E, 10.0, CONFIG)
    assert txn.deadlines[Timer.E] == 10.0 + CONFIG.t2  # doubling stops at T2


def test_reliable_transport_skips_retransmits_and_zeroes_linger() -> None:
    live: dict[int, Transaction] = {}
    heap = TimerHeap(live)
    txn = live[1] = _txn(1, reliable=True)
    assert not heap.start(txn, Action.START_A, Timer.A, 0.0, CONFIG)  # never started
    assert heap.start(txn, Action.START_D, Timer.D, 0.0, CONFIG)  # zero: fires at once
    assert txn.deadlines == {} and len(heap) == 0 and heap.earliest() is None


def test_stale_entries_are_skipped() -> None:
    live: dict[int, Transaction] = {}
    heap = TimerHeap(live)
    stopped, forgotten, kept = (_txn(n) for n in (1, 2, 3))
    live.update({1: stopped, 2: forgotten, 3: kept})
    for txn in (stopped, forgotten, kept):
        heap.start(txn, Action.START_B, Timer.B, 0.0, CONFIG)
    del stopped.deadlines[Timer.B]  # a state change stopped it
    del live[2]  # terminated and forgotten
    live[2] = _txn(2)  # a new transaction that reuses nothing of the old one
    assert heap.earliest() == 32.0
    assert heap.pop_due(32.0) == (kept, Timer.B)
    assert heap.pop_due(1e9) is None and len(heap) == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0, 100)), max_size=40))
def test_pops_in_order_and_each_current_timer_once(starts: list[tuple[int, float]]) -> None:
    """Whatever is started and restarted, ``pop_due`` yields each running
    timer once, at its latest deadline, earliest first."""
    live: dict[int, Transaction] = {n: _txn(n) for n in range(5)}
    heap = TimerHeap(live)
    for n, now in starts:
        heap.start(live[n], Action.START_F, Timer.F, now, CONFIG)
    deadline_of = {txn.id: txn.deadlines[Timer.F] for txn in live.values() if txn.deadlines}
    expected = sorted(deadline_of.values())
    assert heap.earliest() == (expected[0] if expected else None)
    fired = []
    while (due := heap.pop_due(1e9)) is not None:
        fired.append(due[0])
    assert [deadline_of[txn.id] for txn in fired] == expected
    assert len(fired) == len(set(fired))
    assert all(Timer.F not in txn.deadlines for txn in fired)
    assert heap.earliest() is None
