"""The load generator's own capacity: UAC against UAS directly, no proxy
(issue 7, "Speed": the generator must never be the bottleneck).

Two measurements, each in this one run:

1. ``sans-IO``: a UAC and a UAS engine pumped in memory with a fake clock,
   every datagram handed across as bytes — the engines' Python cost per call
   (INVITE–100–180–200–ACK–BYE–200: 7 datagrams built, 7 classified), best of
   several rounds, CPU time by ``time.process_time``. Beside it, the cost of
   classifying the call's 7 datagrams with the generator's byte scanner and
   with the full ``sipsec.sip.parse_message`` (the reference), and the ratio.
2. ``sockets``: ``run_load`` (``sipsec load``) over loopback UDP, every
   generator process pinned to one CPU, closed loop (``max_concurrent`` calls
   in flight, SIPp's ``-l``) so that the CPU, not the pacing, sets the rate:
   calls/s achieved and generator CPU µs per call (the processes' CPU time
   from start to end of calling, ``time.process_time``; ``RUSAGE_CHILDREN``,
   less that of a run of no calls, for the runner before it reported that), for
   UAC and UAS in one process and in two processes on the same core, and
   with the UAS's optional 100 Trying left out (``trying=False``). Then
   open loop (paced) at ``--paced-rate``, where the CPU share is what
   bench_proxy.py sees.

Run: ``.venv/bin/python bench/bench_load.py [--calls N] [--cpu 1] [--rounds R]
[--paced-rate 2000]``. Before/after: run it once more with
``PYTHONPATH=/path/to/an/older/tree/src`` (e.g. ``git archive <commit> src``
unpacked in a temporary directory): the spawned processes inherit it, and
what the older runner lacks (``shared``, ``cpu_seconds``, the wire module) is
skipped or measured the older way. Alternate the two and take medians of at
least three runs each: on a shared two-core machine the CPU time per call
swings by 20 % from run to run, the calls/s far more (they follow the CPU
share other processes leave to the pinned core, printed beside them).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import resource
import time

from sipsec.sip import parse_message
from sipsec.transport.load import LoadSettings, run_load
from sipsec.ua.load_scenario import ScenarioConfig, UacScenario, UasScenario

UAC = ("127.0.0.1", 40000)
UAS = ("127.0.0.1", 50000)
TARGET = "sip:uas@127.0.0.1:50000"


def pump(calls: int) -> tuple[float, list[bytes]]:
    """CPU seconds for ``calls`` calls through two engines in memory, and the
    datagrams of the first call."""
    uac = UacScenario(ScenarioConfig(UAC, next_hop=UAS, target=TARGET), rate=1e9, calls=calls)
    uas = UasScenario(ScenarioConfig(UAS, target=TARGET))
    first: list[bytes] = []
    gc.collect()
    cpu0 = time.process_time()
    now = 0.0
    uac.start(now)
    while not uac.finished:
        moved = True
        while moved:
            moved = False
            for data, _ in uac.datagrams_to_send():
                moved = True
                if len(first) < 7:
                    first.append(data)
                uas.receive(data, UAC, now)
            for data, _ in uas.datagrams_to_send():
                moved = True
                if len(first) < 7:
                    first.append(data)
                uac.receive(data, UAS, now)
        now += 1e-6
        uac.handle_timer(now)
    cpu = time.process_time() - cpu0
    assert uac.stats.calls_succeeded == calls, uac.stats
    assert uas.stats.calls_succeeded == calls, uas.stats
    return cpu, first


def classify_cost(messages: list[bytes], repeat: int) -> tuple[float, float]:
    """µs per datagram: the engine's scanner, and the full parser."""
    import importlib

    for name in ("sipsec.ua.load_scan", "sipsec.ua.load_wire", "sipsec.ua.load_engine"):
        try:  # the scanner's home now, then in older trees
            scan = importlib.import_module(name).scan
            break
        except (ImportError, AttributeError):
            continue

    results = []
    for function in (scan, parse_message):
        best = float("inf")
        for _ in range(3):
            cpu0 = time.process_time()
            for _ in range(repeat):
                for data in messages:
                    function(data)
            best = min(best, time.process_time() - cpu0)
        results.append(1e6 * best / (repeat * len(messages)))
    return results[0], results[1]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def startup_cpu(settings: LoadSettings) -> float:
    """CPU seconds the generator's processes use to start and stop (no calls)."""
    cpu0 = children_cpu()
    run_load(dataclasses.replace(settings, calls=0))
    return children_cpu() - cpu0


def sockets(label: str, settings: LoadSettings) -> None:
    cpu0 = children_cpu()
    report = run_load(settings)
    # The processes' own CPU time from "go" to their stats (no start-up), when
    # the runner reports it; else what the children used less a run of no calls.
    cpu = getattr(report, "cpu_seconds", None)
    if cpu is None:
        cpu = children_cpu() - cpu0 - startup_cpu(settings)
    uac = report.uac
    assert uac is not None
    done = uac.calls_succeeded
    rate = uac.completed_rate or 0.0
    per_call = 1e6 * cpu / done if done else float("nan")
    wall = (uac.last_end or 0.0) - (uac.first_start or 0.0)
    share = 100 * cpu / wall if wall > 0 else float("nan")
    print(
        f"  {label:<34} {rate:8.0f} calls/s {per_call:7.0f} µs CPU/call  "
        f"CPU {share:4.0f}% of {wall:5.1f} s  failed {uac.calls_failed}  "
        f"retrans {uac.retransmissions}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=1)
    parser.add_argument("--paced-rate", type=float, default=2000.0)
    args = parser.parse_args(argv)
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (shared machine)")

    best = float("inf")
    first: list[bytes] = []
    for _ in range(args.rounds):
        cpu, first = pump(args.calls // 4)
        best = min(best, cpu)
    per_call = 1e6 * best / (args.calls // 4)
    print(f"sans-IO engines, UAC + UAS in memory: {per_call:.1f} µs CPU per call "
          f"({1e6 / per_call:.0f} calls per CPU-second)")  # fmt: skip
    fast, full = classify_cost(first, 2000)
    print(f"classify a datagram: scanner {fast:.2f} µs, parse_message {full:.2f} µs "
          f"(ratio {full / fast:.1f}x)")  # fmt: skip

    print(f"sockets, generator pinned to CPU {args.cpu}, no proxy:")
    cpus = (args.cpu,)
    closed = {"rate": 1e6, "calls": args.calls, "max_concurrent": 200, "cpus": cpus}
    paced = {
        "rate": args.paced_rate,
        "calls": min(args.calls, int(args.paced_rate * 4)),
        "cpus": cpus,
    }
    runs: list[tuple[str, dict[str, object], dict[str, object]]] = [
        ("closed loop, one process", closed, {"shared": True}),
        ("closed loop, UAC + UAS processes", closed, {"shared": False}),
        ("closed loop, one process, no 100", closed, {"shared": True, "trying": False}),
        (f"paced {args.paced_rate:.0f}/s, one process", paced, {"shared": True}),
        (f"paced {args.paced_rate:.0f}/s, two processes", paced, {"shared": False}),
    ]
    for label, base, extra in runs:
        try:
            settings = LoadSettings(**base, **extra)  # type: ignore[arg-type]
        except TypeError:  # an older runner: UAC and UAS processes, 100 sent, only
            if extra != {"shared": False}:
                continue
            settings = LoadSettings(**base)  # type: ignore[arg-type]
        sockets(label, settings)


if __name__ == "__main__":
    main()
