"""The parts the load generator's UAC and UAS engines share: configuration,
per-call slots, the one timer heap, and reading datagrams (SIPp-style: the
start line, Call-ID and CSeq only, a full :func:`parse_message` when the
engine must read more). Sans-IO: ``now`` is always an argument.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sipsec.errors import LocalProtocolError, SipsecError
from sipsec.sip import (
    Request,
    Response,
    SipParseError,
    SipUri,
    generate_tag,
    parse_message,
    parse_uri,
)

from .load_stats import LoadStats

__all__ = [
    "Address",
    "CallSlot",
    "Datagram",
    "ScenarioConfig",
    "ScenarioEngine",
    "address_of",
    "parse_as",
    "scan",
]

Address = tuple[str, int]
M = TypeVar("M", Request, Response)
Datagram = tuple[bytes, Address]

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
        "bye",
        "call_id",
        "expires",
        "interval",
        "local_tag",
        "peer",
        "pending",
        "started",
        "state",
        "token",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.call_id = ""
        self.state = CALLING
        self.token = 0  # matches the heap entry that is current for this slot
        self.expires = 0.0  # when the current exchange gives up
        self.interval = 0.0
        self.started = 0.0
        self.local_tag = ""
        self.bye = b""  # built at the 2xx, sent after the hold
        self.pending: bytes = b""  # what a timer retransmits
        self.answer: bytes = b""  # what a retransmission from the peer gets again
        self.peer: Address = ("", 0)


class ScenarioEngine:
    """Slots, the one timer heap, the outgoing queue and parsing of input."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.stats = LoadStats()
        self._calls: dict[str, CallSlot] = {}
        self._free: list[CallSlot] = []
        self._heap: list[tuple[float, int, CallSlot]] = []
        self._tokens = 0
        self._out: list[Datagram] = []
        self._active = 0  # calls not yet finished (lingering ones excluded)
        host, port = config.local
        self._via_host = f"[{host}]" if ":" in host else host
        self._local = f"{self._via_host}:{port}"

    def datagrams_to_send(self) -> list[Datagram]:
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].token:
            heapq.heappop(heap)  # superseded entry
        return heap[0][0] if heap else None

    @property
    def active_calls(self) -> int:
        return self._active

    def receive(self, data: bytes, source: Address, now: float) -> None:
        """Feed one datagram; bad input is counted, never raised."""
        try:
            kind, call_id, method = scan(data)
            if isinstance(kind, int):
                self._on_response(data, kind, call_id, method, now)
            else:
                self._on_request(data, kind, call_id, source, now)
        except SipsecError:
            self.stats.malformed += 1

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, token, call = heapq.heappop(heap)
            if token == call.token:
                self._on_timer(call, now)

    # -- for the subclasses ---------------------------------------------------------
    def _new_call(self, call_id: str) -> CallSlot:
        call = self._free.pop() if self._free else CallSlot()
        call.call_id = call_id
        self._calls[call_id] = call
        self._active += 1
        return call

    def _arm(self, call: CallSlot, deadline: float) -> None:
        self._tokens += 1
        call.token = self._tokens
        heapq.heappush(self._heap, (deadline, self._tokens, call))

    def _retransmit(self, call: CallSlot, now: float, cap: float | None) -> None:
        """Send ``pending`` again and double the interval (§17.1.1.2, §17.1.2.2)."""
        self._out.append((call.pending, call.peer))
        self.stats.retransmissions += 1
        call.interval = call.interval * 2 if cap is None else min(call.interval * 2, cap)
        self._arm(call, min(now + call.interval, call.expires))

    def _finish(self, call: CallSlot, now: float, failure: str | None) -> None:
        """The call is over: count it, keep it a while for late retransmissions."""
        if failure is None:
            self.stats.calls_succeeded += 1
        else:
            self.stats.fail(failure)
        self.stats.last_end = now
        self._active -= 1
        call.state = LINGER
        call.bye = b""
        self._arm(call, now + self.config.linger_time)

    def _free_call(self, call: CallSlot) -> None:
        del self._calls[call.call_id]
        call.reset()  # token 0: every heap entry of this slot is now stale
        self._free.append(call)

    def _on_request(
        self, data: bytes, method: str, call_id: str, source: Address, now: float
    ) -> None:
        self.stats.unexpected += 1

    def _on_response(self, data: bytes, status: int, call_id: str, method: str, now: float) -> None:
        self.stats.unexpected += 1

    def _on_timer(self, call: CallSlot, now: float) -> None:
        raise NotImplementedError


def scan(data: bytes) -> tuple[int | str, str, str]:
    """(status or method, Call-ID, CSeq method) without a full parse.

    SIPp's approach: most datagrams of a call (100, 180, the BYE's 200, ACK, a
    retransmission) only need matching to their call, so only the start line,
    Call-ID and CSeq are read; a message the engine acts on (the 2xx of the
    INVITE, a new INVITE, a BYE) is then parsed in full by ``parse_message``.
    Raises :class:`SipParseError` when those three cannot be read.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("no end of the header section")
    head = data[: end + 2]  # every header line ends in CRLF
    line_end = head.find(b"\r\n")
    first = head[:line_end]
    kind: int | str
    if first.startswith(b"SIP/2.0 "):
        code = first[8:11]
        if len(code) != 3 or not code.isdigit() or first[11:12] not in (b"", b" "):
            raise SipParseError("bad status line")
        kind = int(code)
    else:
        method, _, rest = first.partition(b" ")
        if not rest.endswith(b" SIP/2.0") or not method.isalpha():
            raise SipParseError("bad request line")
        kind = method.decode("ascii")
    low = head.lower()
    call_id = _value(head, low, b"\r\ncall-id:") or _value(head, low, b"\r\ni:")
    parts = _value(head, low, b"\r\ncseq:").split()
    cseq = parts[1] if len(parts) == 2 and parts[0].isdigit() else b""
    if not call_id or not cseq.isalpha():
        raise SipParseError("no Call-ID or CSeq")
    try:
        return kind, call_id.decode("ascii"), cseq.decode("ascii")
    except UnicodeDecodeError:
        raise SipParseError("Call-ID is not ASCII") from None


def _value(head: bytes, low: bytes, name: bytes) -> bytes:
    """The value of the first ``name`` header line (found in the lower-cased
    copy, read from the original), or b"" when there is none. A space before
    the colon is legal but no stack we drive sends it: such a line reads as
    absent and the datagram is counted malformed."""
    start = low.find(name)
    if start < 0:
        return b""
    start += len(name)
    return head[start : head.find(b"\r\n", start)].strip(b" \t")


def parse_as(data: bytes, kind: type[M]) -> M:
    """The full parse, for the messages the engine answers or reads headers of."""
    message = parse_message(data)
    if not isinstance(message, kind):  # pragma: no cover - scan saw the start line
        raise SipParseError("request/response mismatch")
    return message


def address_of(uri: SipUri, fallback: Address) -> Address:
    """Where an in-dialog request goes: the URI's IP and port (a load tool on
    loopback has no DNS; a name falls back to the configured next hop)."""
    try:
        ipaddress.ip_address(uri.host.strip("[]"))
    except ValueError:
        return fallback
    return (uri.host.strip("[]"), uri.port or 5060)
