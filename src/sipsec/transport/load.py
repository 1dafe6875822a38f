"""The load generator's multi-process runner (``sipsec load``).

The runner starts the generator processes of
:mod:`sipsec.transport.load_process` — by default one per ``processes``
running UAC *i* and UAS *i* on two sockets of one event loop (``shared``),
else N UAS processes then N UAC processes — where UAC *i* calls UAS *i*. It
lets every UAC start pacing at the same instant and gathers each process's
:class:`~sipsec.ua.load_scenario.LoadStats` and CPU time over a pipe::

    report = run_load(LoadSettings(rate=2000, calls=20000, processes=2,
                                   proxy=("127.0.0.1", 5060)))
    report.uac.calls_succeeded, report.to_dict(), report.cpu_seconds

Processes are spawned (not forked) so that a caller's event loop or threads
never leak into a child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal

from sipsec.errors import LocalProtocolError, SipsecError
from sipsec.sip import SipUri, parse_uri
from sipsec.ua.load_scenario import Address, LoadStats, ScenarioConfig, percentile

from .load_process import child_main

__all__ = ["LoadError", "LoadReport", "LoadSettings", "Role", "run_load"]

Role = Literal["uac", "uas", "both"]
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
    # Role both: UAC i and UAS i in one process (one loop, two sockets) rather
    # than two processes; cheaper when they share a core (bench/bench_load.py).
    shared: bool = True
    trying: bool = True  # the UAS sends 100 Trying before its 180 (§17.2.1 makes it optional)

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
    socket_errors: int = 0  # ICMP errors, full buffers: datagrams lost at our sockets
    cpu_seconds: float = 0.0  # CPU time of the generator processes while calling

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (latencies as percentiles in milliseconds)."""
        out: dict[str, Any] = {
            "role": self.settings.role,
            "target_rate": self.settings.rate,
            "calls": self.settings.calls,
            "processes": self.settings.processes,
            "uas_addresses": [f"{h}:{p}" for h, p in self.uas_addresses],
            "socket_errors": self.socket_errors,
            "generator_cpu_seconds": round(self.cpu_seconds, 3),
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


# -- the parent: spawn, start together, gather ------------------------------------------
@dataclass
class _Process:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    addresses: list[Address] = field(default_factory=list)  # UAS first, then UAC


def _spawn(
    role: str,
    settings: LoadSettings,
    binds: Sequence[list[Address]],
    children: list[_Process],
) -> None:
    """Start one process per list of bind addresses into ``children`` (the
    caller's list, so that it stops them even when one fails to come up)."""
    context = multiprocessing.get_context("spawn")
    started = len(children)
    for addresses in binds:
        parent, child = context.Pipe()
        process = context.Process(
            target=child_main, args=(role, settings, addresses, child), name=f"sipsec-load-{role}"
        )
        process.start()
        child.close()
        children.append(_Process(process, parent))
    for item in children[started:]:
        item.addresses = _expect(item, "ready", _START_TIMEOUT)[1]


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
    uas: list[_Process] = []  # processes answering calls only
    uac: list[_Process] = []  # processes placing calls (and answering them when shared)
    report = LoadReport(settings, None, None)
    shared = settings.role == "both" and settings.shared
    try:
        if shared:
            binds = [[bind, (settings.local_host, 0)] for bind in _uas_binds(settings)]
            _spawn("both", settings, binds, uac)
            report.uas_addresses = [item.addresses[0] for item in uac]
        elif settings.role in ("uas", "both"):
            _spawn("uas", settings, [[bind] for bind in _uas_binds(settings)], uas)
            report.uas_addresses = [item.addresses[0] for item in uas]
            for item in uas:
                item.conn.send(("go", None, None, 0))
        if on_ready is not None:
            on_ready(report.uas_addresses)
        if settings.role in ("uac", "both"):
            if not shared:
                binds = [[(settings.local_host, 0)]] * settings.processes
                _spawn("uac", settings, binds, uac)
            targets = _targets(settings, report.uas_addresses)
            for index, (item, (target, hop)) in enumerate(zip(uac, targets, strict=True)):
                item.conn.send(("go", target, hop, index))
            deadline = settings.calls / settings.rate + settings.hold + 64 * settings.t1 * 3
            try:
                _gather(uac, deadline + 30.0, report)
            except KeyboardInterrupt:  # Ctrl-C: stop placing calls, report what happened
                for item in uac:
                    item.conn.send(("stop",))
                _gather(uac, _START_TIMEOUT, report)
        elif settings.role == "uas":
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(settings.uas_time if settings.uas_time is not None else 1e9)
        if uas:
            for item in uas:
                item.conn.send(("stop",))
            _gather(uas, _START_TIMEOUT, report)
        return report
    finally:
        for item in uac + uas:
            item.conn.close()  # a child still waiting for us sees EOF and stops
        for item in uac + uas:
            item.process.join(timeout=5.0)
            if item.process.is_alive():
                item.process.kill()  # ours, by its handle
                item.process.join()


def _gather(children: list[_Process], timeout: float, report: LoadReport) -> None:
    """Each child's stats into ``report.uac``/``report.uas``, errors and CPU summed."""
    for item in children:
        _, stats, errors, cpu = _expect(item, "stats", timeout)
        for role, part in stats.items():
            merged = report.uac if role == "uac" else report.uas
            if merged is None:
                merged = LoadStats()
                if role == "uac":
                    report.uac = merged
                else:
                    report.uas = merged
            merged.merge(part)
        report.socket_errors += errors
        report.cpu_seconds += cpu
