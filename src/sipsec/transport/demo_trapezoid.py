"""The secure trapezoid of ``sipsec demo``: Alice calls Bob across two domains.

Everything here is the real thing on 127.0.0.1, nothing is simulated:

1. a throw-away CA (:class:`sipsec.ca.CertificateAuthority`) issues the
   domain certificates of atlanta.example and biloxi.example (RFC 5922) and
   the user certificates of Alice and Bob (S/MIME, RFC 3261 §23.3);
2. two proxies with SQLite registrars (:func:`sipsec.transport.proxy_app.run_proxy`),
   each holding its user's HA1s only (RFC 7616 §3.4.2), each reaching the
   other through a static hosts map instead of DNS (RFC 3263 would find them
   by NAPTR/SRV);
3. two UAs (:class:`sipsec.transport.ua_app.UaApp`): they register (the 401
   and the retry), Alice calls Bob with an S/MIME signed and encrypted SDP
   carrying her SRTP key, Bob answers with his, five seconds of a test tone
   flow as SRTP, Bob records them and hangs up (F13 BYE, F14 200 OK).

Every SIP message is collected as the transports report it (``on_trace``,
clear text, per node) and every socket byte (``on_wire``) for the pcap.
The result is data; rendering and the attack report are the CLI's job.
The parties, their PKI and their settings are :mod:`.demo_setup`'s; this
module runs them in order and collects what happened.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sipsec.proxy import SqliteCredentialStore, make_credential
from sipsec.rtp import WavError, read_wav, write_wav
from sipsec.rtp.quality import align, snr_db, sweep_tone
from sipsec.transaction import Peer

from .demo_setup import (
    AORS,
    DOMAINS,
    HOSTNAMES,
    DemoOptions,
    Node,
    Pki,
    make_pki,
    start_proxies,
    ua_settings,
)
from .proxy_app import ProxyServer
from .trace import TraceRecord, WireRecord
from .ua_app import CallSummary, UaApp
from .ua_media import CallMedia

__all__ = [
    "DOMAINS",
    "HOSTNAMES",
    "DemoOptions",
    "DemoRun",
    "Node",
    "Pki",
    "Step",
    "compare_recording",
    "free_ports",
    "make_pki",
    "run_trapezoid",
]

# How long after the audio Bob keeps listening before his BYE: F11 and the
# ACK on the way, and his jitter buffer's playout delay.
_TAIL = 0.3


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    seconds: float
    ok: bool = True
    detail: str = ""


@dataclass
class DemoRun:
    """Everything the run produced, for the ladder, summary, attacks and pcap."""

    options: DemoOptions
    workdir: Path
    pki: Pki | None = None
    steps: list[Step] = field(default_factory=list)
    traces: list[tuple[str, TraceRecord]] = field(default_factory=list)
    wire: list[WireRecord] = field(default_factory=list)
    addresses: dict[str, Peer] = field(default_factory=dict)
    sent_audio: bytes = b""
    recording: Path | None = None
    snr_db: float | None = None
    recorded_seconds: float = 0.0
    calls: dict[str, CallSummary] = field(default_factory=dict)
    media: dict[str, CallMedia] = field(default_factory=dict)
    ua_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None

    def trace_callback(self, node: str) -> Callable[[TraceRecord], None]:
        return lambda record: self.traces.append((node, record))

    def wire_callback(self) -> Callable[[WireRecord], None]:
        return self.wire.append


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free for both TCP and UDP on 127.0.0.1, so the
    addresses are known before anything starts and every hosts map can name
    every element.  All are held until all are found: a port released early
    could be handed out twice."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(50 * count):
            if len(ports) == count:
                return ports
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(udp)
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
        if len(ports) == count:
            return ports
        raise OSError("no free ports on 127.0.0.1")
    finally:
        for sock in held:
            sock.close()


def compare_recording(sent: bytes, recording: Path) -> tuple[float, float]:
    """(SNR in dB after alignment, seconds recorded) of Bob's recording
    against Alice's tone (G.711 µ-law round trip: about 35 dB when intact)."""
    try:
        heard = read_wav(recording)
    except (OSError, WavError):
        return -math.inf, 0.0
    seconds = len(heard) / 16000
    try:
        lag = align(sent, heard)
        return snr_db(sent, heard, lag), seconds
    except ValueError:
        return -math.inf, seconds


class _Timer:
    def __init__(self, run: DemoRun, name: str) -> None:
        self.run, self.name = run, name

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        ok = exc is None
        detail = "" if ok else f"{type(exc).__name__}: {exc}"
        self.run.steps.append(Step(self.name, time.perf_counter() - self.start, ok, detail))


async def run_trapezoid(options: DemoOptions, workdir: Path) -> DemoRun:
    """Run the whole demo in ``workdir`` (a temp dir the caller removes).

    Never raises for a failure of the demo itself: the failing step is
    recorded (``Step.ok`` False, ``DemoRun.error``) and the caller decides.
    """
    run = DemoRun(options, workdir)
    try:
        await _run(run)
    except Exception as exc:  # the report shows it; the exit code says it
        run.error = f"{type(exc).__name__}: {exc}"
    return run


async def _run(run: DemoRun) -> None:
    options = run.options
    now = dt.datetime.now(dt.UTC)
    with _Timer(run, "certificate authority: CA; domain, user and UA host certificates"):
        run.pki = pki = await asyncio.to_thread(make_pki, run.workdir / "ca", now)
    passwords = {name: secrets.token_urlsafe(16) for name in AORS}
    with _Timer(run, "registrar databases: users and their HA1s (SQLite)"):
        for name, aor in AORS.items():
            store = SqliteCredentialStore(run.workdir / f"{DOMAINS[name]}.db")
            try:
                user, domain = aor.split("@")
                store.put(make_credential(user, domain, passwords[name]))
            finally:
                store.close()
    if options.fault == "wrong-password":
        passwords["alice"] = "not-" + passwords["alice"]
    tone = sweep_tone(options.duration)
    write_wav(run.workdir / "alice.wav", tone)
    run.sent_audio = tone
    run.recording = run.workdir / "bob-recorded.wav"
    proxies: list[ProxyServer] = []
    uas: dict[str, UaApp] = {}
    try:
        ports = dict(zip(("alice", "bob", "atlanta", "biloxi"), free_ports(4), strict=True))
        for name, host in (
            *HOSTNAMES.items(),
            ("atlanta", "atlanta.example"),
            ("biloxi", "biloxi.example"),
        ):
            run.addresses[name] = Peer(
                options.transport, "127.0.0.1", ports[name], server_name=host
            )
        with _Timer(run, "proxies and registrars listening (atlanta.example, biloxi.example)"):
            proxies = await start_proxies(run, pki)
        with _Timer(run, "user agents listening (Alice, Bob)"):
            for name in AORS:
                app = UaApp(ua_settings(run, pki, name, passwords))
                uas[name] = app
                await app.start()
        for name in AORS:
            with _Timer(run, f"{name.capitalize()} registers (Digest: 401, then 200)"):
                await uas[name].register()
        with _Timer(run, "the call: INVITE to BYE, with media"):
            # As in RFC 3261 Figure 1 (§24.2): Bob hangs up, F13 BYE Bob → Alice,
            # F14 200 OK back. He waits out Alice's tone plus its way to him
            # (her media starts on F11, then his jitter buffer plays it out).
            answering = asyncio.create_task(
                uas["bob"].answer(1, timeout=10.0, hangup_after=options.duration + _TAIL)
            )
            try:
                # Alice's limit is only a fallback: Bob's BYE ends the call first.
                alice = await uas["alice"].call(
                    options.uri_plain("bob@biloxi.example"), options.duration + 10.0
                )
            except BaseException:
                answering.cancel()
                raise
            run.calls["alice"] = alice
            # Bob's side ends with the 200 OK to his BYE (or his refusal).
            try:
                bob = await asyncio.wait_for(answering, timeout=10.0 if alice.ok else 2.0)
            except TimeoutError:
                bob = []
            if bob:
                run.calls["bob"] = bob[0]
    finally:
        for name, ua in uas.items():
            if ua.ua is not None:
                run.ua_stats[name] = dict(ua.ua.stats)
            await ua.close()
        for server in proxies:
            await server.close()
    if run.recording.exists():
        run.snr_db, run.recorded_seconds = compare_recording(tone, run.recording)
