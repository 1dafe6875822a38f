"""Two transaction layers pumped in memory with a fake clock (aioquic's
``tests/test_connection.py`` shape): what one side sends is serialized,
parsed again and fed to the other, or dropped, or duplicated, by the test."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sipsec.sip import Request, Response, generate_branch, parse_message
from sipsec.transaction import Event, TimerConfig, TransactionLayer

ALICE = ("192.0.2.1", 5060)
BOB = ("192.0.2.2", 5060)


def make_request(
    method: str = "INVITE",
    *,
    branch: str | None = None,
    transport: str = "UDP",
    cseq: int = 1,
    to_tag: str | None = None,
    routes: tuple[str, ...] = (),
) -> Request:
    """A request as Alice's UA sends it (RFC 3261 §24.2 F1 shape)."""
    headers = [
        ("Via", f"SIP/2.0/{transport} pc33.atlanta.example;branch={branch or generate_branch()}"),
        *[("Route", route) for route in routes],
        ("Max-Forwards", "70"),
        ("To", "Bob <sip:bob@biloxi.example>" + (f";tag={to_tag}" if to_tag else "")),
        ("From", "Alice <sip:alice@atlanta.example>;tag=1928301774"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.example"),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", "<sip:alice@pc33.atlanta.example>"),
        ("Content-Length", "0"),
    ]
    return Request(method, "sip:bob@biloxi.example", headers)


def line(message: Request | Response) -> str:
    """``INVITE`` or ``486`` or ``ACK``: enough to assert what went out."""
    return message.method if isinstance(message, Request) else str(message.status)


@dataclass
class Pair:
    """Alice (client side) and Bob (server side) on a fake clock."""

    config: TimerConfig = field(default_factory=TimerConfig)
    now: float = 0.0
    client: TransactionLayer = field(init=False)
    server: TransactionLayer = field(init=False)
    # What each side put on the wire: (time, "client"|"server", line).
    wire: list[tuple[float, str, str]] = field(default_factory=list)
    drop: set[str] = field(default_factory=set)  # sides whose output is lost
    duplicate: set[str] = field(default_factory=set)  # sides whose output arrives twice

    def __post_init__(self) -> None:
        self.client = TransactionLayer(self.config)
        self.server = TransactionLayer(self.config)

    def layer(self, side: str) -> TransactionLayer:
        return self.client if side == "client" else self.server

    def flush(self, side: str) -> list[Request | Response]:
        """Carry what ``side`` has to send over the wire (bytes both ways)."""
        layer, other = (
            (self.client, self.server) if side == "client" else (self.server, self.client)
        )
        source = ALICE if side == "client" else BOB
        sent = []
        for item in layer.messages_to_send():
            sent.append(item.message)
            self.wire.append((self.now, side, line(item.message)))
            if side in self.drop:
                continue
            for _ in range(2 if side in self.duplicate else 1):
                other.receive(parse_message(bytes(item.message)), source, self.now)
        return sent

    def pump(self) -> None:
        """Flush both ways until nothing is left to send."""
        while True:
            if not (self.flush("client") or self.flush("server")):
                return

    def events(self, side: str) -> list[Event]:
        layer = self.layer(side)
        found = []
        while (event := layer.next_event()) is not None:
            found.append(event)
        return found

    def next_timer(self) -> float | None:
        timers = [t for t in (self.client.get_timer(), self.server.get_timer()) if t is not None]
        return min(timers) if timers else None

    def advance(self, until: float) -> None:
        """Fire every timer due up to ``until``, each at its exact deadline."""
        while (deadline := self.next_timer()) is not None and deadline <= until:
            self.now = deadline
            self.client.handle_timer(deadline)
            self.server.handle_timer(deadline)
            self.pump()
        self.now = max(self.now, until)

    def sent_by(self, side: str, what: str) -> list[float]:
        """The times ``side`` put ``what`` on the wire."""
        return [t for t, s, w in self.wire if s == side and w == what]


@pytest.fixture
def pair() -> Pair:
    return Pair()


class Kit:
    """The helpers above, for test modules (``--import-mode=importlib``
    keeps them from importing this file); session-scoped so Hypothesis
    tests may use it."""

    make_request = staticmethod(make_request)
    line = staticmethod(line)
    Pair = Pair
    ALICE = ALICE
    BOB = BOB


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit
