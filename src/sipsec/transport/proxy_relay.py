"""The asyncio side of the proxy's fast relay: :class:`RelayShell`.

:class:`~sipsec.proxy.relay.FastRelay` is sans-IO. The shell gives it UDP
datagrams first (``SipTransport.on_datagram``: whatever it declines goes on
to the parser and the full path, unchanged), sends what it produces from the
transport's UDP listener, and wakes it for its timers.

Where a relayed call's CPU goes in ``sipsec proxy`` (py-spy, non-blocking,
250 Hz, 2,000 calls/s of the benchmark's call; shares of the proxy's
samples, each within a few points — a non-blocking sample is sometimes torn):
the relay's sans-IO code 40–50 % (requests 30, responses 10–16), uvloop's
loop with the ``recvmsg`` system calls 17–27 %, ``sendto`` 13 %, the
transport's hand-off of a datagram (``SipTransport.datagram_received``) 3–5 %,
this shell's own Python 2–4 %, timer wake-ups 3–4 %, the access log 2–4 %.

Measured per datagram (``bench/bench_proxy.py`` under py-spy, 800 calls/s):
the shell is the two system calls (``recvmsg``, ``sendmsg``), uvloop's
dispatch, and a few method calls around ``FastRelay.receive``; it makes no
object of its own per datagram. A raw socket read with ``loop.add_reader``
and drained until ``BlockingIOError`` (as :mod:`.media_socket` does on
asyncio's own loop) was measured against uvloop's datagram transport, in
one process, alternating, receiver CPU per datagram relayed: dearer in
four runs of five (e.g. 12.4 against 12.1 µs at 10,000/s, 5.8 against
5.4 µs at 30,000/s; the fifth, 8.4 against 9.7 µs), so the transport stays.

Timers: one ``call_at`` handle for all of the relay's, re-armed only when
its earliest deadline moves earlier — which only a deadline queued before
the armed wake-up can do, so after a datagram the shell asks the relay's
queue that (:meth:`~sipsec.proxy.relay_timers.TimerQueue.queued_before`,
one comparison) before it reads the earliest deadline itself (bench_proxy's
call recorded and replayed through the shell: 705k instructions a call,
against 748k reading it after every datagram; cachegrind). Deadlines are rounded up to a *slot*
of ``T1 / 32`` (15.6 ms with the default T1): a relay under load has a
transaction timer falling due every few hundred microseconds (A, B, E, F
cancelled or not, and J, K, L, H 64*T1 after each transaction), and a
wake-up for each cost a loop handle, the relay's timer scan and a flush. In
slots, one wake-up handles all that fell due in it. Nothing fires early; a
timer fires at most a slot (and :data:`_ROUNDING`) late — a loop under load
is late by as much anyway — and RFC 3261's timers are "at least" durations.
"""

from __future__ import annotations

import asyncio
import logging
import math

from sipsec.proxy.relay import FastRelay

from .errors import TransportFailure
from .sip import SipTransport

__all__ = ["SLOTS_PER_T1", "RelayShell", "wake_slot"]

_log = logging.getLogger("sipsec.proxy")
SLOTS_PER_T1 = 32  # timer slot = T1 / 32; see the module docstring
# uvloop's clock counts milliseconds and rounds a call_at to the nearest one:
# 40 % of its wake-ups came up to 0.5 ms before the time asked for (measured),
# the relay found nothing due yet, and the shell woke again at once. Asking
# for a millisecond later makes every wake-up find its deadline passed.
_ROUNDING = 0.001


def wake_slot(due: float, step: float) -> float:
    """When to wake for a deadline ``due``: the end of its ``step``-long
    slot, never before ``due`` itself (float rounding of the division)."""
    return max(due, math.ceil(due / step) * step)


class RelayShell:
    """Datagrams into ``relay`` and its output onto ``transport``'s UDP
    listener; its timers on one ``call_at`` handle (module docstring)."""

    def __init__(self, relay: FastRelay, transport: SipTransport) -> None:
        self.relay = relay
        self.transport = transport
        self._loop = asyncio.get_running_loop()
        self._slot = relay.timers.t1 / SLOTS_PER_T1
        self._queue = relay.queue
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None  # when the handle fires
        self._closed = False
        self.wakeups = 0  # timer wake-ups, for benchmarks and tests

    def datagram(self, data: bytes, source: tuple[str, int]) -> bool:
        """The transport's ``on_datagram`` hook: True when the relay took it."""
        if not self.relay.receive(data, source, self._loop.time()):
            return False
        self._flush()
        return True

    @property
    def wake_at(self) -> float | None:
        """When the timer handle fires next (None: not armed)."""
        return self._at

    def slot(self, due: float) -> float:
        """:func:`wake_slot` of ``due`` in this relay's slots of T1/32."""
        return wake_slot(due, self._slot)  # T1 > 0: TimerConfig's rule

    def _flush(self, not_before: float = 0.0) -> None:
        relay = self.relay
        out = relay.datagrams_to_send()
        if out:
            send = self.transport.send_datagram
            for data, address in out:
                try:
                    send(data, address)
                except TransportFailure as exc:
                    relay.stats["relay_send_errors"] += 1
                    _log.debug("relay: sending to %s failed: %s", address, exc)
        at = self._at
        queue = self._queue
        if at is None:
            queue.queued_before(math.inf)  # forgets what was queued: read in full below
        elif not queue.queued_before(at):
            return  # nothing queued since can be due before the armed wake-up
        due = relay.get_timer()
        if due is None or self._closed:
            return
        if at is not None and due >= at:
            return  # the armed wake-up comes first; it re-reads the deadline
        wake = max(self.slot(due), not_before)
        if at is not None and wake >= at:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._at = wake
        self._handle = self._loop.call_at(wake + _ROUNDING, self._fire)

    def _fire(self) -> None:
        self._handle = self._at = None
        if self._closed:
            return
        self.wakeups += 1
        now = self._loop.time()
        try:
            self.relay.handle_timer(now)
        except Exception:  # never into the event loop; the full path's rule too
            self.relay.stats["relay_errors"] += 1
            _log.exception("relay timer failed")
            # Its deadline may still be due: the next try waits a slot
            # rather than spinning the loop on a timer that keeps failing.
            self._flush(now + self._slot)
            return
        self._flush()

    def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._at = None
