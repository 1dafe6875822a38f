"""How many concurrent two-way G.711 calls over SRTP one core carries in real time.

Part 1, where the time goes: each stage of one packet's trip — G.711
encode (shown, but a stream codes its audio once, whole, so a frame costs a
slice), RTP packetising, SRTP protect, SRTP unprotect, RTP parse +
statistics + jitter buffer, playout + G.711 decode — timed alone, with
libsrtp (pylibsrtp) protecting and unprotecting the same packets as the
reference, and the socket cost per datagram: the syscalls alone (the
floor), a UdpPort with its own reader (on uvloop its native transport), a
UdpPort read by a MediaPoller drain (one epoll for all the sockets of a
driver, read at its ticks, kernel arrival stamps) and, for comparison,
asyncio's datagram transport (sendto + datagram_received).

Part 2, the figure: this process holds N media sessions (one leg of N
calls: 50 packets/s out, 50 packets/s in, SRTP AES_CM_128_HMAC_SHA1_80,
µ-law, jitter buffer, playout decoded); a second process holds the N peer
legs.  All legs of a process share one MediaDriver timer (``--timers
session`` gives each its own asyncio timer instead; ``--resolution`` sets
the driver's tick; ``--reader`` whether its poller reads their sockets at
the ticks; ``--pass-limit`` bounds a driver pass).  ``--pin`` puts this
process and the peer on two different cores (``sched_setaffinity`` here,
``taskset`` for the peer), so the scheduler neither stacks them on one
core nor moves them mid-run; ``--ramp`` (default 1 s) is how long the legs
take to start, each at its own phase of the ptime (see prepare_legs);
``--real-time-only`` skips part 1.
Each run lasts a few seconds of real time; a call load passes when fewer than 1 % of the
packets this process sent left more than half a ptime (10 ms) late and at
least 99 % of the peer's packets were received.  The CPU time this process
spent per packet it handled is printed beside it (and the kernel's part of
it, and the loop wake-ups the media asked for), and from it the number of
calls one whole core could carry.  The figure is the largest load that
passes with every smaller one passing too.

    .venv/bin/python bench/bench_media.py                 # the whole ladder
    .venv/bin/python bench/bench_media.py --calls 300 --seconds 8
    .venv/bin/python bench/bench_media.py --suite AEAD_AES_128_GCM   # RFC 7714 legs
    .venv/bin/python bench/bench_media.py --real-time-only --pin --calls 300 400 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from sipsec.rtp import MediaConfig, MediaStream, g711
from sipsec.rtp.packet import build_rtp
from sipsec.rtp.quality import sweep_tone
from sipsec.srtp import SrtpContext
from sipsec.srtp.profiles import get_profile
from sipsec.transport.media import PLAYOUT_PERIOD, MediaDriver, MediaSession
from sipsec.transport.media_crypto import MediaCrypto
from sipsec.transport.media_poll import MediaPoller
from sipsec.transport.media_socket import UdpPort

# --suite (the peer process inherits it through the environment).
SUITE = os.environ.get("SIPSEC_BENCH_SUITE", "AES_CM_128_HMAC_SHA1_80")
KEY_LEN = get_profile(SUITE).master_len
LIBSRTP_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
}
PTIME = 0.02
# --pin: {"peer": the core the peer process runs on} (this one runs on another).
PINNED: dict[str, int] = {}


# -- part 1: per-packet cost of each stage ------------------------------------


def per_call(fn: Callable[[], object], n: int = 20000) -> float:
    """Microseconds per call of ``fn`` (best of three)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def stages() -> dict[str, float]:
    pcm = sweep_tone(0.02)
    payload = g711.ulaw_encode(pcm)
    key = os.urandom(KEY_LEN)
    tx, rx = SrtpContext(SUITE, key), SrtpContext(SUITE, key)
    seq = iter(range(10**9))
    packets = [build_rtp(0, i & 0xFFFF, i * 160, 0x1234, payload, False) for i in range(100000)]
    protected = [tx.protect(p) for p in packets[:60000]]
    it_rx = iter(protected)
    out: dict[str, float] = {}
    out["G.711 encode (160 samples)"] = per_call(lambda: g711.ulaw_encode(pcm))
    # What a sending stream does per frame now: the audio is coded once, whole
    # (sipsec.rtp.precode), and each frame is a slice of that.
    coded = g711.ulaw_encode(sweep_tone(2.0))
    frames = iter(range(0, 10**9, 160))
    out["G.711 frame (audio coded once)"] = per_call(
        lambda: coded[(i := next(frames) % 15840) : i + 160]
    )
    out["RTP header build"] = per_call(
        lambda: build_rtp(0, next(seq) & 0xFFFF, 0, 0x1234, payload, False)
    )
    tx2 = SrtpContext(SUITE, key)
    it_tx = iter(packets)
    out["SRTP protect (sipsec)"] = per_call(lambda: tx2.protect(next(it_tx)))
    out["SRTP unprotect (sipsec)"] = per_call(lambda: rx.unprotect(next(it_rx)))
    try:
        import pylibsrtp

        profile = getattr(pylibsrtp.Policy, LIBSRTP_PROFILES[SUITE])
        policy_tx = pylibsrtp.Policy(
            key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile
        )
        policy_rx = pylibsrtp.Policy(
            key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile
        )
        lib_tx = pylibsrtp.Session(policy=policy_tx)
        lib_rx = pylibsrtp.Session(policy=policy_rx)
        lib_in = iter(packets)
        out["SRTP protect (libsrtp)"] = per_call(lambda: lib_tx.protect(next(lib_in)))
        lib_protected = iter(protected)  # same key, same packets: libsrtp opens sipsec's
        out["SRTP unprotect (libsrtp)"] = per_call(lambda: lib_rx.unprotect(next(lib_protected)))
    except ImportError:
        pass
    # The stream's own receive and playout paths, on plain packets.
    stream = MediaStream(MediaConfig(), now=0.0, remote_rtp=("127.0.0.1", 9), audio=b"")
    addr = ("127.0.0.1", 9)
    it_plain = iter(packets)
    clock = [0.0]

    def receive() -> None:
        clock[0] += PTIME
        stream.receive(next(it_plain), addr, clock[0], False)

    out["RTP parse + stats + jitter push"] = per_call(receive, 20000)

    def playout() -> None:
        clock[0] += PTIME
        stream.receive(next(it_plain), addr, clock[0], False)
        stream.handle_timer(clock[0] + 0.1)
        stream.take_audio()

    out["RTP receive + playout + G.711 decode"] = per_call(playout, 10000)
    return out


def sans_io_cost(legs: int = 50, seconds: float = 4.0) -> float:
    """CPU µs per packet of whole legs without sockets: ``legs`` pairs of
    streams with SRTP in this one process on a fake clock, every packet sent
    (coded, packetised, protected), received (unprotected, parsed, buffered)
    and played out (decoded). Not skewed by how much of a core the machine
    gives this process, unlike the real-time run."""
    audio = sweep_tone(seconds)
    pairs = []
    for i in range(legs):
        k1, k2 = os.urandom(KEY_LEN), os.urandom(KEY_LEN)
        a_addr, b_addr = ("192.0.2.1", 1000 + i), ("192.0.2.2", 1000 + i)
        a = MediaStream(MediaConfig(), now=0.0, remote_rtp=b_addr, audio=audio)
        b = MediaStream(MediaConfig(), now=0.0, remote_rtp=a_addr, audio=audio)
        pairs.append(
            (
                (a, MediaCrypto.srtp(SUITE, k1, k2), b, a_addr),
                (b, MediaCrypto.srtp(SUITE, k2, k1), a, b_addr),
            )
        )
    crypto_of = {id(stream): crypto for pair in pairs for stream, crypto, _, _ in pair}
    packets, t = 0, 0.0
    start = time.thread_time()
    while t < seconds:
        for pair in pairs:
            for stream, crypto, peer, addr in pair:
                stream.handle_timer(t)
                for data, _, rtcp in crypto.protect(stream.datagrams_to_send()):
                    plain = crypto_of[id(peer)].unprotect(data, rtcp)
                    if plain is not None:
                        peer.receive(plain, addr, t + 0.001, rtcp)
                        packets += 1
                if stream.pending_audio >= PLAYOUT_PERIOD:  # as MediaSession takes it
                    stream.take_audio()
        t += PTIME
    return (time.thread_time() - start) / max(packets, 1) * 1e6


async def _sent_and_received(
    send: Callable[[], None], count: list[int], done: asyncio.Event, n: int
) -> float:
    """Microseconds per datagram: ``send`` ``n`` times, never more than 40
    ahead of the receiver (``count``) so the socket buffer drops none, until
    the receiver has them all (``done``)."""
    start = time.perf_counter()
    for i in range(n):
        send()
        if i % 20 == 19:
            while count[0] < i + 1 - 40:  # stay within the socket buffer
                await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), 10)
    return (time.perf_counter() - start) / n * 1e6


async def socket_cost(n: int = 20000) -> float:
    """Microseconds per datagram: one sendto plus one datagram_received."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    count = [0]

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            count[0] += 1
            if count[0] == n:
                done.set()

    sink, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    source, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=sink.get_extra_info("sockname")
    )
    data = bytes(182)
    try:
        return await _sent_and_received(lambda: source.sendto(data), count, done, n)
    finally:
        source.close()
        sink.close()


def syscall_floor(n: int = 20000) -> tuple[float, float]:
    """Microseconds of one raw ``sendto`` and one raw ``recvfrom`` (182 octets,
    loopback, no event loop): what no Python code can go below."""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    b.setblocking(False)
    to, data = b.getsockname(), bytes(182)
    best_send = best_receive = float("inf")
    for _ in range(3):
        send = receive = 0.0
        for _ in range(n // 40):
            t0 = time.perf_counter()
            for _ in range(40):  # within the socket buffer
                a.sendto(data, to)
            t1 = time.perf_counter()
            for _ in range(40):
                b.recvfrom(2048)
            send += t1 - t0
            receive += time.perf_counter() - t1
        best_send, best_receive = min(best_send, send), min(best_receive, receive)
    a.close()
    b.close()
    return best_send / n * 1e6, best_receive / n * 1e6


async def udp_port_cost(n: int = 20000) -> float:
    """Microseconds per datagram through the sessions' sockets: one
    UdpPort.sendto plus the loop calling the receiving UdpPort's reader."""
    count = [0]
    done = asyncio.Event()

    def received(_data: bytes, _addr: tuple[str, int]) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    sink = await UdpPort.open("127.0.0.1", 0, received, lambda _exc: None)
    source = await UdpPort.open("127.0.0.1", 0, lambda *_: None, lambda _exc: None)
    data, to = bytes(182), sink.address
    try:
        return await _sent_and_received(lambda: source.sendto(data, to), count, done, n)
    finally:
        source.close()
        sink.close()


async def poller_cost(n: int = 20000) -> float:
    """Microseconds per datagram the way a polled driver's sessions move them:
    one UdpPort.sendto plus one datagram read by a MediaPoller drain (recvmsg
    with the kernel's arrival stamp), 20 datagrams a drain as a tick finds
    them.  The drain rides on the tick's wake-up, so unlike the reader's
    figure no loop iteration of its own is in it."""
    loop = asyncio.get_running_loop()
    poller = MediaPoller(loop)
    count = [0]

    def arrived(_data: bytes, _addr: tuple[str, int], _at: float) -> None:
        count[0] += 1

    sink = await UdpPort.open(
        "127.0.0.1", 0, lambda *_: None, lambda _exc: None, poller=poller, on_arrival=arrived
    )
    source = await UdpPort.open("127.0.0.1", 0, lambda *_: None, lambda _exc: None)
    data, to = bytes(182), sink.address
    start = time.perf_counter()
    for i in range(n):
        source.sendto(data, to)
        if i % 20 == 19:
            poller.drain()
    poller.drain()
    elapsed = time.perf_counter() - start
    source.close()
    sink.close()
    poller.close()
    assert count[0] == n, f"{count[0]} of {n} datagrams read"
    return elapsed / n * 1e6


# -- part 2: N call legs in real time ------------------------------------------


async def idle_stalls(seconds: float = 2.0) -> tuple[float, float]:
    """How late an idle loop's 5 ms sleeps wake (p99, max, in ms): the noise the
    machine adds before any call runs."""
    loop = asyncio.get_running_loop()
    lags = []
    end = loop.time() + seconds
    while loop.time() < end:
        start = loop.time()
        await asyncio.sleep(0.005)
        lags.append(loop.time() - start - 0.005)
    lags.sort()
    return lags[int(0.99 * len(lags))] * 1000, lags[-1] * 1000


async def bind_legs(calls: int) -> list[MediaSession]:
    # One timer for all legs (MediaDriver) unless SIPSEC_BENCH_TIMERS=session.
    shared = os.environ.get("SIPSEC_BENCH_TIMERS", "driver") == "driver"
    resolution = os.environ.get("SIPSEC_BENCH_RESOLUTION")
    reader = os.environ.get("SIPSEC_BENCH_READER", "auto")
    poll = {"auto": None, "poller": True, "socket": False}[reader]
    limit = os.environ.get("SIPSEC_BENCH_PASS_LIMIT")
    driver = None
    if shared:
        tick = 0.002 if resolution is None else float(resolution) / 1000
        if limit is None:
            driver = MediaDriver(tick, poll=poll)
        else:
            driver = MediaDriver(tick, poll=poll, pass_limit=float(limit) / 1000)
    return [await MediaSession.bind(MediaConfig(), driver=driver) for _ in range(calls)]


def prepare_legs(
    sessions: list[MediaSession],
    seconds: float,
    remote: list[tuple[str, int]],
    keys: list[tuple[str, str]],
) -> Callable[[], None]:
    """Everything slow (key derivation, the test tone) before the clock starts;
    the returned function starts the legs."""
    audio = sweep_tone(seconds)
    cryptos = [MediaCrypto.srtp(SUITE, bytes.fromhex(s), bytes.fromhex(r)) for s, r in keys]
    # A process's one-time costs too: the G.711 tables (~30 ms) and the tone
    # coded once (sipsec.rtp.precode), which the first leg's start would
    # otherwise pay on the clock, while every other leg is starting.
    MediaStream(MediaConfig(), now=0.0, audio=audio)
    loop = asyncio.get_running_loop()
    # --ramp: the legs start over that many seconds, a whole number of ptimes,
    # each at its own phase (i / N of a ptime) so that their ticks spread.  A
    # leg's packets keep the phase of the moment its start() ran: started all
    # within one ptime, hundreds of starts (~50 µs each, and the first packets'
    # keys and keystream) hold the loop for longer than the ptime, the later
    # legs start late together, and their phases stay bunched for the whole
    # run (ticks of ~135 of 300 legs every ptime instead of ~30).
    ramp = int(float(os.environ.get("SIPSEC_BENCH_RAMP", "1")) / PTIME)

    def go() -> None:
        n = len(sessions)
        for i, (session, addr, crypto) in enumerate(zip(sessions, remote, cryptos, strict=True)):
            loop.call_later(
                PTIME * (i / n + i * ramp // n),
                lambda s=session, a=addr, c=crypto: s.start(a, c, audio=audio),
            )

    return go


def leg_report(sessions: list[MediaSession]) -> dict[str, float]:
    sent = late = received = early = 0
    worst = 0.0
    for s in sessions:
        assert s.stream is not None
        sent += s.stream.sender.packets_sent
        late += s.stream.sender.late_packets
        worst = max(worst, s.stream.sender.max_lateness)
        received += s.stream.stats.received if s.stream.stats else 0
        early += s.unstarted_drops
    driver = sessions[0].driver if sessions else None
    poller = driver.poller if driver is not None else None
    return {
        "sent": sent,
        "late": late,
        "received": received,
        "worst_ms": worst * 1000,
        "before_start": early,
        # Loop wake-ups the media asked for: driver ticks, and the poller's
        # own reads when no tick was near.  Per-socket reader callbacks (no
        # poller) and per-session timers (no driver) are not counted.
        "wakeups": (driver.wakeups if driver else 0) + (poller.wakeups if poller else 0),
        # (getattr: so that this script can drive an older tree for a before/after)
        "cut_passes": getattr(driver, "cut_passes", 0),
    }


async def measure(calls: int, seconds: float) -> dict[str, float]:
    keys = [(os.urandom(KEY_LEN).hex(), os.urandom(KEY_LEN).hex()) for _ in range(calls)]
    command = [sys.executable, __file__, "--peer", str(calls), "--seconds", str(seconds)]
    pin = PINNED.get("peer")  # --pin: the peer on its own core, fixed before it starts
    peer = subprocess.Popen(
        ["taskset", "-c", str(pin), *command] if pin is not None else command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert peer.stdin is not None and peer.stdout is not None
    try:
        sessions = await bind_legs(calls)
        hello = {"ports": [s.local_rtp for s in sessions], "keys": keys}
        peer.stdin.write(json.dumps(hello) + "\n")
        peer.stdin.flush()
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, peer.stdout.readline)
        remote = [(str(h), int(p)) for h, p in json.loads(line)["ports"]]
        go = prepare_legs(sessions, seconds, remote, keys)
        peer.stdin.write("go\n")
        peer.stdin.flush()
        usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        go()
        await asyncio.gather(*(s.wait_sent() for s in sessions))
        # The peer reports once its own legs have sent everything.
        peer_line = await loop.run_in_executor(None, peer.stdout.readline)
        peer_report = json.loads(peer_line)
        await asyncio.sleep(0.2)  # its last packets, still in flight
        usage, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
        report = leg_report(sessions)
        for s in sessions:
            s.close()
    finally:
        peer.wait(timeout=seconds + 30)
    user = usage.ru_utime - usage0.ru_utime
    system = usage.ru_stime - usage0.ru_stime
    cpu = user + system
    report["cpu_share"] = cpu / wall
    # CPU per packet this process handled (sent or received): not fooled when
    # a starved process simply leaves packets unread.
    packets = max(report["sent"] + report["received"], 1)
    report["cpu_per_packet"] = cpu / packets
    report["system_per_packet"] = system / packets  # the kernel's share: syscalls
    report["wakeups_per_second"] = report["wakeups"] / wall
    report["peer_late"] = peer_report["late"]
    report["peer_sent"] = peer_report["sent"]
    return report


async def peer_main(calls: int, seconds: float) -> None:
    hello = json.loads(sys.stdin.readline())
    keys = [(receive, send) for send, receive in hello["keys"]]
    sessions = await bind_legs(calls)
    remote = [(str(h), int(p)) for h, p in hello["ports"]]
    go = prepare_legs(sessions, seconds, remote, keys)
    print(json.dumps({"ports": [s.local_rtp for s in sessions]}), flush=True)
    sys.stdin.readline()  # "go"
    go()
    await asyncio.gather(*(s.wait_sent() for s in sessions))
    print(json.dumps(leg_report(sessions)), flush=True)
    await asyncio.sleep(0.5)  # the other side's last packets
    for s in sessions:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="*", default=[50, 100, 150, 200, 300, 400, 500])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--peer", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default=os.environ.get("SIPSEC_BENCH_LOOP", "auto"),
        help="event loop of both processes; auto: uvloop when installed (extras 'fast')",
    )
    parser.add_argument("--uvloop", action="store_true", help="the same as --loop uvloop")
    parser.add_argument(
        "--timers",
        choices=["driver", "session"],
        default=os.environ.get("SIPSEC_BENCH_TIMERS", "driver"),
        help="one shared MediaDriver timer (default) or one asyncio timer per session",
    )
    parser.add_argument(
        "--resolution",
        type=float,
        default=None,
        help="the MediaDriver's tick resolution in ms (default: MediaDriver's own)",
    )
    parser.add_argument(
        "--pass-limit",
        type=float,
        default=None,
        help="the longest a MediaDriver pass holds the loop, in ms (default: no limit, "
        "MediaDriver's own default)",
    )
    parser.add_argument(
        "--reader",
        choices=["auto", "poller", "socket"],
        default=os.environ.get("SIPSEC_BENCH_READER", "auto"),
        help="how a driver's sessions read: one MediaPoller at the ticks, each socket "
        "on its own, or auto (the poller on asyncio's loop, sockets on uvloop)",
    )
    parser.add_argument(
        "--suite",
        choices=sorted(LIBSRTP_PROFILES),
        default=SUITE,
        help="the SRTP protection profile of every leg (RFC 3711 / RFC 7714)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin this process and its peer process to two different cores (as bench_proxy "
        "does), so the scheduler neither stacks them on one core nor moves them mid-run",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=float(os.environ.get("SIPSEC_BENCH_RAMP", "1")),
        help="start the legs over this many seconds, each at its own phase of the ptime "
        "(default 1; 0: all within one ptime)",
    )
    parser.add_argument(
        "--real-time-only",
        action="store_true",
        help="skip part 1 (the stage-by-stage costs): only the real-time ladder",
    )
    args = parser.parse_args()
    if args.suite != SUITE:  # module constants are read at import: start again with it set
        os.environ["SIPSEC_BENCH_SUITE"] = args.suite
        os.execv(sys.executable, [sys.executable, *sys.argv])
    os.environ["SIPSEC_BENCH_READER"] = args.reader  # the peer process inherits it
    os.environ["SIPSEC_BENCH_TIMERS"] = args.timers  # the peer process inherits it
    if args.resolution is not None:
        os.environ["SIPSEC_BENCH_RESOLUTION"] = str(args.resolution)
    os.environ["SIPSEC_BENCH_RAMP"] = str(args.ramp)  # the peer process inherits it
    if args.pass_limit is not None:
        os.environ["SIPSEC_BENCH_PASS_LIMIT"] = str(args.pass_limit)
    loop_name = "uvloop" if args.uvloop else args.loop
    if loop_name == "auto":
        try:
            import uvloop
        except ImportError:
            loop_name = "asyncio"
        else:
            loop_name = "uvloop"
    os.environ["SIPSEC_BENCH_LOOP"] = loop_name  # the peer process inherits it
    if loop_name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.peer:
        asyncio.run(peer_main(args.peer, args.seconds))
        return
    random.seed()
    pinned = "no"
    if args.pin:
        pinned = pin_processes()
    if not args.real_time_only:
        part_one(args.reader, loop_name)
    real_time(args, loop_name, pinned)


def pin_processes() -> str:
    """This process on the first core it may use, the peer on the second."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return "no (needs two cores and taskset)"
    os.sched_setaffinity(0, {cpus[0]})
    PINNED["peer"] = cpus[1]
    return f"this process on CPU {cpus[0]}, the peer on CPU {cpus[1]}"


def part_one(reader: str, loop_name: str) -> None:
    print("== where the time goes: one packet, stage by stage (µs) ==")
    costs = stages()
    costs["asyncio sendto + datagram_received"] = asyncio.run(socket_cost())
    costs["UdpPort sendto + reader (own socket)"] = asyncio.run(udp_port_cost())
    if MediaPoller.available():
        costs["UdpPort sendto + poller drain (driver)"] = asyncio.run(poller_cost())
    # What a driver's sessions use here: --reader, or by default the poller on
    # asyncio's loop and each socket's own reader on uvloop (MediaDriver).
    polled = reader == "poller" or (reader == "auto" and loop_name == "asyncio")
    socket_path = (
        "UdpPort sendto + poller drain (driver)"
        if polled and MediaPoller.available()
        else "UdpPort sendto + reader (own socket)"
    )
    floor_send, floor_receive = syscall_floor()
    costs["floor: raw sendto syscall"] = floor_send
    costs["floor: raw recvfrom syscall"] = floor_receive
    leg_parts = {
        "G.711 frame (audio coded once)": 1,
        "RTP header build": 1,
        "SRTP protect (sipsec)": 1,
        "SRTP unprotect (sipsec)": 1,
        "RTP receive + playout + G.711 decode": 1,
        socket_path: 1,  # one sent, one received
    }
    leg = sum(costs[name] * n for name, n in leg_parts.items())
    for name, us in costs.items():
        share = f"{100 * us * leg_parts[name] / leg:4.0f} % of a leg" if name in leg_parts else ""
        print(f"  {name:<40} {us:7.2f}   {share}")
    if "SRTP protect (libsrtp)" in costs:
        ratio = (costs["SRTP protect (sipsec)"] + costs["SRTP unprotect (sipsec)"]) / (
            costs["SRTP protect (libsrtp)"] + costs["SRTP unprotect (libsrtp)"]
        )
        print(f"  sipsec SRTP / libsrtp SRTP: {ratio:.1f}x")
    print(
        f"  one leg, one packet each way: ~{leg:.0f} µs -> ~{1e6 / (50 * leg):.0f} calls per core"
        " (tight loops, warm caches: an upper bound; the real-time run is the figure)"
    )
    whole = sans_io_cost()
    # One side of a call sends 50 packets a second and receives 50: per
    # second, 50 times the cost of one packet sent and received.
    print(
        f"  whole legs without sockets (50 calls, fake clock, thread CPU): {whole:.1f} µs per "
        f"packet sent and received; with the socket cost above: "
        f"~{1e6 / (50 * (whole + costs[socket_path])):.0f} calls per core"
    )


def real_time(args: argparse.Namespace, loop_name: str, pinned: str) -> None:
    print(
        f"\n== real time: N call legs here, N peers in another process, {args.seconds:.0f} s, "
        f"timers: {args.timers}, reader: {args.reader}, loop: {loop_name}, suite: {SUITE}, "
        f"pass limit: {args.pass_limit or 'none'} ms, ramp: {args.ramp:g} s, "
        f"pinned: {pinned} =="
    )
    p99, worst = asyncio.run(idle_stalls())
    print(f"  idle loop, 5 ms sleeps: woken late by {p99:.1f} ms (p99), {worst:.1f} ms (max)")
    best = previous = 0
    capacity: list[float] = []
    for calls in args.calls:
        # The machine's speed of the moment (a VM's swings run to 2x): the same
        # sans-IO work, timed just before; a FAIL beside a slow figure is the VM.
        speed = sans_io_cost(legs=20, seconds=1.0)
        r = asyncio.run(measure(calls, args.seconds))
        late = r["late"] / max(r["sent"], 1)
        ok = late < 0.01 and r["received"] >= 0.99 * r["peer_sent"]
        per_core = 1 / (100 * r["cpu_per_packet"])  # a leg: 50 packets/s each way
        if ok:
            capacity.append(per_core)
        print(
            f"  {calls:5d} calls: sent {r['sent']:.0f}, late {100 * late:5.2f} % "
            f"(worst {r['worst_ms']:.0f} ms), received {r['received']:.0f}/{r['peer_sent']:.0f}, "
            f"CPU {100 * r['cpu_share']:.0f} % of a core, "
            f"{1e6 * r['cpu_per_packet']:.0f} µs/packet "
            f"({1e6 * r['system_per_packet']:.0f} in the kernel, "
            f"{r['wakeups_per_second']:.0f} wake-ups/s, {r['cut_passes']:.0f} passes cut) "
            f"-> {per_core:.0f} calls/core, sans-IO {speed:.1f} µs/packet before  "
            f"{'ok' if ok else 'FAIL'}"
        )
        if ok and best == previous:
            best = calls
        previous = calls
    print(f"\ncarried in real time with < 1 % late packets: {best} concurrent two-way calls")
    if capacity:
        print(
            "CPU-bound capacity of one whole core (1 / CPU time per call-second, "
            f"largest passing run): {capacity[-1]:.0f} calls"
        )
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
