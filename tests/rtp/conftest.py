"""Shared helpers for the media tests: test signals and an in-memory network."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from sipsec.rtp.stream import MediaStream

Address = tuple[str, int]
A = ("192.0.2.1", 40000)
B = ("192.0.2.2", 50000)


# Decides the fate of one datagram: a list of delays, one delivery each
# (empty: lost; two: duplicated).
Channel = Callable[[int, bytes, bool], list[float]]


def perfect(delay: float = 0.005) -> Channel:
    return lambda _n, _data, _rtcp: [delay]


@dataclass
class Network:
    """Two sans-IO streams pumped against one fake clock."""

    a: MediaStream
    b: MediaStream
    a_to_b: Channel = field(default_factory=perfect)
    b_to_a: Channel = field(default_factory=perfect)
    now: float = 0.0
    recorded_a: list[bytes] = field(default_factory=list)
    recorded_b: list[bytes] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=lambda: {"a": 0, "b": 0})
    _queue: list[tuple[float, int, str, bytes, Address]] = field(default_factory=list)
    _order: int = 0

    def _collect(self, name: str) -> None:
        stream, channel, source = (
            (self.a, self.a_to_b, A) if name == "a" else (self.b, self.b_to_a, B)
        )
        for data, _addr, rtcp in stream.datagrams_to_send():
            index = self.sent[name] if not rtcp else -1
            if not rtcp:
                self.sent[name] += 1
            for delay in channel(index, data, rtcp):
                self._order += 1
                target = "b" if name == "a" else "a"
                heapq.heappush(self._queue, (self.now + delay, self._order, target, data, source))
        (self.recorded_a if name == "a" else self.recorded_b).append(stream.take_audio())

    def run_until(self, end: float) -> None:
        while True:
            times = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            if self._queue:
                times.append(self._queue[0][0])
            if not times or min(times) > end:
                self.now = end
                return
            self.now = max(self.now, min(times))
            while self._queue and self._queue[0][0] <= self.now:
                _, _, target, data, source = heapq.heappop(self._queue)
                (self.a if target == "a" else self.b).receive(data, source, self.now)
            for name, stream in (("a", self.a), ("b", self.b)):
                timer = stream.get_timer()
                if timer is not None and timer <= self.now:
                    stream.handle_timer(self.now)
                self._collect(name)

    def recording(self, name: str) -> bytes:
        return b"".join(self.recorded_a if name == "a" else self.recorded_b)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture
def network() -> type[Network]:
    """The in-memory network class (conftest modules are not importable)."""
    return Network
