"""The proxy's access log: one line per transaction, written in batches.

Issue 7 asks for one log line per transaction, and through :mod:`logging`
that line costs more than a fifth of a relayed call's CPU (a LogRecord, its
thread/process fields, the handler's lock, a write and a flush each time,
measured with ``bench/bench_proxy.py``). :class:`AccessLog` writes the same
text — ``asctime name message``, as the CLI's ``logging.basicConfig`` format
does — but builds it with a timestamp re-formatted once a second and writes
all the lines of one event-loop pass at once, flushed at the end of the pass
(``loop.call_soon``), so a line is never held longer than that pass.

``sipsec proxy`` installs it as :attr:`ProxyCore.access_log`; everything else
the proxy logs (warnings, start-up, debug) still goes through :mod:`logging`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TextIO

from sipsec.proxy.log import TransactionLogged, log_line

__all__ = ["AccessLog"]


class AccessLog:
    """A callable sink for :class:`TransactionLogged` records."""

    def __init__(self, stream: TextIO, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self._stream = stream
        self._loop = loop
        self._name = name
        self._lines: list[str] = []
        self._second = -1
        self._prefix = ""
        self.written = 0

    def __call__(self, record: TransactionLogged) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:  # logging's default asctime, formatted once a second
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((now - second) * 1000)
        if not self._lines:
            self._loop.call_soon(self.flush)
        self._lines.append(f"{self._prefix},{millis:03d} {self._name} {log_line(record)}\n")

    def flush(self) -> None:
        """Write and flush what this pass logged; a closed stream loses only that."""
        lines, self._lines = self._lines, []
        if not lines:
            return
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except (OSError, ValueError):  # stderr closed or a broken pipe: never crash the proxy
            return
        self.written += len(lines)
