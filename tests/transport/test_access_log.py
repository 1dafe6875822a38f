"""The proxy's batched access log (sipsec.transport.access_log)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Callable
from typing import cast

import pytest

from sipsec.proxy import MemoryCredentialStore, ProxyConfig, ProxyCore, TransactionLogged
from sipsec.proxy.location_memory import MemoryLocationStore
from sipsec.proxy.log import log_line
from sipsec.transport.access_log import HOLD, MOST, AccessLog

RECORD = TransactionLogged(
    "INVITE", "sip:alice@atlanta.example", "sip:bob@biloxi.example", 200, 0.0123, 1,
    "udp:127.0.0.1:5070",
)  # fmt: skip


class Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError("gone")


class Clock:
    """The two loop calls AccessLog makes, with the timer kept for the test to fire."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], object]]] = []

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        self.timers.append((delay, callback))

    def fire(self) -> None:
        timers, self.timers = self.timers, []
        for _, callback in timers:
            callback()


def test_lines_are_held_at_most_hold_seconds_and_written_together() -> None:
    stream, clock = io.StringIO(), Clock()
    log = AccessLog(stream, cast(asyncio.AbstractEventLoop, clock), "sipsec.proxy")
    log(RECORD)
    log(RECORD)
    assert stream.getvalue() == ""  # held for the rest of the batch
    assert [delay for delay, _ in clock.timers] == [HOLD]  # one timer a batch
    clock.fire()
    assert len(stream.getvalue().splitlines()) == 2 and log.written == 2
    log(RECORD)
    assert len(clock.timers) == 1
    clock.fire()
    assert len(stream.getvalue().splitlines()) == 3 and log.written == 3
    clock.fire()  # nothing armed, nothing written twice
    assert log.written == 3


def test_a_full_batch_is_written_without_waiting() -> None:
    stream, clock = io.StringIO(), Clock()
    log = AccessLog(stream, cast(asyncio.AbstractEventLoop, clock), "sipsec.proxy")
    for _ in range(MOST - 1):
        log(RECORD)
    assert log.written == 0
    log(RECORD)
    assert log.written == MOST and len(stream.getvalue().splitlines()) == MOST
    log(RECORD)  # a new batch: its own timer; the old one fires first, early, never late
    assert len(clock.timers) == 2
    clock.fire()
    assert log.written == MOST + 1


async def test_on_a_real_loop_the_timer_writes_the_batch() -> None:
    stream = io.StringIO()
    loop = asyncio.get_running_loop()
    log = AccessLog(stream, loop, "sipsec.proxy")
    log(RECORD)
    done = loop.create_future()
    loop.call_later(2 * HOLD, done.set_result, None)  # after the log's own timer
    await done
    assert log.written == 1 and stream.getvalue().count("\n") == 1


async def test_the_line_is_what_logging_basic_config_would_write() -> None:
    stream = io.StringIO()
    log = AccessLog(stream, asyncio.get_running_loop(), "sipsec.proxy")
    log(RECORD)
    log.flush()
    ours = stream.getvalue()
    reference = logging.Formatter("%(asctime)s %(name)s %(message)s").format(
        logging.LogRecord("sipsec.proxy", logging.INFO, __file__, 1, log_line(RECORD), None, None)
    )
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert re.fullmatch(stamp + re.escape(reference.split(" ", 2)[2]) + "\n", ours)
    assert ours[:10] == reference[:10]  # the same date


async def test_a_closed_stream_loses_the_lines_not_the_proxy() -> None:
    log = AccessLog(Broken(), asyncio.get_running_loop(), "sipsec.proxy")
    log(RECORD)
    log.flush()
    assert log.written == 0
    closed = io.StringIO()
    closed.close()
    log = AccessLog(closed, asyncio.get_running_loop(), "sipsec.proxy")
    log(RECORD)
    log.flush()
    assert log.written == 0


def test_the_core_sends_records_to_the_access_log_not_the_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = ProxyConfig("atlanta.example", local={"udp": ("127.0.0.1", 5060)})
    core = ProxyCore(config, MemoryLocationStore(), MemoryCredentialStore(), secret=b"k" * 32)
    seen: list[TransactionLogged] = []
    with caplog.at_level(logging.INFO, logger="sipsec.proxy"):
        core.log_transaction(RECORD)
        assert [r.getMessage() for r in caplog.records] == [log_line(RECORD)]
        caplog.clear()
        core.access_log = seen.append
        core.log_transaction(RECORD)
        assert caplog.records == [] and seen == [RECORD]
    assert core.stats["status_2xx"] == 2 and list(core.log) == [RECORD, RECORD]
