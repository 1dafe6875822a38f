"""One timer for many media sessions: "the one timer per driver" of DESIGN.md.

asyncio keeps its timers in a heap of Python objects compared in Python; at
50 wake-ups per second per call that, not the media, becomes the cost.  A
:class:`MediaDriver` keeps one ``loop.call_at`` for all the sessions that
share it, and a heap of plain tuples: deadlines within ``resolution`` of each
other are served by one wake-up.  Its sessions are
:class:`sipsec.transport.media.MediaSession` objects (re-exported there).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import TYPE_CHECKING

from sipsec.transport.media_poll import MediaPoller

if TYPE_CHECKING:
    from sipsec.transport.media import MediaSession

__all__ = ["MediaDriver"]


class MediaDriver:
    """One timer for many sessions: "the one timer per driver" of DESIGN.md.

    A session due within ``resolution`` of the earliest deadline runs in the
    same wake-up, told that its deadline has come (so a packet may leave up
    to ``resolution`` early, never late on the driver's account).

    With ``poll`` the sessions' sockets are read by one :class:`MediaPoller`
    (Linux): what came since the last wake-up is read at the start of each
    tick, with its kernel arrival time, so receiving takes no wake-ups of its
    own while ticks come every ``resolution`` or so, and a loop that fell
    behind reads everything that waits before it sends.  By default (None)
    that is on asyncio's own loop, where a datagram read so costs about what
    its own reader callback costs, without the wake-up; uvloop reads a
    socket in C for fewer instructions than the poller's ``recvmsg`` with
    its timestamp (about 9,300 against 15,600 a datagram, counted with
    cachegrind), so there each session keeps its native transport unless
    ``poll`` is True.

    With ``pass_limit`` a pass holds the loop for at most that long: when
    more sessions are due after it (a tick that came late, after a stall of
    the machine, finds every session due at once) the rest run in the next
    loop iteration, after the loop has read what arrived, and so on until
    none is overdue.  Due packets still leave in deadline order, and their
    slots, sequence numbers and timestamps do not depend on when they leave.
    That bounds how long other work on the loop (signalling, the receives'
    arrival times) waits behind the media.  It is off by default: under
    overload it does not shed work, it only lets the receives in between,
    which delays the rest of the sends; in ``bench/bench_media.py`` runs
    that alternated with and without a 4 ms limit (250 calls, AES-CM) the
    limit did not lower the share of late packets.
    """

    def __init__(
        self,
        resolution: float = 0.002,
        *,
        poll: bool | None = None,
        pass_limit: float | None = None,
    ) -> None:
        if resolution < 0 or (pass_limit is not None and pass_limit <= 0):
            raise ValueError("a driver's resolution is >= 0 and its pass limit > 0")
        self.resolution = resolution
        self.pass_limit = float("inf") if pass_limit is None else pass_limit
        self.wakeups = 0
        self.cut_passes = 0  # passes cut at pass_limit (the rest ran after a loop turn)
        self._loop = asyncio.get_running_loop()
        self._heap: list[tuple[float, int, MediaSession]] = []
        self._order = itertools.count()
        self._handle: asyncio.Handle | None = None
        self._handle_at = float("inf")
        self._firing = False
        self.poller: MediaPoller | None = None
        if poll is None:
            poll = isinstance(self._loop, asyncio.selector_events.BaseSelectorEventLoop)
        if poll and MediaPoller.available():
            self.poller = MediaPoller(self._loop)
            self.poller.resolution = resolution
            self.poller.next_tick = lambda: self._handle_at

    def schedule(self, session: MediaSession, deadline: float) -> None:
        heapq.heappush(self._heap, (deadline, next(self._order), session))
        if not self._firing and deadline < self._handle_at:
            if self._handle is not None:
                self._handle.cancel()
            self._handle_at = deadline
            self._handle = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle, self._handle_at = None, float("inf")
        self.wakeups += 1
        heap = self._heap
        clock = self._loop.time
        pop = heapq.heappop
        cut = ran = False
        self._firing = True  # sessions re-arm below; arm the loop once, after
        try:
            poller = self.poller
            if poller is not None and len(poller):
                poller.drain()  # what came since the last tick, before sending
            start = clock()
            horizon = start + self.resolution
            end = start + self.pass_limit
            while heap and heap[0][0] <= horizon:
                entry = pop(heap)
                deadline, _, session = entry
                # Entries left behind by a session that re-armed are skipped.
                if session._timer_at != deadline:
                    continue
                # Each session is told the time it really runs at, so that a
                # packet sent late in a long wake-up counts as late.
                now = clock()
                if now > end and ran:  # the pass limit is reached: the rest after a loop turn
                    heapq.heappush(heap, entry)  # its place among equal deadlines kept
                    cut = True
                    break
                ran = True  # at least one session a pass, however short the limit
                try:
                    session._on_timer(deadline if deadline > now else now)
                except Exception as exc:  # one broken session must not stop the others
                    self._loop.call_exception_handler(
                        {"message": "media session timer failed", "exception": exc}
                    )
        finally:
            self._firing = False
        if cut:
            # call_soon, not a timer: asyncio's loop polls its sockets (with
            # no wait) before it runs this, so what arrived is read in
            # between; uvloop (libuv: timers, then the ready queue, then the
            # poll) runs a continuation made in a timer at once, and polls
            # before the next one.
            self.cut_passes += 1
            self._handle_at = heap[0][0]
            self._handle = self._loop.call_soon(self._fire)
        elif heap:
            self._handle_at = heap[0][0]
            self._handle = self._loop.call_at(self._handle_at, self._fire)
