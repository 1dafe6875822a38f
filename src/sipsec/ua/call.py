"""One call (an INVITE session) as the UA core tracks it.

A :class:`Call` is what the application holds: the INVITE, the dialog it
made, what the peer sent as body, and where the session stands. The UA core
changes it; the application reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sipsec.dialog import Dialog, DialogId, DialogSet
from sipsec.sip import Request, Response
from sipsec.transaction import Peer

__all__ = ["Call", "CallState"]


class CallState(enum.Enum):
    __hash__ = object.__hash__

    CALLING = "calling"  # our INVITE sent, nothing above 100 yet
    INCOMING = "incoming"  # an INVITE for us, not answered yet
    RINGING = "ringing"  # 1xx sent or received
    ANSWERED = "answered"  # we sent the 2xx and await the ACK (§13.3.1.4)
    ESTABLISHED = "established"  # 2xx and ACK done
    TERMINATING = "terminating"  # our BYE is in flight
    ENDED = "ended"  # established, then hung up
    FAILED = "failed"  # never established


@dataclass(slots=True)
class _Answer:
    """A 2xx we retransmit until its ACK comes (§13.3.1.4)."""

    response: Response
    transaction_id: int
    source: Peer
    cseq: int
    interval: float
    next_at: float
    give_up_at: float


@dataclass(slots=True)
class _IncomingReinvite:
    transaction_id: int
    request: Request
    # §14.2: a re-INVITE that fails leaves the session as it was, so the
    # peer's description in force before it is put back.
    previous_body: bytes = b""
    previous_content_type: str | None = None

    def restore(self, call: Call) -> None:
        call.remote_body = self.previous_body
        call.remote_content_type = self.previous_content_type


@dataclass(slots=True)
class _Reinvite:
    """What our re-INVITE carries, kept for the §14.1 retry after a 491."""

    body: bytes
    content_type: str | None
    transaction_id: int | None = None


@dataclass(eq=False)
class Call:
    """An INVITE session, outgoing (``incoming`` False) or incoming."""

    call_id: str
    local_tag: str
    request: Request
    incoming: bool
    state: CallState
    dialog: Dialog | None = None
    remote_body: bytes = b""
    remote_content_type: str | None = None
    auth_failures: int = 0
    final_status: int | None = None
    reason: str = ""
    # UAC side
    dialog_set: DialogSet | None = None
    invite_transaction_id: int | None = None
    cancelled: bool = False
    ack: Request | None = field(default=None, repr=False)
    ack_peer: Peer | None = field(default=None, repr=False)
    # UAS side
    source: Peer | None = None
    answer_pending: _Answer | None = field(default=None, repr=False)
    incoming_reinvite: _IncomingReinvite | None = field(default=None, repr=False)
    outgoing_reinvite: _Reinvite | None = field(default=None, repr=False)
    hangup_requested: bool = False  # bye() before the ACK came (§15)
    # What the core indexed for this call, to forget it in O(1) at the end.
    dialog_ids: list[DialogId] = field(default_factory=list, repr=False)
    ack_keys: list[tuple[DialogId, int]] = field(default_factory=list, repr=False)

    @property
    def remote_tag(self) -> str | None:
        return None if self.dialog is None else self.dialog.remote_tag

    @property
    def is_active(self) -> bool:
        """Not yet ended or failed."""
        return self.state not in (CallState.ENDED, CallState.FAILED)

    def take_body(self, message: Request | Response) -> None:
        """Keep the peer's session description (offer or answer)."""
        if message.body:
            self.remote_body = message.body
            content_type = message.headers.get("Content-Type")
            self.remote_content_type = content_type

    def __repr__(self) -> str:
        side = "in" if self.incoming else "out"
        return f"<Call {side} {self.call_id} {self.state.value}>"
