"""The proxy's batched access log (sipsec.transport.access_log)."""

from __future__ import annotations

import asyncio
import io
import logging
import re

import pytest

from sipsec.proxy import MemoryCredentialStore, ProxyConfig, ProxyCore, TransactionLogged
from sipsec.proxy.location_memory import MemoryLocationStore
from sipsec.proxy.log import log_line
from sipsec.transport.access_log import AccessLog

RECORD = TransactionLogged(
    "INVITE", "sip:alice@atlanta.example", "sip:bob@biloxi.example", 200, 0.0123, 1,
    "udp:127.0.0.1:5070",
)  # fmt: skip


class Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError("gone")


async def test_lines_of_one_pass_are_written_together_at_its_end() -> None:
    stream = io.StringIO()
    log = AccessLog(stream, asyncio.get_running_loop(), "sipsec.proxy")
    log(RECORD)
    log(RECORD)
    assert stream.getvalue() == ""  # held until the pass ends
    await asyncio.sleep(0)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and log.written == 2
    log(RECORD)
    await asyncio.sleep(0)
    assert len(stream.getvalue().splitlines()) == 3


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
    await asyncio.sleep(0)
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
