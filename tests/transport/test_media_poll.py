"""MediaPoller: the media sockets of a driver read in bulk, with kernel arrival times.

Most tests drive the poller by hand with a stand-in loop (``add_reader``,
``remove_reader``, ``time``): loopback UDP has the datagram queued when
``sendto`` returns, so what a drain reads is exactly what was sent, and
nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.rtp import MediaConfig
from sipsec.rtp.packet import build_rtp
from sipsec.rtp.quality import sweep_tone
from sipsec.rtp.stats import ReceptionStats
from sipsec.rtp.stream import ByeReceived
from sipsec.transport import media_poll
from sipsec.transport.media import MediaDriver, MediaSession
from sipsec.transport.media_crypto import MediaCrypto
from sipsec.transport.media_poll import MediaPoller
from sipsec.transport.media_socket import UdpPort

pytestmark = pytest.mark.skipif(not MediaPoller.available(), reason="epoll is Linux only")

Address = tuple[str, int]
SUITE = "AES_CM_128_HMAC_SHA1_80"


class StubLoop:
    """What the poller asks of a loop, recorded instead of run."""

    def __init__(self) -> None:
        self.readers: dict[int, Callable[[], None]] = {}
        self.clock = time.monotonic

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        assert fd not in self.readers
        self.readers[fd] = callback

    def remove_reader(self, fd: int) -> bool:
        return self.readers.pop(fd, None) is not None

    def time(self) -> float:
        return self.clock()


class Sink:
    def __init__(self) -> None:
        self.got: list[tuple[bytes, Address, float]] = []
        self.errors: list[OSError] = []

    def arrival(self, data: bytes, addr: Address, at: float) -> None:
        self.got.append((data, addr, at))

    def error(self, exc: OSError) -> None:
        self.errors.append(exc)


def udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


@pytest.fixture
def rig() -> Iterator[tuple[MediaPoller, StubLoop, list[socket.socket], list[Sink], socket.socket]]:
    loop = StubLoop()
    poller = MediaPoller(loop)  # type: ignore[arg-type]
    socks = [udp() for _ in range(3)]
    sinks = [Sink() for _ in socks]
    for sock, sink in zip(socks, sinks, strict=True):
        poller.add(sock, sink.arrival, sink.error)
    sender = udp()
    yield poller, loop, socks, sinks, sender
    poller.close()
    for sock in [*socks, sender]:
        sock.close()


def test_listens_while_it_has_sockets(rig: tuple) -> None:  # type: ignore[type-arg]
    poller, loop, socks, _, _ = rig
    assert len(poller) == 3 and list(loop.readers) == [poller._fd]
    for sock in socks:
        poller.remove(sock)
    assert len(poller) == 0 and not loop.readers
    poller.remove(socks[0])  # twice is harmless


# The rig is shared across examples on purpose (sockets are slow to make);
# each example starts by emptying the receivers.
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.binary(min_size=1, max_size=1500)), min_size=0, max_size=60
    )
)
def test_every_datagram_once_in_order_to_its_socket(
    rig: tuple,  # type: ignore[type-arg]
    sends: list[tuple[int, bytes]],
) -> None:
    """Whatever is sent to whichever socket, one drain hands each datagram to
    that socket's receiver, once, in the order sent, with the sender's address."""
    poller, loop, socks, sinks, sender = rig
    for sink in sinks:
        sink.got.clear()
    before = loop.time()
    for index, data in sends:
        sender.sendto(data, socks[index].getsockname())
    after = loop.time()
    poller.drain()
    for index, sink in enumerate(sinks):
        assert [data for data, _, _ in sink.got] == [d for i, d in sends if i == index]
        assert all(addr == sender.getsockname() for _, addr, _ in sink.got)
        # The kernel's stamp of each arrival, on the loop's clock.
        assert all(before - 0.001 <= at <= after + 0.001 for _, _, at in sink.got)
        assert not sink.errors
    assert poller.datagrams >= len(sends)
    assert list(loop.readers) == [poller._fd]  # listening again


def test_the_arrival_time_is_the_kernels_not_the_time_of_reading(rig: tuple) -> None:  # type: ignore[type-arg]
    """A datagram read 30 ms after it came still says when it came (§6.4.1 jitter
    and the round trip take that time)."""
    poller, loop, socks, sinks, sender = rig
    before = loop.time()
    sender.sendto(b"rtp", socks[0].getsockname())
    after = loop.time()
    time.sleep(0.03)
    poller.drain()
    [(_, _, at)] = sinks[0].got
    assert before - 0.001 <= at <= after + 0.001
    assert loop.time() - at >= 0.029


def test_without_kernel_stamps_the_time_of_reading_stands_in(
    rig: tuple,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poller, loop, _, _, sender = rig
    sock, sink = udp(), Sink()
    # An option number no kernel knows: setsockopt fails as on a kernel without it.
    monkeypatch.setattr(media_poll, "SO_TIMESTAMPNS", 0x7FFF)
    poller.add(sock, sink.arrival, sink.error)
    sender.sendto(b"x", sock.getsockname())
    time.sleep(0.02)
    start = loop.time()
    poller.drain()
    [(data, _, at)] = sink.got
    assert data == b"x" and start <= at <= loop.time()
    poller.remove(sock)
    sock.close()


def test_a_near_tick_reads_instead(rig: tuple) -> None:  # type: ignore[type-arg]
    """Readable with the driver's tick within the resolution: the poller stops
    listening (else the loop would wake again at once) and reads nothing; the
    tick's drain reads it and listens again.  With no tick near it reads at once."""
    poller, loop, socks, sinks, sender = rig
    poller.resolution = 0.005
    poller.next_tick = lambda: loop.time() + 0.002
    sender.sendto(b"a", socks[1].getsockname())
    loop.readers[poller._fd]()
    assert not loop.readers and not sinks[1].got and poller.wakeups == 0
    poller.drain()
    assert [d for d, _, _ in sinks[1].got] == [b"a"] and list(loop.readers) == [poller._fd]
    poller.next_tick = lambda: loop.time() + 0.5
    sender.sendto(b"b", socks[1].getsockname())
    loop.readers[poller._fd]()
    assert [d for d, _, _ in sinks[1].got] == [b"a", b"b"] and poller.wakeups == 1


def test_a_flooded_socket_cannot_hold_the_loop(rig: tuple) -> None:  # type: ignore[type-arg]
    """One drain reads at most _MAX_PASSES datagrams of one socket (one per pass)
    while the others still get theirs; the rest wait for the next drain."""
    poller, _, socks, sinks, sender = rig
    flood = media_poll._MAX_PASSES + 20
    for i in range(flood):
        sender.sendto(i.to_bytes(2, "big"), socks[0].getsockname())
    sender.sendto(b"other", socks[2].getsockname())
    poller.drain()
    assert len(sinks[0].got) == media_poll._MAX_PASSES
    assert [d for d, _, _ in sinks[2].got] == [b"other"]
    poller.drain()
    assert [int.from_bytes(d, "big") for d, _, _ in sinks[0].got] == list(range(flood))


def test_a_receiver_may_close_a_socket_mid_drain(rig: tuple) -> None:  # type: ignore[type-arg]
    poller, _, socks, sinks, sender = rig

    def closing(data: bytes, addr: Address, at: float) -> None:
        sinks[0].arrival(data, addr, at)
        for sock in socks[1:]:
            poller.remove(sock)

    poller._ports[socks[0].fileno()] = (socks[0], closing, sinks[0].error, False, True)
    for sock in socks:
        sender.sendto(b"x", sock.getsockname())
    poller.drain()
    assert len(sinks[0].got) == 1
    assert len(sinks[1].got) + len(sinks[2].got) <= 1  # read before the close, or never


def test_socket_errors_go_to_the_ports_handler(rig: tuple) -> None:  # type: ignore[type-arg]
    """A connected socket learns of ICMP port unreachable; the next read raises
    it, and the poller hands it to that socket's error handler."""
    poller, _, _, _, _ = rig
    sock, sink = udp(), Sink()
    gone = udp()
    address = gone.getsockname()
    gone.close()
    sock.connect(address)
    poller.add(sock, sink.arrival, sink.error)
    sock.send(b"anyone?")
    deadline = time.monotonic() + 2
    while not sink.errors and time.monotonic() < deadline:
        time.sleep(0.001)
        poller.drain()
    assert sink.errors and isinstance(sink.errors[0], ConnectionRefusedError)
    assert not sink.got
    poller.remove(sock)
    sock.close()


async def test_udp_ports_through_a_poller() -> None:
    """UdpPort.open(poller=...): read by the poller, written with sendto, closed cleanly."""
    loop = asyncio.get_running_loop()
    poller = MediaPoller(loop)
    got: list[tuple[bytes, Address]] = []
    arrivals: list[float] = []
    a = await UdpPort.open(
        "127.0.0.1",
        0,
        lambda d, addr: got.append((d, addr)),
        lambda _exc: None,
        poller=poller,
    )
    b = await UdpPort.open(
        "127.0.0.1",
        0,
        lambda d, addr: None,
        lambda _exc: None,
        poller=poller,
        on_arrival=lambda _d, _addr, at: arrivals.append(at),
    )
    assert len(poller) == 2 and a._transport is None
    b.sendto(b"to a", a.address)
    a.sendto(b"to b", b.address)
    async with asyncio.timeout(5):
        while not got or not arrivals:
            await asyncio.sleep(0.001)
    assert got == [(b"to a", b.address)]
    a.close()
    b.close()
    assert len(poller) == 0
    poller.close()


async def _sent_then_bye(a: MediaSession, b: MediaSession) -> ReceptionStats:
    """Let ``a`` send all its audio and close (its RTCP BYE), wait until ``b``
    has seen the BYE; ``b``'s receive statistics."""
    async with asyncio.timeout(10):
        await a.wait_sent()
        a.close()
        while not isinstance(await b.next_event(), ByeReceived):
            pass
    assert b.stream is not None and b.stream.stats is not None
    return b.stream.stats


def test_sessions_of_a_driver_share_its_poller_on_uvloop() -> None:
    """uvloop reads its native transports by default; asked to, the driver's
    poller reads the sessions' raw sockets there too, and a call through it
    is intact."""
    uvloop = pytest.importorskip("uvloop")

    async def run() -> None:
        assert MediaDriver().poller is None
        driver = MediaDriver(poll=True)
        assert driver.poller is not None
        a = await MediaSession.bind(MediaConfig(), driver=driver)
        b = await MediaSession.bind(MediaConfig(), driver=driver)
        assert len(driver.poller) == 2
        assert a._rtp is not None and a._rtp._transport is None
        tone = sweep_tone(0.4)
        a.start(b.local_rtp, MediaCrypto.srtp(SUITE, bytes(30), bytes([1]) * 30), audio=tone)
        b.start(a.local_rtp, MediaCrypto.srtp(SUITE, bytes([1]) * 30, bytes(30)))
        stats = await _sent_then_bye(a, b)
        assert stats.received >= 19
        b.close()
        assert len(driver.poller) == 0

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


async def test_a_driver_without_epoll_reads_each_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no epoll the driver has no poller and its sessions read
    their own sockets, as sessions without a driver do."""
    assert MediaDriver().poller is not None  # asyncio's own loop: polled by default
    assert MediaDriver(poll=False).poller is None
    monkeypatch.setattr(MediaPoller, "available", staticmethod(lambda: False))
    driver = MediaDriver(poll=True)
    assert driver.poller is None
    a = await MediaSession.bind(MediaConfig(), driver=driver)
    b = await MediaSession.bind(MediaConfig(), driver=driver)
    assert b._rtp is not None and b._rtp._poller is None
    a.start(b.local_rtp, MediaCrypto.plain(), audio=sweep_tone(0.3))
    b.start(a.local_rtp, MediaCrypto.plain())
    stats = await _sent_then_bye(a, b)
    assert stats.received == 15
    b.close()


async def test_a_session_hears_when_a_datagram_came() -> None:
    """Through the driver's poller, the stream is given the kernel's arrival time
    of each datagram, however much later the tick reads it."""
    driver = MediaDriver()
    session = await MediaSession.bind(MediaConfig(), driver=driver)
    session.start(None, MediaCrypto.plain())
    stream = session.stream
    assert stream is not None
    heard: list[float] = []
    receive = stream.receive_rtp  # the session's entry for RTP

    def spy(data: bytes, addr: Address, now: float) -> None:
        heard.append(now)
        receive(data, addr, now)

    stream.receive_rtp = spy  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    sender = udp()
    before = loop.time()
    sender.sendto(build_rtp(0, 1, 160, 0x1234, bytes(160), False), session.local_rtp)
    after = loop.time()
    async with asyncio.timeout(5):
        while not heard:
            await asyncio.sleep(0.001)
    assert before - 0.001 <= heard[0] <= after + 0.001
    assert stream.stats is not None and stream.stats.received == 1
    sender.close()
    session.close()
