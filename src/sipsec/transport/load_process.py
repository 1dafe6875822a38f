"""One load generator process: sans-IO engines on UDP sockets, one event loop.

Each engine of :mod:`sipsec.ua.load_scenario` gets a non-blocking UDP socket
and a :class:`Pump`: when the socket is readable the pump drains it (up to
:data:`BATCH` datagrams, each fed to the engine with ``now``), then sends
what the engine queued and re-arms the engine's one timer — once per batch,
not per datagram, which is where an asyncio ``DatagramProtocol`` spends most
of a generator's time. A wake-up reads the clock once; a UAC reads with
``recv`` (it matches responses by their headers, §17.1.3, so no source
address object per datagram); and the timer is recomputed only when a
deadline may have moved earlier (see :meth:`Pump.flush`). A process runs a
UAS, a UAC, or both (UAC *i* and UAS *i* on two sockets of one loop: no
context switch between them when they share a core). The parent
(:mod:`sipsec.transport.load`) talks to it over a pipe: ``ready`` (bound
addresses) → ``go`` → ``stats``.

``now`` is ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every process
of the host, and finer than uvloop's millisecond ``loop.time()``), so setup
latencies and the rates of several processes merge. uvloop is used when it
is installed and allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from sipsec.errors import SipsecError
from sipsec.ua.load_scenario import Address, ScenarioConfig, UacScenario, UasScenario

if TYPE_CHECKING:  # the settings class lives with the runner, which imports us
    from .load import LoadSettings

__all__ = ["BATCH", "TICK", "Pump", "bind_udp", "child_main"]

Engine = UacScenario | UasScenario
BATCH = 64  # datagrams read per wake-up before the queued ones are sent
TICK = 0.001  # the shortest timer wait (s)
_BUFFER = 4 * 1024 * 1024  # socket buffers: a burst of retransmissions must not overflow
_MAX_DATAGRAM = 65535


class BindError(SipsecError):
    """A generator socket could not be bound (the port is in use …)."""


def bind_udp(address: Address) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot bind UDP {address[0]}:{address[1]}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


class Pump:
    """Moves datagrams between one socket and one engine; one timer."""

    def __init__(
        self,
        engine: Engine,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.sock = sock
        self.loop = loop
        self.errors = 0  # ICMP errors, full buffers: the engine's timers cover them
        self._on_finished = on_finished
        self._v6 = sock.family == socket.AF_INET6
        # What a UAC's receive() is told the source is: its next hop (it never
        # reads it); None for a UAS, which answers where a request came from.
        self._source: Address | None = engine.next_hop if isinstance(engine, UacScenario) else None
        self._timer: asyncio.TimerHandle | None = None
        self._now = 0.0  # the clock of the last drain: what receive() arms from
        # The least delay of a timer armed by receive() (a timer callback re-arms
        # with the timer cleared, so it is not bound by this). A UAC that waits
        # for a free slot (max_concurrent) may start a call when one ends: 0.
        limited = isinstance(engine, UacScenario) and engine.config.max_concurrent is not None
        self._floor = 0.0 if limited else engine.least_delay
        self._armed = 0.0
        self._seen = -1  # engine.timers_armed when the timer was last computed
        loop.add_reader(sock.fileno(), self.readable)

    def readable(self) -> None:
        self._drain(BATCH)
        self.flush()

    def _drain(self, limit: int) -> None:
        """Feed the engine up to ``limit`` datagrams waiting on the socket.

        One clock reading per wake-up: the datagrams drained in it all arrived
        by then (setup latencies are measured to the wake-up that read the 2xx).
        A UAC matches responses by their headers alone (§17.1.3), so it reads
        without the source address (``recv``: no address object per datagram)."""
        receive = self.engine.receive
        now = self._now = time.monotonic()
        if self._source is not None:
            recv = self.sock.recv
            source = self._source
            for _ in range(limit):
                try:
                    receive(recv(_MAX_DATAGRAM), source, now)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # an ICMP error reported on the socket
                    self.errors += 1
            return
        recvfrom = self.sock.recvfrom
        v6 = self._v6
        for _ in range(limit):
            try:
                data, address = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.errors += 1
                continue
            receive(data, address[:2] if v6 else address, now)

    def on_timer(self) -> None:
        self._timer = None  # flush() computes the next deadline
        # The loop runs timers before it polls the sockets: when the process is
        # behind, the responses already queued would come after the timers they
        # make moot (a retransmission, a call start while calls wait to end).
        self._drain(4 * BATCH)
        self.engine.handle_timer(time.monotonic())
        self.flush()

    def flush(self) -> None:
        """Send what the engine queued; re-arm the timer when it moved earlier."""
        sendto = self.sock.sendto
        for data, destination in self.engine.datagrams_to_send():
            try:
                sendto(data, destination)
            except OSError:  # a full buffer or an ICMP error: as if lost
                self.errors += 1
        engine = self.engine
        if self._on_finished is not None and isinstance(engine, UacScenario) and engine.finished:
            self._on_finished()
            self._on_finished = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        seen = engine.timers_armed
        if self._timer is not None and (
            seen == self._seen or self._now + self._floor >= self._armed
        ):
            # No timer armed since, or every one armed since (at the drain's clock,
            # at least ``floor`` ahead) comes after the armed one: the engine's
            # earliest deadline did not move earlier, so no get_timer() is needed
            # (a few per call when paced; a stale entry only wakes us early).
            self._seen = seen
            return
        self._seen = seen
        when = engine.get_timer()
        if when is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        elif self._timer is None or when < self._armed:
            if self._timer is not None:
                self._timer.cancel()
            self._armed = when
            delay = when - time.monotonic()
            # uvloop counts whole milliseconds: a shorter wait would round to 0
            # and spin until the deadline. One tick instead: every call start
            # and retransmission due by then is handled in one wake-up.
            if 0.0 < delay < TICK:
                delay = TICK
            self._timer = self.loop.call_later(max(0.0, delay), self.on_timer)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


def _config(settings: LoadSettings, local: Address, target: str | None, hop: Any) -> ScenarioConfig:
    return ScenarioConfig(
        local,
        next_hop=hop,
        target=target or "sip:uas@127.0.0.1",  # a UAS answers whatever URI comes
        t1=settings.t1,
        hold=settings.hold,
        max_concurrent=settings.max_concurrent,
        trying=settings.trying,
    )


async def _serve(role: str, settings: LoadSettings, binds: list[Address], conn: Connection) -> None:
    """Runs in the child: bind, say ready, wait for go, run, send the stats.
    Role ``both`` binds the UAS socket first, then the UAC's."""
    loop = asyncio.get_running_loop()
    socks: list[socket.socket] = []
    try:
        for bind in binds:
            socks.append(bind_udp(bind))
    except BindError:
        for sock in socks:
            sock.close()
        raise
    locals_ = [sock.getsockname()[:2] for sock in socks]
    conn.send(("ready", locals_))
    message = await _receive(loop, conn)
    if message[0] != "go":
        for sock in socks:
            sock.close()
        return
    _, target, next_hop, index = message
    cpu0 = time.process_time()
    done: asyncio.Future[None] = loop.create_future()

    def finished() -> None:
        if not done.done():
            done.set_result(None)

    pumps: dict[str, Pump] = {}
    if role in ("uas", "both"):
        uas = UasScenario(_config(settings, locals_[0], None, None))
        pumps["uas"] = Pump(uas, socks[0], loop)
    uac: UacScenario | None = None
    if role in ("uac", "both"):
        share = settings.calls // settings.processes
        share += index < settings.calls % settings.processes  # the remainder
        config = _config(settings, locals_[-1], target, next_hop)
        uac = UacScenario(config, rate=settings.rate / settings.processes, calls=share)
        pumps["uac"] = Pump(uac, socks[-1], loop, finished)
    stop = loop.create_task(_receive(loop, conn))  # the parent's "stop"
    try:
        if uac is not None:
            uac.start(time.monotonic())
            pumps["uac"].flush()
            await asyncio.wait([done, stop], return_when=asyncio.FIRST_COMPLETED)
        else:
            await stop
        stats = {}
        for name, pump in pumps.items():
            stats[name] = pump.engine.stats
            if pump.engine.active_calls:  # stopped early (Ctrl-C) or BYE never came
                stats[name].failures["still open at stop"] = pump.engine.active_calls
        errors = sum(pump.errors for pump in pumps.values())
        conn.send(("stats", stats, errors, time.process_time() - cpu0))
    finally:
        stop.cancel()
        for pump in pumps.values():
            pump.close()


async def _receive(loop: asyncio.AbstractEventLoop, conn: Connection) -> Any:
    """The next message from the parent, without blocking the loop."""
    ready: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(conn.fileno(), readable)
    try:
        await ready
    finally:
        loop.remove_reader(conn.fileno())
    try:
        return conn.recv()
    except EOFError:
        return ("stop",)  # the parent went away


def child_main(role: str, settings: LoadSettings, binds: list[Address], conn: Connection) -> None:
    """Entry point of a generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    # No cyclic garbage collection in a generator process: its collections of
    # the ~100,000 lingering calls paused the loop for tens of milliseconds (a
    # backlog, then retransmissions), and the per-call objects form no cycles
    # (a run of 5,000 or of 20,000 calls leaves the same 381 unreachable objects,
    # all from start-up). Reference counting still frees everything.
    gc.freeze()
    gc.disable()
    if settings.cpus:
        os.sched_setaffinity(0, settings.cpus)
    runner: Callable[[Any], None] = asyncio.run
    if settings.use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
    try:
        runner(_serve(role, settings, binds, conn))
    except Exception as exc:  # the process boundary: the parent reports it
        text = str(exc) if isinstance(exc, SipsecError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):
            conn.send(("error", text))
    finally:
        conn.close()
