"""One media UDP socket, read with ``loop.add_reader`` and written with ``sock.sendto``.

asyncio's datagram transport costs a few microseconds a datagram on both
sides: ``sendto`` checks and wraps every call, and each datagram received
goes through ``_read_ready`` and a protocol method.  A media session sends
and receives 50 datagrams a second per call, so at hundreds of calls that
wrapping outweighs the syscalls themselves.  :class:`UdpPort` keeps only
what a media socket needs: the non-blocking socket, one reader callback that
reads one datagram (epoll is level-triggered: another waiting datagram
calls it again on the next loop pass), and a backlog that is written when
the kernel's send buffer refuses a datagram, so nothing is reordered or lost
on our side.

That is for asyncio's own selector loop, whose transport is Python.  Other
loops (uvloop) implement the datagram transport natively, and there it is
the cheaper path (``bench/bench_media.py`` measures both): the port then
wraps a transport whose protocol hands each datagram straight on.

A port opened with a ``poller`` (:mod:`sipsec.transport.media_poll`, the
sockets of a media driver read in bulk) is read by that poller on any loop
and written with ``sock.sendto``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sipsec.transport.media_poll import Arrival, MediaPoller

__all__ = ["UdpPort"]

_SelectorLoop = asyncio.selector_events.BaseSelectorEventLoop

Address = tuple[str, int]
# The largest datagram a UDP socket can deliver: nothing is ever truncated.
_MAX_DATAGRAM = 0xFFFF


async def _addresses(host: str, loop: asyncio.AbstractEventLoop) -> list[tuple[int, str]]:
    """(address family, literal address) to try binding ``host`` to, in order."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        found: list[tuple[int, str]] = list(
            dict.fromkeys((family, str(addr[0])) for family, _, _, _, addr in infos)
        )
        if not found:
            raise OSError(f"{host} has no address") from None
        return found
    return [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, host)]


class _Binding:
    """What :meth:`UdpPort.open` was given, passed on to each bind attempt."""

    __slots__ = ("on_arrival", "on_datagram", "on_error", "poller")

    def __init__(
        self,
        on_datagram: Callable[[bytes, Address], None],
        on_error: Callable[[OSError], None],
        poller: MediaPoller | None,
        on_arrival: Arrival | None,
    ) -> None:
        self.on_datagram = on_datagram
        self.on_error = on_error
        self.poller = poller
        self.on_arrival = on_arrival


class _Handoff(asyncio.DatagramProtocol):
    """The protocol of a native transport: each datagram straight to the port's receiver."""

    def __init__(self, port: UdpPort) -> None:
        self._port = port
        if not port._v6:
            # An IPv4 address is already (host, port): the loop calls the
            # receiver itself, a Python call less per datagram.
            self.datagram_received = port._on_datagram  # type: ignore[assignment,method-assign]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        port = self._port
        port._on_datagram(data, addr[:2] if port._v6 else addr)  # type: ignore[arg-type]

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self._port._on_error(exc)


class UdpPort:
    """A bound non-blocking UDP socket whose datagrams go to ``on_datagram``.

    ``send`` is the fastest way to send on this loop (``sendto`` calls it).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_datagram: Callable[[bytes, Address], None],
        on_error: Callable[[OSError], None],
        *,
        read: bool = True,
        poller: MediaPoller | None = None,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._on_datagram = on_datagram
        self._on_error = on_error
        self._backlog: deque[tuple[bytes, Address]] = deque()
        self._v6 = sock.family == socket.AF_INET6
        host, port = sock.getsockname()[:2]
        self.address: Address = (str(host), int(port))
        self.closed = False
        self._transport: asyncio.DatagramTransport | None = None
        self._poller = poller
        self.send: Callable[[bytes, Address], None] = self._send_raw
        if read and poller is None:  # else a native transport (_native) or the poller reads it
            loop.add_reader(self._fd, self._readable)

    @classmethod
    async def _native(
        cls,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_datagram: Callable[[bytes, Address], None],
        on_error: Callable[[OSError], None],
    ) -> UdpPort:
        """The port over the loop's own (native) datagram transport."""
        port = cls(loop, sock, on_datagram, on_error, read=False)
        transport, _ = await loop.create_datagram_endpoint(lambda: _Handoff(port), sock=sock)
        port._transport = transport
        port.send = transport.sendto
        return port

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_datagram: Callable[[bytes, Address], None],
        on_error: Callable[[OSError], None],
        *,
        poller: MediaPoller | None = None,
        on_arrival: Arrival | None = None,
    ) -> UdpPort:
        """Bind ``host``:``port`` (0: any free port); OSError/OverflowError as bind raises.

        With a ``poller``, it reads the socket and calls ``on_arrival(data,
        addr, arrival)`` (by default ``on_datagram(data, addr)``).
        """
        loop = asyncio.get_running_loop()
        candidates = await _addresses(host, loop)
        bound = _Binding(on_datagram, on_error, poller, on_arrival)
        # Like create_datagram_endpoint: each address of a name in turn, the
        # last one's error if none can be bound.
        *others, last = candidates
        for family, literal in others:
            try:
                return await cls._bind(loop, family, literal, port, bound)
            except OSError:
                continue
        return await cls._bind(loop, last[0], last[1], port, bound)

    @classmethod
    async def _bind(
        cls, loop: asyncio.AbstractEventLoop, family: int, literal: str, port: int, bound: _Binding
    ) -> UdpPort:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((literal, port))
            poller = bound.poller
            if poller is not None:
                udp = cls(loop, sock, bound.on_datagram, bound.on_error, poller=poller)
                on_datagram = bound.on_datagram
                arrival = bound.on_arrival or (lambda data, addr, _at: on_datagram(data, addr))
                poller.add(sock, arrival, bound.on_error)
                return udp
            if isinstance(loop, _SelectorLoop):
                return cls(loop, sock, bound.on_datagram, bound.on_error)
            return await cls._native(loop, sock, bound.on_datagram, bound.on_error)
        except BaseException:
            sock.close()
            raise

    def _readable(self) -> None:
        try:
            data, addr = self._sock.recvfrom(_MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # an ICMP error reported on this socket, and the like
            self._on_error(exc)
            return
        # IPv6 adds flow info and scope id; the media layer keys on (host, port).
        self._on_datagram(data, addr[:2] if self._v6 else addr)

    def sendto(self, data: bytes, addr: Address) -> None:
        """Send now, or after what the kernel refused earlier (order kept)."""
        self.send(data, addr)

    def _send_raw(self, data: bytes, addr: Address) -> None:
        if self._backlog:
            self._backlog.append((data, addr))
            return
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            self._backlog.append((data, addr))
            self._loop.add_writer(self._fd, self._writable)
        except OSError as exc:
            self._on_error(exc)

    def _writable(self) -> None:
        backlog = self._backlog
        while backlog:
            data, addr = backlog[0]
            try:
                self._sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                return  # still full: called again when it drains
            except OSError as exc:
                self._on_error(exc)
            backlog.popleft()
        self._loop.remove_writer(self._fd)

    @property
    def pending(self) -> int:
        """Datagrams (or, over a transport, octets) waiting for room in the kernel's send buffer."""
        if self._transport is not None:
            # Every loop's datagram transport has it, though DatagramTransport
            # does not declare it.
            size = getattr(self._transport, "get_write_buffer_size", None)
            return int(size()) if size is not None else 0
        return len(self._backlog)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._transport is not None:
            self._transport.close()  # it closes the socket
            return
        if self._poller is not None:
            self._poller.remove(self._sock)
        else:
            self._loop.remove_reader(self._fd)
        if self._backlog:
            self._loop.remove_writer(self._fd)
            self._backlog.clear()
        self._sock.close()
