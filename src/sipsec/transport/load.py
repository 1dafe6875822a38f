"""The asyncio shell of the load generator and its multi-process runner.

Each generator process runs one sans-IO engine of
:mod:`sipsec.ua.load_scenario` on one UDP socket: datagrams in with ``now``,
datagrams out, exactly one timer re-armed (aioquic's protocol shape). The
runner starts N UAS processes, then N UAC processes (UAC *i* calls UAS *i*),
lets every UAC start pacing at the same instant, and gathers each process's
:class:`~sipsec.ua.load_scenario.LoadStats` over a pipe::

    report = run_load(LoadSettings(rate=2000, calls=20000, processes=2,
                                   proxy=("127.0.0.1", 5060)))
    report.uac.calls_succeeded, report.to_dict()

``now`` is ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every process
of the host, and finer than uvloop's millisecond ``loop.time()``), so setup
latencies and the rates of several processes merge. uvloop is used when it is
installed. Processes are spawned (not forked) so that a caller's event loop or
threads never leak into a child.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, cast

from sipsec.errors import LocalProtocolError, SipsecError
from sipsec.sip import SipUri, parse_uri
from sipsec.ua.load_scenario import (
    Address,
    LoadStats,
    ScenarioConfig,
    UacScenario,
    UasScenario,
    percentile,
)

__all__ = ["LoadError", "LoadReport", "LoadSettings", "Role", "run_load"]

Role = Literal["uac", "uas", "both"]
Engine = UacScenario | UasScenario
_BUFFER = 4 * 1024 * 1024  # socket buffers: a burst of retransmissions must not overflow
_START_TIMEOUT = 30.0  # a spawned process imports sipsec; a loaded machine is slow


class LoadError(SipsecError):
    """The generator could not run (a port in use, a process that died …)."""


@dataclass(frozen=True)
class LoadSettings:
    """What ``sipsec load`` does. ``target`` is the Request-URI; with role
    ``both`` its user part is kept and its host:port is that of UAS *i*.
    ``proxy`` is the next hop of every INVITE (None: straight to the UAS)."""

    role: Role = "both"
    target: str | None = None
    proxy: Address | None = None
    rate: float = 100.0
    calls: int = 100
    processes: int = 1
    uas_listen: Address = ("127.0.0.1", 0)  # port p: UAS i binds p + i (0: any)
    local_host: str = "127.0.0.1"  # where the UACs bind
    hold: float = 0.0
    t1: float = 0.5
    max_concurrent: int | None = None  # per process
    cpus: tuple[int, ...] | None = None  # pin every generator process to these CPUs
    uas_time: float | None = None  # role uas: stop after this long (None: until stopped)
    use_uvloop: bool = True

    def __post_init__(self) -> None:
        if self.role not in ("uac", "uas", "both"):
            raise LocalProtocolError(f"role must be uac, uas or both, not {self.role!r}")
        if not self.rate > 0 or self.calls < 0 or self.processes < 1:
            raise LocalProtocolError("need rate > 0, calls >= 0 and processes >= 1")
        if self.role == "uac" and self.target is None:
            raise LocalProtocolError("role uac needs a target URI")
        if self.target is not None:
            ScenarioConfig(("127.0.0.1", 0), target=self.target)  # raises when bad


@dataclass
class LoadReport:
    """Merged results; ``uac``/``uas`` are None for a role that did not run."""

    settings: LoadSettings
    uac: LoadStats | None
    uas: LoadStats | None
    uas_addresses: list[Address] = field(default_factory=list)
    socket_errors: int = 0  # ICMP errors (port unreachable …) seen by the sockets

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (latencies as percentiles in milliseconds)."""
        out: dict[str, Any] = {
            "role": self.settings.role,
            "target_rate": self.settings.rate,
            "calls": self.settings.calls,
            "processes": self.settings.processes,
            "uas_addresses": [f"{h}:{p}" for h, p in self.uas_addresses],
            "socket_errors": self.socket_errors,
        }
        for name, stats in (("uac", self.uac), ("uas", self.uas)):
            if stats is not None:
                out[name] = _stats_dict(stats)
        return out


def _stats_dict(stats: LoadStats) -> dict[str, Any]:
    latency = {f"p{p}": _ms(percentile(stats.latencies, p)) for p in (50, 90, 99)} | {
        "max": _ms(max(stats.latencies, default=None))
    }
    return {
        "calls_started": stats.calls_started,
        "calls_succeeded": stats.calls_succeeded,
        "calls_failed": stats.calls_failed,
        "failures": dict(sorted(stats.failures.items())),
        "offered_rate": stats.offered_rate,
        "completed_rate": stats.completed_rate,
        "setup_latency_ms": latency,
        "retransmissions": stats.retransmissions,
        "duplicates": stats.duplicates,
        "unexpected": stats.unexpected,
        "malformed": stats.malformed,
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


# -- one process: a socket, an engine, one timer ---------------------------------------
class _Driver(asyncio.DatagramProtocol):
    """Moves datagrams between a UDP socket and an engine (aioquic's shape)."""

    def __init__(self, engine: Engine, done: asyncio.Future[None]) -> None:
        self.engine = engine
        self.done = done
        self.errors = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport has sendto() but is no DatagramTransport subclass.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.engine.receive(data, (addr[0], addr[1]), time.monotonic())
        self.flush()

    def error_received(self, exc: Exception) -> None:
        self.errors += 1  # ICMP port unreachable and friends: the engine times out

    def on_timer(self) -> None:
        self._timer = None
        self.engine.handle_timer(time.monotonic())
        self.flush()

    def flush(self) -> None:
        transport = self._transport
        assert transport is not None
        for data, destination in self.engine.datagrams_to_send():
            transport.sendto(data, destination)
        when = self.engine.get_timer()
        if isinstance(self.engine, UacScenario) and self.engine.finished:
            when = None
            if not self.done.done():
                self.done.set_result(None)
        if when is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        elif self._timer is None or when < self._armed:
            if self._timer is not None:
                self._timer.cancel()
            self._armed = when
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, when - time.monotonic()), self.on_timer)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._transport.close()


def _bind(address: Address) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise LoadError(f"cannot bind UDP {address[0]}:{address[1]}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


async def _serve(role: str, settings: LoadSettings, bind: Address, conn: Connection) -> None:
    """Runs in the child: bind, say ready, wait for go, run, send the stats."""
    loop = asyncio.get_running_loop()
    sock = _bind(bind)
    local = sock.getsockname()[:2]
    conn.send(("ready", local))
    message = await _receive(loop, conn)
    if message[0] != "go":
        sock.close()
        return
    target, next_hop = message[1], message[2]
    config = ScenarioConfig(
        local,
        next_hop=next_hop,
        target=target or "sip:uas@127.0.0.1",  # a UAS answers whatever URI comes
        t1=settings.t1,
        hold=settings.hold,
        max_concurrent=settings.max_concurrent,
    )
    done: asyncio.Future[None] = loop.create_future()
    engine: Engine
    if role == "uac":
        share = settings.calls // settings.processes
        share += message[3] < settings.calls % settings.processes  # the remainder
        engine = UacScenario(config, rate=settings.rate / settings.processes, calls=share)
    else:
        engine = UasScenario(config)
    _, driver = await loop.create_datagram_endpoint(lambda: _Driver(engine, done), sock=sock)
    stop = loop.create_task(_receive(loop, conn))  # the parent's "stop"
    try:
        if isinstance(engine, UacScenario):
            engine.start(time.monotonic())
            driver.flush()
            await asyncio.wait([done, stop], return_when=asyncio.FIRST_COMPLETED)
        else:
            await stop
        stats = engine.stats
        if engine.active_calls:  # stopped early (Ctrl-C) or BYE never came
            stats.failures["still open at stop"] = engine.active_calls
        conn.send(("stats", stats, driver.errors))
    finally:
        stop.cancel()
        driver.close()


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


def _child(role: str, settings: LoadSettings, bind: Address, conn: Connection) -> None:
    """Entry point of a generator process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if settings.cpus:
        os.sched_setaffinity(0, settings.cpus)
    runner: Callable[[Any], None] = asyncio.run
    if settings.use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
    try:
        runner(_serve(role, settings, bind, conn))
    except Exception as exc:  # the process boundary: the parent reports it
        text = str(exc) if isinstance(exc, SipsecError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):
            conn.send(("error", text))
    finally:
        conn.close()


# -- the parent: spawn, start together, gather ------------------------------------------
@dataclass
class _Process:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    address: Address = ("", 0)


def _spawn(
    role: str, settings: LoadSettings, binds: Sequence[Address], children: list[_Process]
) -> None:
    """Start one process per bind address into ``children`` (the caller's list,
    so that it stops them even when one fails to come up)."""
    context = multiprocessing.get_context("spawn")
    started = len(children)
    for bind in binds:
        parent, child = context.Pipe()
        process = context.Process(
            target=_child, args=(role, settings, bind, child), name=f"sipsec-load-{role}"
        )
        process.start()
        child.close()
        children.append(_Process(process, parent))
    for item in children[started:]:
        item.address = _expect(item, "ready", _START_TIMEOUT)[1]


def _expect(item: _Process, kind: str, timeout: float) -> Any:
    if not item.conn.poll(timeout):
        raise LoadError(f"a {item.process.name} process sent nothing in {timeout:.0f} s")
    try:
        message = item.conn.recv()
    except EOFError:
        raise LoadError(f"a {item.process.name} process died") from None
    if message[0] == "error":
        raise LoadError(message[1])
    if message[0] != kind:  # pragma: no cover - protocol between our own processes
        raise LoadError(f"a {item.process.name} process sent {message[0]!r}")
    return message


def _uas_binds(settings: LoadSettings) -> list[Address]:
    host, port = settings.uas_listen
    return [(host, port + i if port else 0) for i in range(settings.processes)]


def _targets(settings: LoadSettings, uas: list[Address]) -> list[tuple[str, Address]]:
    """(Request-URI, next hop) of each UAC process."""
    user = "uas"
    if settings.target is not None:
        uri = parse_uri(settings.target)
        assert isinstance(uri, SipUri)
        user = uri.user or user
        if settings.role == "uac":
            hop = (uri.host.strip("[]"), uri.port or 5060)
            return [(settings.target, settings.proxy or hop)] * settings.processes
    out = []
    for host, port in uas:
        shown = f"[{host}]" if ":" in host else host
        out.append((f"sip:{user}@{shown}:{port}", settings.proxy or (host, port)))
    return out


def run_load(
    settings: LoadSettings, *, on_ready: Callable[[list[Address]], None] | None = None
) -> LoadReport:
    """Run the generator and return the merged report (blocks until done).

    Role ``uas`` runs until ``settings.uas_time`` has passed or the caller is
    interrupted (KeyboardInterrupt stops the processes and still reports);
    ``on_ready`` gets the UAS addresses once they are bound.
    """
    uas: list[_Process] = []
    uac: list[_Process] = []
    report = LoadReport(settings, None, None)
    try:
        if settings.role in ("uas", "both"):
            _spawn("uas", settings, _uas_binds(settings), uas)
            report.uas_addresses = [item.address for item in uas]
            for item in uas:
                item.conn.send(("go", None, None, 0))
        if on_ready is not None:
            on_ready(report.uas_addresses)
        if settings.role in ("uac", "both"):
            binds = [(settings.local_host, 0)] * settings.processes
            _spawn("uac", settings, binds, uac)
            targets = _targets(settings, report.uas_addresses)
            for index, (item, (target, hop)) in enumerate(zip(uac, targets, strict=True)):
                item.conn.send(("go", target, hop, index))
            deadline = settings.calls / settings.rate + settings.hold + 64 * settings.t1 * 3
            try:
                report.uac = _gather(uac, deadline + 30.0, report)
            except KeyboardInterrupt:  # Ctrl-C: stop placing calls, report what happened
                for item in uac:
                    item.conn.send(("stop",))
                report.uac = _gather(uac, _START_TIMEOUT, report)
        elif settings.role == "uas":
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(settings.uas_time if settings.uas_time is not None else 1e9)
        if uas:
            for item in uas:
                item.conn.send(("stop",))
            report.uas = _gather(uas, _START_TIMEOUT, report)
        return report
    finally:
        for item in uac + uas:
            item.conn.close()  # a child still waiting for us sees EOF and stops
        for item in uac + uas:
            item.process.join(timeout=5.0)
            if item.process.is_alive():
                item.process.kill()  # ours, by its handle
                item.process.join()


def _gather(children: list[_Process], timeout: float, report: LoadReport) -> LoadStats:
    merged = LoadStats()
    for item in children:
        _, stats, errors = _expect(item, "stats", timeout)
        merged.merge(stats)
        report.socket_errors += errors
    return merged
