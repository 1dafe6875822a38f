"""The one timer of many media sessions: deadlines, wake-ups, and late passes cut
at the pass limit, on a simulated loop whose clock only moves when told."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import random
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sipsec.rtp import MediaConfig
from sipsec.rtp.quality import sweep_tone
from sipsec.transport.media import MediaDriver, MediaSession
from sipsec.transport.media_crypto import MediaCrypto

Address = tuple[str, int]
# Run bigger by hand: SIPSEC_FUZZ_SCALE=10 tools/test tests/transport/test_media_driver.py
SCALE = int(os.environ.get("SIPSEC_FUZZ_SCALE", "1"))


class SimLoop:
    """The loop calls a driver and its sessions make, run on a simulated clock.

    ``call_soon`` callbacks run before any timer, as a loop's ready queue
    does; between callbacks ``between`` runs (the loop reading its sockets).
    ``stalls`` maps a simulated time to seconds the machine stops there.
    """

    def __init__(self, stalls: dict[float, float] | None = None) -> None:
        self.now = 100.0
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._soon: list[Callable[[], None]] = []
        self._cancelled: set[int] = set()
        self._order = 0
        self.stalls = sorted((stalls or {}).items())
        self.between: Callable[[], None] = lambda: None
        self.soon_calls = 0
        self.errors: list[dict[str, object]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Handle:
        self._order += 1
        heapq.heappush(self._timers, (when, self._order, callback))
        return _Handle(self, self._order)

    def call_soon(self, callback: Callable[[], None]) -> _Handle:
        self.soon_calls += 1
        self._order += 1
        order = self._order
        self._soon.append(lambda: None if order in self._cancelled else callback())
        return _Handle(self, order)

    def call_exception_handler(self, context: dict[str, object]) -> None:
        self.errors.append(context)

    def run_until(self, end: float) -> None:
        while self._soon or self._timers:
            self.between()
            if self._soon:
                self._soon.pop(0)()
                continue
            when, order, callback = heapq.heappop(self._timers)
            if order in self._cancelled:
                continue
            if when > end:
                heapq.heappush(self._timers, (when, order, callback))
                return
            self.now = max(self.now, when)
            while self.stalls and self.stalls[0][0] <= self.now:
                self.now += self.stalls.pop(0)[1]
            callback()


class _Handle:
    def __init__(self, loop: SimLoop, order: int) -> None:
        self._loop, self._order = loop, order

    def cancel(self) -> None:
        self._loop._cancelled.add(self._order)


class Tick:
    """A stand-in session: records when the driver ran it, costs ``cost`` of clock."""

    def __init__(self, loop: SimLoop, driver: MediaDriver, name: int, cost: float) -> None:
        self._loop, self._driver, self.name, self.cost = loop, driver, name, cost
        self._timer_at: float | None = None
        self.runs: list[tuple[float, float]] = []  # (deadline, time told)

    def arm(self, deadline: float) -> None:
        self._timer_at = deadline
        self._driver.schedule(self, deadline)  # type: ignore[arg-type]

    def _on_timer(self, due: float | None = None) -> None:
        assert due is not None and self._timer_at is not None
        self.runs.append((self._timer_at, due))
        self._timer_at = None
        self._loop.now += self.cost


async def driver_on(loop: SimLoop, *, pass_limit: float = 0.004) -> MediaDriver:
    driver = MediaDriver(0.002, poll=False, pass_limit=pass_limit)
    driver._loop = loop  # type: ignore[assignment]
    return driver


async def test_a_late_tick_is_cut_at_the_pass_limit_and_resumes_after_a_loop_turn() -> None:
    loop = SimLoop(stalls={100.0: 0.030})  # the machine stops for 30 ms at the first tick
    driver = await driver_on(loop)
    ticks = [Tick(loop, driver, i, 0.0015) for i in range(10)]
    for tick in ticks:
        tick.arm(100.0)  # all due at once, as after a stall
    reads: list[float] = []
    loop.between = lambda: reads.append(round(loop.now, 6))
    loop.run_until(100.1)
    # 4 ms a pass at 1.5 ms a session: three run a pass (the fourth would start
    # past the limit), then the loop turns (reads its sockets) before the next.
    assert [len(t.runs) for t in ticks] == [1] * 10
    told = [t.runs[0][1] for t in ticks]
    assert told == pytest.approx([100.030 + 0.0015 * i for i in range(10)])
    assert driver.cut_passes == 3 and loop.soon_calls == 3
    for boundary in (3, 6, 9):  # the loop ran between the passes
        assert round(100.030 + 0.0015 * boundary, 6) in reads


async def test_equal_deadlines_keep_their_order_across_a_cut() -> None:
    loop = SimLoop(stalls={100.0: 0.050})
    driver = await driver_on(loop, pass_limit=0.0025)
    ticks = [Tick(loop, driver, i, 0.001) for i in range(12)]
    for tick in ticks:
        tick.arm(100.0 + 0.005 * (tick.name % 3))  # three deadlines, four sessions each
    loop.run_until(100.2)
    order = sorted(ticks, key=lambda t: t.runs[0][1])
    assert [t.name for t in order] == [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]
    assert driver.cut_passes == 3


async def test_a_tick_on_time_is_never_cut_and_runs_at_its_deadline() -> None:
    loop = SimLoop()
    driver = await driver_on(loop)
    ticks = [Tick(loop, driver, i, 0.0002) for i in range(10)]
    for tick in ticks:
        tick.arm(100.010 + 0.0001 * tick.name)  # within one resolution
    loop.run_until(100.1)
    assert driver.cut_passes == 0 and driver.wakeups == 1
    # Told their deadline when it is still ahead, the time they run at after it.
    for tick in ticks:
        deadline, told = tick.runs[0]
        assert told == max(deadline, told) and told >= deadline - driver.resolution


async def test_a_failing_session_does_not_stop_the_others() -> None:
    loop = SimLoop()
    driver = await driver_on(loop)
    ticks = [Tick(loop, driver, i, 0.0) for i in range(3)]
    ticks[1]._on_timer = lambda due=None: 1 / 0  # type: ignore[method-assign]
    for tick in ticks:
        tick.arm(100.001)
    loop.run_until(100.1)
    assert len(ticks[0].runs) == len(ticks[2].runs) == 1
    assert len(loop.errors) == 1


async def test_without_a_pass_limit_a_late_tick_runs_every_due_session() -> None:
    loop = SimLoop(stalls={100.0: 0.030})
    driver = MediaDriver(0.002, poll=False)  # the default: no limit
    driver._loop = loop  # type: ignore[assignment]
    ticks = [Tick(loop, driver, i, 0.0015) for i in range(10)]
    for tick in ticks:
        tick.arm(100.0)
    loop.run_until(100.1)
    assert [len(t.runs) for t in ticks] == [1] * 10
    assert driver.cut_passes == 0 and loop.soon_calls == 0 and driver.wakeups == 1


async def test_the_pass_limit_and_resolution_are_checked() -> None:
    with pytest.raises(ValueError, match="pass limit"):
        MediaDriver(pass_limit=0)
    with pytest.raises(ValueError, match="resolution"):
        MediaDriver(-0.001)


# -- whole sessions: a cut pass sends exactly the packets an uncut one does --------


class Port:
    """A session's socket: keeps what is sent; each send costs ``cost`` of clock."""

    def __init__(self, loop: SimLoop, address: Address, cost: float) -> None:
        self.address, self._loop, self.cost = address, loop, cost
        self.sent: list[bytes] = []

    def send(self, data: bytes, addr: Address) -> None:
        self.sent.append(data)
        self._loop.now += self.cost

    def close(self) -> None:
        pass


async def sent_by_sessions(
    calls: int, stalls: dict[float, float], cost: float, pass_limit: float
) -> tuple[list[list[bytes]], MediaDriver]:
    loop = SimLoop(stalls)
    driver = await driver_on(loop, pass_limit=pass_limit)
    audio = sweep_tone(0.4)
    ports, sessions = [], []
    for i in range(calls):
        session = MediaSession(MediaConfig(), driver)
        session._loop = loop  # type: ignore[assignment]
        port = Port(loop, ("192.0.2.1", 4000 + 2 * i), cost)
        session._rtp = port  # type: ignore[assignment]
        ports.append(port)
        sessions.append(session)
    for i, session in enumerate(sessions):
        loop.now = 100.0 + 0.02 * i / calls  # spread over a ptime, as calls come and go
        session.start(
            ("192.0.2.2", 5000 + i), MediaCrypto.plain(), audio=audio, rng=random.Random(i)
        )
    loop.run_until(101.0)
    # RTP only: an RTCP report carries the time it was made, which a cut changes.
    return [[p for p in port.sent if not 200 <= p[1] <= 204] for port in ports], driver


@settings(
    max_examples=300 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    calls=st.integers(1, 12),
    stalls=st.dictionaries(st.floats(100.0, 100.4), st.floats(0.0, 0.06), max_size=4),
    cost=st.sampled_from([0.0, 0.0002, 0.001, 0.003]),
    pass_limit=st.sampled_from([1e-6, 0.001, 0.004]),
)
async def test_cut_passes_send_the_packets_an_uncut_pass_sends(
    calls: int, stalls: dict[float, float], cost: float, pass_limit: float
) -> None:
    cut, driver = await sent_by_sessions(calls, stalls, cost, pass_limit)
    whole, _ = await sent_by_sessions(calls, stalls, cost, 1e9)
    event("a pass was cut" if driver.cut_passes else "no pass was cut")
    assert cut == whole  # every RTP packet, octet for octet: sequence, timestamp, payload
    for packets in cut:
        assert len(packets) == 400 // 20  # the whole audio, one packet per 20 ms slot
        sequence = [int.from_bytes(p[2:4], "big") for p in packets]
        stamps = [int.from_bytes(p[4:8], "big") for p in packets]
        assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(sequence))
        assert all((b - a) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(stamps))
    if calls > 1 and cost > pass_limit and any(d > 0.021 for d in stalls.values()):
        # A stall of over a ptime leaves every session due at once.
        assert driver.cut_passes > 0  # the limit was really reached somewhere


def test_asyncio_loop_runs_a_cut_pass() -> None:
    """On a real loop the rest of a cut pass runs after call_soon, all sessions served."""

    async def main() -> list[int]:
        driver = MediaDriver(0.002, poll=False, pass_limit=1e-9)
        loop = asyncio.get_running_loop()
        seen: list[int] = []

        class Session:
            def __init__(self, n: int) -> None:
                self.n = n
                self._timer_at: float | None = None

            def _on_timer(self, due: float | None = None) -> None:
                seen.append(self.n)

        deadline = loop.time()
        for n in range(5):
            session = Session(n)
            session._timer_at = deadline
            driver.schedule(session, deadline)  # type: ignore[arg-type]
        for _ in range(50):
            await asyncio.sleep(0)
            if len(seen) == 5:
                break
        assert driver.cut_passes >= 4
        return seen

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
