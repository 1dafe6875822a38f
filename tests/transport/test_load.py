"""The load generator's asyncio shell and multi-process runner, over loopback
UDP: UAC and UAS processes directly, then through Kamailio (interop)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.transport.load import LoadError, LoadSettings, run_load
from sipsec.ua.load_scenario import ScenarioConfig, UacScenario, UasScenario

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_CFG = ROOT / "bench" / "kamailio-relay.cfg"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fifty_calls_uac_to_uas_directly() -> None:
    report = run_load(LoadSettings(rate=100, calls=50))
    uac, uas = report.uac, report.uas
    assert uac is not None and uas is not None
    assert (uac.calls_started, uac.calls_succeeded, uac.failures) == (50, 50, {})
    assert (uas.calls_started, uas.calls_succeeded, uas.failures) == (50, 50, {})
    assert len(uac.latencies) == 50 and all(v >= 0 for v in uac.latencies)
    assert uac.malformed == uas.malformed == 0
    # Paced: call i starts no earlier than i/100 s after the first, so a loaded
    # machine may stretch the 49 gaps, never squeeze them (no burst).
    assert uac.offered_rate is not None and uac.offered_rate <= 100.0 + 1e-6
    data = report.to_dict()
    assert data["uac"]["calls_succeeded"] == 50
    assert set(data["uac"]["setup_latency_ms"]) == {"p50", "p90", "p99", "max"}


@pytest.mark.parametrize("shared", [True, False])
def test_two_processes_split_the_calls_and_merge_the_stats(shared: bool) -> None:
    """UAC i and UAS i in one process each (shared) or in four processes."""
    cpu = min(os.sched_getaffinity(0))  # pinned, as the benchmark pins the generator
    settings = LoadSettings(
        rate=100, calls=41, processes=2, cpus=(cpu,), shared=shared, trying=shared
    )
    report = run_load(settings)
    assert len(report.uas_addresses) == 2 and len(set(report.uas_addresses)) == 2
    assert report.uac is not None and report.uas is not None
    assert report.uac.calls_succeeded == 41 and report.uas.calls_succeeded == 41
    assert report.uac.calls_started == 41 and report.uas.calls_started == 41
    assert len(report.uac.latencies) == 41
    assert report.cpu_seconds > 0 and report.socket_errors == 0


def test_no_answer_counts_timeouts() -> None:
    port = free_udp_port()  # nobody listens: Timer B fires (T1 shortened to 10 ms)
    settings = LoadSettings(
        role="uac", target=f"sip:uas@127.0.0.1:{port}", rate=100, calls=3, t1=0.01
    )
    report = run_load(settings)
    assert report.uac is not None and report.uas is None
    assert report.uac.failures == {"INVITE timeout": 3}
    assert report.uac.calls_succeeded == 0
    # Timer A: at most 6 retransmissions before Timer B (exactly 6 with an exact
    # clock, see tests/ua; a late timer on a busy machine may merge the last ones).
    assert 3 <= report.uac.retransmissions <= 3 * 6


def test_port_in_use_is_a_load_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(LoadError, match="cannot bind"):
            run_load(LoadSettings(role="uas", uas_listen=("127.0.0.1", port), uas_time=0))


def test_uas_role_runs_for_its_time() -> None:
    seen: list[list[tuple[str, int]]] = []
    report = run_load(LoadSettings(role="uas", uas_time=0.1), on_ready=seen.append)
    assert len(seen) == 1 and seen[0] == report.uas_addresses
    assert report.uas is not None and report.uas.calls_started == 0 and report.uac is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"calls": -1},
        {"processes": 0},
        {"role": "uac"},  # no target
        {"role": "proxy"},
        {"target": "http://example.com/"},
        {"target": "sip:"},
    ],
)
def test_bad_settings_are_local_protocol_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        LoadSettings(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[int]:
    """Kamailio with the benchmark's relay configuration on a free port."""
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(binary).exists():
        pytest.fail("kamailio is not installed (Debian package kamailio)")
    port = free_udp_port()
    log = (tmp_path / "kamailio.log").open("wb")
    process = subprocess.Popen(
        [binary, "-f", str(KAMAILIO_CFG), "-l", f"udp:127.0.0.1:{port}", "-x", "tlsf",
         "-X", "tlsf", "-m", "64", "-M", "8", "-DD", "-E", "-Y", str(tmp_path),
         "-w", str(tmp_path)],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        _wait_for_sip(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for_sip(port: int, process: subprocess.Popen[bytes]) -> None:
    """Kamailio answers OPTIONS to itself with 404 (not here) once it listens."""
    probe = (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKprobe;rport\r\nMax-Forwards: 70\r\n"
        "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:probe@127.0.0.1>;tag=q\r\n"
        "Call-ID: probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"kamailio exited with {process.returncode}")
            sock.sendto(probe, ("127.0.0.1", port))
            try:
                if sock.recv(4096).startswith(b"SIP/2.0 "):
                    return
            except OSError:
                time.sleep(0.05)
    pytest.fail("kamailio did not answer on its port")


@pytest.mark.interop
def test_calls_through_kamailio_for_two_seconds(kamailio: int) -> None:
    """300 calls at 150 calls/s through Kamailio's t_relay with record_route."""
    report = run_load(LoadSettings(rate=150, calls=300, proxy=("127.0.0.1", kamailio)))
    assert report.uac is not None and report.uas is not None
    assert (report.uac.calls_succeeded, report.uac.failures) == (300, {})
    # ACK and BYE follow Kamailio's Record-Route (unit-tested in tests/ua): the
    # UAS saw every ACK and BYE of its dialogs, nothing it could not match.
    assert (report.uas.calls_succeeded, report.uas.failures) == (300, {})
    assert report.uas.unexpected == report.uac.unexpected == 0
    assert report.uas.malformed == report.uac.malformed == 0
    assert len(report.uac.latencies) == 300


async def test_fifty_calls_through_sipsec_proxy(tmp_path: Path) -> None:
    """The generator against E3's stateful proxy (record-routing, no auth),
    run in this test's loop while the generator's processes run in a thread."""
    from sipsec.proxy import ProxyConfig
    from sipsec.transport.proxy_app import run_proxy

    config = ProxyConfig("bench.example", authenticate_invites=False)
    server = await run_proxy(
        config,
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=str(tmp_path / "proxy.db"),
        redis_url=None,
        authenticate_registers=False,
        use_dns=False,
    )
    try:
        address = server.addresses[0]
        settings = LoadSettings(rate=50, calls=50, proxy=(address.host, address.port))
        report = await asyncio.get_running_loop().run_in_executor(None, run_load, settings)
    finally:
        await server.close()
    assert report.uac is not None and report.uas is not None
    assert (report.uac.calls_succeeded, report.uac.failures) == (50, {})
    assert (report.uas.calls_succeeded, report.uas.failures) == (50, {})


async def _run_pumps(
    uas: UasScenario, uas_sock: socket.socket, uac: UacScenario, uac_sock: socket.socket
) -> None:
    """Both engines on their sockets in this loop until the UAC has placed
    every call; then both pumps close (and their sockets with them)."""
    from sipsec.transport.load_process import Pump

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    pumps = [Pump(uas, uas_sock, loop), Pump(uac, uac_sock, loop, lambda: done.set_result(None))]
    try:
        uac.start(time.monotonic())
        pumps[1].flush()
        await asyncio.wait_for(done, 30.0)
    finally:
        for pump in pumps:
            pump.close()


async def test_pumps_run_a_uac_and_a_uas_in_this_loop() -> None:
    """The per-process part in-process: two engines on two sockets of one loop
    (what a shared generator process runs), 30 calls, then the sockets close."""
    from sipsec.transport.load_process import bind_udp

    uas_sock, uac_sock = bind_udp(("127.0.0.1", 0)), bind_udp(("127.0.0.1", 0))
    uas_addr, uac_addr = uas_sock.getsockname()[:2], uac_sock.getsockname()[:2]
    target = f"sip:uas@127.0.0.1:{uas_addr[1]}"
    uas = UasScenario(ScenarioConfig(uas_addr, target=target))
    uac = UacScenario(
        ScenarioConfig(uac_addr, next_hop=uas_addr, target=target), rate=300, calls=30
    )
    await _run_pumps(uas, uas_sock, uac, uac_sock)
    assert (uac.stats.calls_succeeded, uac.stats.failures) == (30, {})
    assert (uas.stats.calls_succeeded, uas.stats.failures) == (30, {})
    assert uas_sock.fileno() == -1 and uac_sock.fileno() == -1


@pytest.mark.parametrize(
    ("hold", "limit", "t1", "rate"),
    [
        (0.0, None, 0.5, 400.0),
        (0.002, None, 0.5, 400.0),
        (0.0, 3, 0.5, 1e6),
        (0.0, None, 0.01, 40.0),
    ],
    ids=["paced", "hold", "closed-loop", "sparse"],
)
async def test_the_pumps_timer_is_never_later_than_the_engines(
    hold: float, limit: int | None, t1: float, rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flush() skips get_timer() when no deadline can have moved earlier (its
    fast path); after every flush the timer it keeps must still be due no
    later than the engine's earliest deadline (the general path's answer),
    or a call start or retransmission would be late."""
    from sipsec.transport.load_process import Pump, bind_udp

    checked = [0, 0]  # flushes checked, of which the fast path answered
    asked = [0]  # get_timer() calls made by flush()
    late: list[tuple[float | None, float]] = []  # (pump's timer, engine's deadline)
    real_flush = Pump.flush

    def checked_flush(pump: Pump) -> None:
        seen, before = pump._seen, asked[0]
        real_flush(pump)
        if pump._on_finished is None and isinstance(pump.engine, UacScenario):
            return  # finished: the runner stops the loop
        checked[0] += 1
        checked[1] += asked[0] == before and pump._seen != seen  # armed since, not asked
        deadline = type(pump.engine).get_timer(pump.engine)
        if deadline is not None and (pump._timer is None or pump._armed > deadline):
            late.append((pump._armed if pump._timer else None, deadline))

    monkeypatch.setattr(Pump, "flush", checked_flush)
    uas_sock, uac_sock = bind_udp(("127.0.0.1", 0)), bind_udp(("127.0.0.1", 0))
    uas_addr, uac_addr = uas_sock.getsockname()[:2], uac_sock.getsockname()[:2]
    target = f"sip:uas@127.0.0.1:{uas_addr[1]}"
    # "sparse": calls further apart than T1, so the UAS's timer is often a far
    # one (Timer H, the linger) when an INVITE arms a nearer Timer G.
    uas = UasScenario(ScenarioConfig(uas_addr, target=target, t1=t1))
    config = ScenarioConfig(
        uac_addr, next_hop=uas_addr, target=target, hold=hold, max_concurrent=limit, t1=t1
    )
    calls = 40 if t1 >= 0.5 else 8
    uac = UacScenario(config, rate=rate, calls=calls)
    for engine in (uas, uac):
        real_get_timer = engine.get_timer

        def counted(real: Callable[[], float | None] = real_get_timer) -> float | None:
            asked[0] += 1
            return real()

        monkeypatch.setattr(engine, "get_timer", counted)
    await _run_pumps(uas, uas_sock, uac, uac_sock)
    assert not late  # collected: an exception in a loop callback would only be logged
    assert (uac.stats.calls_succeeded, uac.stats.failures) == (calls, {})
    assert checked[0] >= calls and checked[1] > 0  # the fast path was taken and checked
