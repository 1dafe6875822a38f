"""The shared part of the load engines: the timers (FIFO queues per fixed
delay, a heap for the rest) against a plain heap model, and the counting of
datagrams that are no SIP."""

from __future__ import annotations

import heapq
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.ua.load_engine import CallSlot, ScenarioConfig, ScenarioEngine

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "400"))


class Recorder(ScenarioEngine):
    """An engine whose timers only record when and for which slot they fired."""

    def __init__(self) -> None:
        super().__init__(ScenarioConfig(("127.0.0.1", 5060)))
        self.fired: list[tuple[float, int]] = []
        self.slots = [CallSlot() for _ in range(8)]

    def _on_timer(self, call: CallSlot, now: float) -> None:
        self.fired.append((now, self.slots.index(call)))


# One operation: (time step, slot, kind of arm, delay or deadline offset).
OPS = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0, -0.2]),  # a step back: a clock that went back
        st.integers(0, 7),
        st.sampled_from(["after", "at", "fire"]),
        st.sampled_from([0.5, 1.0, 4.0, 32.0, 0.25]),
    ),
    max_size=60,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(OPS)
def test_timers_fire_as_a_plain_heap_would(ops: list[tuple[float, int, str, float]]) -> None:
    """Whatever the order of arms and clock steps, each slot fires once for its
    latest arm, at the first handle_timer at or after its deadline, in
    deadline order — as a heap keyed on (deadline, arm order) would."""
    engine = Recorder()
    model: list[tuple[float, int, int]] = []  # (deadline, serial, slot)
    current: dict[int, int] = {}  # slot -> serial of its latest arm
    expected: list[tuple[float, int]] = []
    now = 10.0
    serial = 0
    for step, slot, kind, value in ops:
        now += step
        if kind == "fire":
            engine.handle_timer(now)
            while model and model[0][0] <= now:
                deadline, number, which = heapq.heappop(model)
                if current.get(which) == number:
                    expected.append((now, which))
                    del current[which]
            assert engine.fired == expected
            continue
        serial += 1
        deadline = now + value
        if kind == "after":
            engine._after(engine.slots[slot], now, value)
        else:
            engine._at(engine.slots[slot], deadline)
        current[slot] = serial
        heapq.heappush(model, (deadline, serial, slot))
        live = [d for d, n, w in model if current.get(w) == n]
        assert engine.get_timer() == (min(live) if live else None)
    engine.handle_timer(now + 1000.0)
    fired_last = sorted((d, n, w) for d, n, w in model if current.get(w) == n)
    assert engine.fired == expected + [(now + 1000.0, w) for _, _, w in fired_last]
    assert engine.get_timer() is None


def test_fixed_delays_use_queues_not_the_heap() -> None:
    engine = Recorder()
    for i, slot in enumerate(engine.slots):
        engine._after(slot, float(i), 0.5)
    assert not engine._heap and len(engine._queues[0.5]) == 8
    engine._after(engine.slots[0], 3.0, 0.5)  # earlier than the queue's last: the heap
    assert len(engine._heap) == 1
    engine.handle_timer(100.0)
    assert [slot for _, slot in engine.fired] == [
        1,
        2,
        3,
        0,
        4,
        5,
        6,
        7,
    ]  # a tie: the earlier arm first


def test_datagrams_that_are_no_sip_are_counted() -> None:
    engine = Recorder()
    for data in (b"", b"hello\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n", b"\xff" * 40):
        engine.receive(data, ("127.0.0.1", 9), 0.0)
    assert engine.stats.malformed == 4 and engine.stats.unexpected == 0
    engine.receive(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:a@h>;tag=1\r\n"
        b"Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
        ("127.0.0.1", 9),
        0.0,
    )
    assert engine.stats.unexpected == 1  # valid SIP this engine has no use for
