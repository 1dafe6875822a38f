"""UdpPort: the media socket without asyncio's datagram transport, on loopback."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from sipsec.transport.media_socket import UdpPort

Address = tuple[str, int]


class Inbox:
    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, Address]] = []
        self.errors: list[OSError] = []

    def datagram(self, data: bytes, addr: Address) -> None:
        self.datagrams.append((data, addr))

    def error(self, exc: OSError) -> None:
        self.errors.append(exc)

    async def until(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.datagrams) < count:
                await asyncio.sleep(0.001)


async def open_pair(host: str) -> tuple[UdpPort, Inbox, UdpPort, Inbox]:
    a_in, b_in = Inbox(), Inbox()
    a = await UdpPort.open(host, 0, a_in.datagram, a_in.error)
    b = await UdpPort.open(host, 0, b_in.datagram, b_in.error)
    return a, a_in, b, b_in


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_datagrams_both_ways_in_order(host: str) -> None:
    a, a_in, b, b_in = await open_pair(host)
    assert a.address[0] == b.address[0] == "127.0.0.1" and a.address[1] != b.address[1]
    for i in range(50):
        a.sendto(bytes([i]) * (i + 1), b.address)
    b.sendto(b"back", a.address)
    await b_in.until(50)
    await a_in.until(1)
    assert [d for d, _ in b_in.datagrams] == [bytes([i]) * (i + 1) for i in range(50)]
    assert {addr for _, addr in b_in.datagrams} == {a.address}
    assert a_in.datagrams == [(b"back", b.address)]
    a.close()
    a.close()  # twice is harmless
    b.close()
    assert a.closed and not a_in.errors and not b_in.errors


async def test_ipv6_addresses_are_host_and_port() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        a, _, b, b_in = await open_pair("::1")
    except OSError:
        pytest.skip("::1 cannot be bound here")
    a.sendto(b"six", b.address)
    await b_in.until(1)
    assert b_in.datagrams == [(b"six", a.address)] and len(a.address) == 2
    a.close()
    b.close()


class _FullThenFree(socket.socket):
    """A socket whose send buffer is "full" for the first ``full`` datagrams."""

    full = 3

    def sendto(self, data: Any, *args: Any) -> int:
        if self.full:
            self.full -= 1
            raise BlockingIOError
        return super().sendto(data, *args)


async def test_a_full_send_buffer_queues_in_order() -> None:
    receiver_in = Inbox()
    receiver = await UdpPort.open("127.0.0.1", 0, receiver_in.datagram, receiver_in.error)
    sock = _FullThenFree(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    errors: list[OSError] = []
    port = UdpPort(asyncio.get_running_loop(), sock, lambda *_: None, errors.append)
    port.sendto(b"0", receiver.address)  # refused: queued, writer armed
    for i in range(1, 6):
        port.sendto(str(i).encode(), receiver.address)  # behind it, in order
    assert port.pending == 6
    await receiver_in.until(6)
    assert [d for d, _ in receiver_in.datagrams] == [str(i).encode() for i in range(6)]
    assert port.pending == 0 and not errors
    port.close()
    receiver.close()


async def test_send_errors_are_reported_not_raised() -> None:
    inbox = Inbox()
    port = await UdpPort.open("127.0.0.1", 0, inbox.datagram, inbox.error)
    port.sendto(b"x", ("127.0.0.1", 0))  # port 0 is no destination: EINVAL
    assert len(inbox.errors) == 1 and isinstance(inbox.errors[0], OSError)
    port.close()


@pytest.mark.parametrize(("host", "port", "error"), [("127.0.0.1", -1, OverflowError)])
async def test_bind_errors_surface(host: str, port: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        await UdpPort.open(host, port, lambda *_: None, lambda _: None)
    first = await UdpPort.open("127.0.0.1", 0, lambda *_: None, lambda _: None)
    with pytest.raises(OSError):
        await UdpPort.open("127.0.0.1", first.address[1], lambda *_: None, lambda _: None)
    first.close()


class _RefusedOnce(socket.socket):
    """A socket whose next read reports an ICMP error (ECONNREFUSED)."""

    refused = True

    def recvfrom(self, *args: Any) -> Any:
        if self.refused:
            self.refused = False
            raise ConnectionRefusedError
        return super().recvfrom(*args)


async def test_receive_errors_are_reported_and_reading_goes_on() -> None:
    sock = _RefusedOnce(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    inbox = Inbox()
    port = UdpPort(asyncio.get_running_loop(), sock, inbox.datagram, inbox.error)
    sender = await UdpPort.open("127.0.0.1", 0, lambda *_: None, lambda _: None)
    sender.sendto(b"one", port.address)
    sender.sendto(b"two", port.address)
    await inbox.until(2)  # the error took nothing away
    assert [type(e) for e in inbox.errors] == [ConnectionRefusedError]
    assert [d for d, _ in inbox.datagrams] == [b"one", b"two"]
    port.close()
    sender.close()


def test_on_uvloop_the_native_transport_carries_the_datagrams() -> None:
    """Loops other than asyncio's selector loop get the port over their own
    (native) datagram transport: same datagrams, same addresses, same errors."""
    uvloop = pytest.importorskip("uvloop")

    async def exchange() -> None:
        a, a_in, b, b_in = await open_pair("127.0.0.1")
        assert a._transport is not None  # the native path, not add_reader
        for i in range(20):
            a.sendto(bytes([i]) * 10, b.address)
        b.send(b"back", a.address)
        await b_in.until(20)
        await a_in.until(1)
        assert [d for d, _ in b_in.datagrams] == [bytes([i]) * 10 for i in range(20)]
        assert a_in.datagrams == [(b"back", b.address)] and a.pending == 0
        a.close()
        b.close()
        a.close()
        assert a.closed and not a_in.errors and not b_in.errors

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(exchange())
    finally:
        loop.close()
