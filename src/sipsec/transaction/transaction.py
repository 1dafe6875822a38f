"""One transaction: which figure it follows, where it is in it, what it
resends, and its running timers. The layer drives it through the tables."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sipsec.sip import Request, Response

from .events import NetworkAddress
from .tables import Kind, State
from .timers import Timer

__all__ = ["Outgoing", "Transaction"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message for the transport: where to, and for which transaction (so
    a failure can be reported back with ``handle_transport_error``; ``None``
    for messages sent outside any transaction)."""

    message: Request | Response
    destination: NetworkAddress
    transaction_id: int | None


class Transaction:
    """The state of one client or server transaction (§17.1, §17.2)."""

    __slots__ = (
        "ack",
        "aliases",
        "cancel_id",
        "deadlines",
        "id",
        "intervals",
        "key",
        "kind",
        "last_response",
        "peer",
        "reliable",
        "request",
        "state",
    )

    def __init__(
        self,
        transaction_id: int,
        *,
        kind: Kind,
        request: Request,
        peer: NetworkAddress,
        reliable: bool,
        key: Hashable,
    ) -> None:
        self.id = transaction_id
        self.kind = kind
        self.state = State.INIT
        self.request = request
        self.peer = peer  # client: the destination; server: where the request came from
        self.reliable = reliable
        self.key = key
        self.aliases: list[Hashable] = []  # RFC 2543 keys with our To tag
        self.last_response: Response | None = None  # server: the one to resend
        self.ack: Request | None = None  # INVITE client: the ACK for a non-2xx
        self.cancel_id: int | None = None  # INVITE client: its CANCEL, once asked for
        # Running timers: when each fires, and the interval it was started
        # with (the retransmit timers back off from it).
        self.deadlines: dict[Timer, float] = {}
        self.intervals: dict[Timer, float] = {}

    @property
    def is_client(self) -> bool:
        return self.kind is Kind.INVITE_CLIENT or self.kind is Kind.NON_INVITE_CLIENT

    def __repr__(self) -> str:
        return f"<Transaction {self.id} {self.kind.name} {self.request.method} {self.state.value}>"
