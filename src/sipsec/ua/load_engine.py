"""The parts the load generator's UAC and UAS engines share: configuration,
per-call slots, the timers, and reading datagrams with the byte scanner of
:mod:`sipsec.ua.load_scan` (each engine inlines the dispatch in its own
``receive``). Sans-IO: ``now`` is always an argument.

Timers (RFC 3261 §17 A/B/E/F/G/H, the hold before the BYE, the linger of a
finished call) mostly run at a fixed delay after ``now`` — T1, 64·T1, the
hold, the linger — so each delay gets a FIFO queue, in deadline order by
construction (O(1) to arm and to fire, where a heap of the ~100,000 calls a
generator keeps at 5,000 calls/s costs a log-time push and pop); the rare
others (a capped retransmission interval, a deadline that would land before
the queue's last one) go into one heap. A slot's ``token`` says which of its
entries is current: re-arming leaves the old entry behind, skipped when met.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sipsec.errors import LocalProtocolError, SipsecError
from sipsec.sip import SipUri, generate_tag, parse_uri

from .load_stats import LoadStats
from .load_wire import Address, Scanned, scan

__all__ = ["Address", "CallSlot", "Datagram", "ScenarioConfig", "ScenarioEngine"]

Datagram = tuple[bytes, Address]
_Entry = tuple[float, int, "CallSlot"]

# Slot states, UAC then UAS. Each engine dispatches on (method, status, state)
# in one if-chain per direction, in the order of the call flow.
CALLING, PROCEEDING, HOLDING, BYE_SENT, LINGER = range(5)
ANSWERED, CONFIRMED = range(5, 7)


@dataclass(frozen=True)
class ScenarioConfig:
    """What both engines need; ``local`` is the address our socket is bound to
    (it goes in Via and Contact), ``next_hop`` where new requests are sent (the
    proxy, or the UAS itself)."""

    local: Address
    next_hop: Address | None = None
    target: str = "sip:uas@127.0.0.1"
    t1: float = 0.5
    t2: float = 4.0
    hold: float = 0.0  # seconds between ACK and BYE (SIPp's pause)
    linger: float | None = None  # keep a finished call to absorb retransmissions; 64·T1
    max_concurrent: int | None = None  # SIPp -l: no new call while this many are up
    # The UAS's 100 Trying: §17.2.1 lets a UAS that answers within 200 ms skip
    # it (SIPp's uas does), and a proxy never forwards it (§16.7 step 5).
    trying: bool = True
    new_id: Callable[[], str] = field(default=generate_tag, repr=False)

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2) or self.hold < 0:
            raise LocalProtocolError("need 0 < t1 <= t2 and hold >= 0")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise LocalProtocolError("max_concurrent must be at least 1")
        try:
            uri = parse_uri(self.target)
        except SipsecError as exc:
            raise LocalProtocolError(f"bad target {self.target!r}: {exc}") from None
        if not isinstance(uri, SipUri):
            raise LocalProtocolError(f"target {self.target!r} is not a sip: URI")
        if not self.target.isascii() or any(c in self.target for c in "\r\n\t <>"):
            raise LocalProtocolError(f"target {self.target!r} cannot go in a request line")

    @property
    def timeout(self) -> float:
        return 64 * self.t1  # Timers B, F and H (§17)

    @property
    def linger_time(self) -> float:
        return self.timeout if self.linger is None else self.linger


class CallSlot:
    """One call's state: a slot, reused for the next call when it is freed."""

    __slots__ = (
        "answer",
        "branch",
        "bye",
        "bye_branch",
        "call_id",
        "expires",
        "interval",
        "local_tag",
        "peer",
        "pending",
        "remote_tag",
        "started",
        "state",
        "token",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.call_id = b""
        self.state = CALLING
        self.token = 0  # matches the timer entry that is current for this slot
        self.expires = 0.0  # when the current exchange gives up
        self.interval = 0.0
        self.started = 0.0
        self.local_tag = b""
        self.remote_tag = b""  # the To tag of the 2xx: the dialog (§12.1.2)
        self.branch = b""  # the INVITE's top Via branch (its transaction, §17.1.3)
        self.bye_branch = b""
        self.bye = b""  # built at the 2xx, sent after the hold
        self.pending: bytes = b""  # what a timer retransmits
        self.answer: bytes = b""  # what a retransmission from the peer gets again
        self.peer: Address = ("", 0)


class ScenarioEngine:
    """Slots, the timers, the outgoing queue and classifying of input."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.stats = LoadStats()
        self._calls: dict[bytes, CallSlot] = {}
        self._free: list[CallSlot] = []
        self._queues: dict[float, deque[_Entry]] = {}
        self._heap: list[_Entry] = []
        self._tokens = 0
        self._out: list[Datagram] = []
        self._active = 0  # calls not yet finished (lingering ones excluded)
        # The config's delays as plain attributes: read a few times per call.
        self._t1 = config.t1
        self._timeout = config.timeout
        self._linger = config.linger_time
        host, port = config.local
        via_host = f"[{host}]" if ":" in host else host
        self._local = f"{via_host}:{port}".encode("ascii")
        # Call-IDs, tags and branches: a random prefix per engine and a counter
        # (unique and unguessable enough for a load tool; a CSPRNG call per id
        # would cost more than the rest of the call's bookkeeping).
        self._prefix = config.new_id().encode("ascii")
        self._serial = 0

    def datagrams_to_send(self) -> list[Datagram]:
        out, self._out = self._out, []
        return out

    @property
    def active_calls(self) -> int:
        return self._active

    @property
    def timers_armed(self) -> int:
        """How many timers were ever armed: while it stands still, no deadline
        moved, and a driver's armed timer is still right (no get_timer needed)."""
        return self._tokens

    @property
    def least_delay(self) -> float:
        """The shortest delay :meth:`receive` arms a timer with (T1, Timer H's
        64·T1, the hold, the linger): every deadline it sets is at least this
        after its ``now``, so a driver whose timer is due sooner need not ask
        :meth:`get_timer` again (timer callbacks may arm sooner)."""
        config = self.config
        delays = [config.t1, config.timeout, config.linger_time]
        if config.hold > 0:
            delays.append(config.hold)
        return min(delays)

    def get_timer(self) -> float | None:
        entry = self._earliest()
        return None if entry is None else entry[0]

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """Feed one datagram; bad input is counted, never raised."""
        try:
            scanned = scan(data)
            if scanned[0].__class__ is int:
                self._on_response(data, scanned, now)
            else:
                self._on_request(data, scanned, source, now)
        except SipsecError:
            self.stats.malformed += 1

    def handle_timer(self, now: float) -> None:
        while (entry := self._earliest()) is not None and entry[0] <= now:
            self._pop(entry)
            self._on_timer(entry[2], now)

    # -- timers -------------------------------------------------------------------------
    def _earliest(self) -> _Entry | None:
        """The earliest current entry of the queues and the heap (stale ones dropped)."""
        best: _Entry | None = None
        for queue in self._queues.values():
            while queue and queue[0][1] != queue[0][2].token:
                queue.popleft()
            if queue and (best is None or queue[0] < best):  # (deadline, arm order)
                best = queue[0]
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].token:
            heapq.heappop(heap)
        if heap and (best is None or heap[0] < best):
            best = heap[0]
        return best

    def _pop(self, entry: _Entry) -> None:
        if self._heap and self._heap[0] is entry:
            heapq.heappop(self._heap)
            return
        for queue in self._queues.values():
            if queue and queue[0] is entry:
                queue.popleft()
                return

    def _after(self, call: CallSlot, now: float, delay: float) -> None:
        """Wake ``call`` at ``now + delay`` (a fixed delay: a FIFO queue)."""
        token = self._tokens = self._tokens + 1
        call.token = token
        deadline = now + delay
        queue = self._queues.get(delay)
        if queue is None:
            queue = self._queues[delay] = deque()
        if queue and queue[-1][0] > deadline:  # a caller's clock went back
            heapq.heappush(self._heap, (deadline, token, call))
        else:
            queue.append((deadline, token, call))

    def _at(self, call: CallSlot, deadline: float) -> None:
        """Wake ``call`` at ``deadline`` (any time: the heap)."""
        self._tokens += 1
        call.token = self._tokens
        heapq.heappush(self._heap, (deadline, self._tokens, call))

    # -- for the subclasses -------------------------------------------------------------
    def _new_call(self, call_id: bytes) -> CallSlot:
        call = self._free.pop() if self._free else CallSlot()
        call.call_id = call_id
        self._calls[call_id] = call
        self._active += 1
        return call

    def _next_id(self) -> bytes:
        self._serial += 1
        return b"%x.%s" % (self._serial, self._prefix)

    def _retransmit(self, call: CallSlot, now: float, cap: float | None) -> None:
        """Send ``pending`` again and double the interval (§17.1.1.2, §17.1.2.2)."""
        self._out.append((call.pending, call.peer))
        self.stats.retransmissions += 1
        call.interval = call.interval * 2 if cap is None else min(call.interval * 2, cap)
        if now + call.interval < call.expires:
            self._after(call, now, call.interval)
        else:
            self._at(call, call.expires)

    def _finish(self, call: CallSlot, now: float, failure: str | None) -> None:
        """The call is over: count it, keep it a while for late retransmissions."""
        if failure is None:
            self.stats.calls_succeeded += 1
        else:
            self.stats.fail(failure)
        self.stats.last_end = now
        self._active -= 1
        call.state = LINGER
        # A lingering call only answers retransmissions with ``answer`` (the ACK,
        # the BYE's 200): what it would resend is released now, not 64·T1 later
        # (at 5,000 calls/s some 160,000 calls linger per engine).
        call.bye = call.pending = b""
        self._after(call, now, self._linger)

    def _free_call(self, call: CallSlot) -> None:
        del self._calls[call.call_id]
        # Token 0: every timer entry of this slot is now stale. Only the fields a
        # new call reads before it sets them are cleared (both engines set the
        # rest when they take a slot: state, tags, branch, peer, times, pending).
        call.token = 0
        call.answer = call.bye = call.bye_branch = call.remote_tag = b""
        self._free.append(call)

    def _on_request(self, data: bytes, scanned: Scanned, source: Address, now: float) -> None:
        self.stats.unexpected += 1

    def _on_response(self, data: bytes, scanned: Scanned, now: float) -> None:
        self.stats.unexpected += 1

    def _on_timer(self, call: CallSlot, now: float) -> None:
        raise NotImplementedError
