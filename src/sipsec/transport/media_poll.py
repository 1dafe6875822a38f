"""One epoll for all the media sockets of a :class:`MediaDriver`, read in bulk.

With one reader callback per socket a loop that keeps up wakes for the
datagrams as they come, often one or a few at a time, and each wake-up runs
with cold caches (``bench/bench_media.py``: the same per-packet work costs
about twice the CPU in real time that it costs in a tight loop).  The poller
instead registers every media socket of a driver in one ``select.epoll``
and that one descriptor with the loop.  When it becomes readable and the
driver's next tick is within its resolution anyway, the poller stops
listening and the tick reads everything that came, before it sends; only
when no tick is near does it read at once.  One wake-up then serves the
datagrams of many calls, and their sending; and a loop that fell behind
reads everything waiting at each tick, not one datagram per socket.

Processing a datagram up to a tick later than it came would skew the
interarrival jitter (RFC 3550 §6.4.1, A.8) and the LSR/DLSR round trip,
which take the arrival time.  So each datagram carries the kernel's receive
timestamp (``SO_TIMESTAMPNS``, CLOCK_REALTIME) converted to CLOCK_MONOTONIC,
the clock asyncio's ``loop.time()`` is (uvloop's follows it within a few
milliseconds; an arrival is never put after the time of reading): the
statistics see when it really arrived, not when it was read.  Where the
kernel gives no timestamp, the time of reading stands in.

Linux only (``select.epoll``); elsewhere the driver keeps one reader per
socket (:func:`MediaPoller.available`).
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import sys
import time
from collections.abc import Callable

__all__ = ["MediaPoller"]

Address = tuple[str, int]
# (datagram, source, arrival time: CLOCK_MONOTONIC, as the loop's clock)
Arrival = Callable[[bytes, Address, float], None]

# <asm-generic/socket.h>: SO_TIMESTAMPNS and its control message SCM_TIMESTAMPNS,
# a struct timespec.  Python 3.11 names neither.
SO_TIMESTAMPNS = int(getattr(socket, "SO_TIMESTAMPNS", 35))
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
_MAX_DATAGRAM = 0xFFFF
# Passes over the ready sockets in one drain: a socket flooded faster than it
# is read must not keep the loop here; what is left wakes the loop again.
_MAX_PASSES = 64
# A kernel stamp further than this before the time of reading is not believed
# (the wall clock was stepped between the two): the time of reading stands in.
_PLAUSIBLE = 1.0


def realtime_offset() -> float:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC, from the closest of a few readings:
    a process preempted between two clock reads would put the offset off by
    as long as it waited."""
    best_gap, offset = float("inf"), 0.0
    for _ in range(4):
        before = time.monotonic()
        real = time.time()
        gap = time.monotonic() - before
        if gap < best_gap:
            best_gap, offset = gap, real - before - gap / 2
            if gap < 20e-6:
                break
    return offset


class MediaPoller:
    """The media sockets of one driver, read together (see the module docstring)."""

    @staticmethod
    def available() -> bool:
        return sys.platform == "linux" and hasattr(select, "epoll")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()
        self._fd = self._epoll.fileno()
        # fd -> (socket, receiver, error handler, IPv6?, kernel timestamps?)
        self._ports: dict[
            int, tuple[socket.socket, Arrival, Callable[[OSError], None], bool, bool]
        ] = {}
        self._listening = False
        # Set by the driver: the time of its next tick, and its resolution.
        self.next_tick: Callable[[], float] = lambda: float("inf")
        self.resolution = 0.0
        self.datagrams = 0
        self.wakeups = 0  # times the loop woke the poller itself (not a tick)

    def __len__(self) -> int:
        return len(self._ports)

    def add(
        self, sock: socket.socket, on_arrival: Arrival, on_error: Callable[[OSError], None]
    ) -> None:
        """Read ``sock`` here from now on; ``on_arrival(data, addr, arrival)``."""
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            stamped = True
        except OSError:  # a kernel without it: the time of reading stands in
            stamped = False
        fd = sock.fileno()
        self._epoll.register(fd, select.EPOLLIN)
        self._ports[fd] = (sock, on_arrival, on_error, sock.family == socket.AF_INET6, stamped)
        self._listen()

    def remove(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if self._ports.pop(fd, None) is not None:
            self._epoll.unregister(fd)
        if not self._ports:
            self._mute()

    def close(self) -> None:
        self._mute()
        self._ports.clear()
        self._epoll.close()

    def _listen(self) -> None:
        if not self._listening and self._ports:
            self._loop.add_reader(self._fd, self._readable)
            self._listening = True

    def _mute(self) -> None:
        if self._listening:
            self._loop.remove_reader(self._fd)
            self._listening = False

    def _readable(self) -> None:
        """Something came: leave it to a tick that is near, or read it now."""
        if self.next_tick() - self._loop.time() <= self.resolution:
            # Level-triggered: listening on would wake the loop again at once.
            self._mute()
            return
        self.wakeups += 1
        self.drain()

    def drain(self) -> None:
        """Read every datagram waiting on any socket, hand each on, listen again.

        One datagram per ready socket per pass, then ``poll`` again: with the
        usual one datagram per call between ticks that is one ``recvmsg`` per
        datagram and one empty ``poll`` at the end, no BlockingIOError raised.
        """
        poll, ports = self._epoll.poll, self._ports
        loop_time = self._loop.time
        now = loop_time()
        offset = realtime_offset()  # the kernel's stamps to the monotonic clock
        unpack = _TIMESPEC.unpack_from
        ready = poll(0, 1024)
        count = passes = 0
        while ready and passes < _MAX_PASSES:
            passes += 1
            for fd, _ in ready:
                port = ports.get(fd)
                if port is None:
                    continue  # closed by a receiver earlier in this pass
                sock, on_arrival, on_error, v6, stamped = port
                arrival = now
                try:
                    if stamped:
                        data, ancillary, _, addr = sock.recvmsg(_MAX_DATAGRAM, _ANCILLARY)
                        # The one control message asked for: SCM_TIMESTAMPNS.
                        if ancillary and ancillary[0][1] == SO_TIMESTAMPNS:
                            seconds, nanoseconds = unpack(ancillary[0][2])
                            stamp = seconds - offset + nanoseconds * 1e-9
                            # Never after the time of reading: a later now
                            # must not come before it (uvloop's clock runs
                            # up to a few ms off the monotonic one).
                            if now - _PLAUSIBLE < stamp < now:
                                arrival = stamp
                    else:
                        data, addr = sock.recvfrom(_MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:  # an ICMP error reported on this socket
                    on_error(exc)
                    continue
                count += 1
                # IPv6 adds flow info and scope id; the media layer keys on (host, port).
                on_arrival(data, addr[:2] if v6 else addr, arrival)
            ready = poll(0, 1024)
            now = loop_time()
        self.datagrams += count
        self._listen()
