"""What the UA core tells its application (past-participle dataclasses).

Every :class:`~sipsec.ua.call.Call` ends with exactly one
:class:`CallFailed` (never established: rejected, cancelled, timed out,
authentication refused) or :class:`CallEnded` (established, then hung up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sipsec.sip import Request, Response

if TYPE_CHECKING:
    from .call import Call

__all__ = [
    "AuthenticationFailed",
    "CallAnswered",
    "CallConfirmed",
    "CallEnded",
    "CallFailed",
    "CallRinging",
    "IncomingCall",
    "OptionsAnswered",
    "Registered",
    "RegistrationFailed",
    "ReinviteAnswered",
    "ReinviteFailed",
    "ReinviteReceived",
    "UaEvent",
    "Unregistered",
]


@dataclass(slots=True)
class UaEvent:
    """Base of every UA event."""


@dataclass(slots=True)
class Registered(UaEvent):
    """The registrar answered 200: every binding it listed, and how long
    ours lasts (§10.2.4)."""

    bindings: list[str]
    expires: int


@dataclass(slots=True)
class RegistrationFailed(UaEvent):
    status: int
    reason: str


@dataclass(slots=True)
class Unregistered(UaEvent):
    """Our binding was removed (Expires: 0 answered 200)."""


@dataclass(slots=True)
class IncomingCall(UaEvent):
    call: Call
    request: Request


@dataclass(slots=True)
class CallRinging(UaEvent):
    """A provisional response above 100 to our INVITE."""

    call: Call
    response: Response


@dataclass(slots=True)
class CallAnswered(UaEvent):
    """The 2xx to our INVITE; its ACK has been sent already."""

    call: Call
    response: Response


@dataclass(slots=True)
class CallConfirmed(UaEvent):
    """The caller's ACK for our 2xx arrived (§13.3.1.4)."""

    call: Call
    ack: Request


@dataclass(slots=True)
class CallFailed(UaEvent):
    """The call was never established; ``status`` is the final response
    (408 for a timeout, 503 for a transport failure, 487 when cancelled)."""

    call: Call
    status: int
    reason: str


@dataclass(slots=True)
class CallEnded(UaEvent):
    """An established call is over; ``by_remote`` when the peer sent BYE."""

    call: Call
    by_remote: bool
    reason: str


@dataclass(slots=True)
class ReinviteReceived(UaEvent):
    """A re-INVITE (§14.2); answer it with ``UserAgent.answer``."""

    call: Call
    request: Request


@dataclass(slots=True)
class ReinviteAnswered(UaEvent):
    """The 2xx to our re-INVITE (ACK sent)."""

    call: Call
    response: Response


@dataclass(slots=True)
class ReinviteFailed(UaEvent):
    """Our re-INVITE got a non-2xx; the session is unchanged (§14.1)."""

    call: Call
    status: int
    reason: str


@dataclass(slots=True)
class OptionsAnswered(UaEvent):
    """The final answer to our OPTIONS (§11): ``call_id`` is what
    ``UserAgent.options`` returned; ``status`` is the final response's, or
    408 / 503 / 416 when none came (timeout, transport, bad next hop), with
    ``response`` None. ``allow``, ``accept`` and ``supported`` list what
    the response's headers of those names said (empty when absent)."""

    call_id: str
    target: str
    status: int
    reason: str
    allow: list[str]
    accept: list[str]
    supported: list[str]
    response: Response | None


@dataclass(slots=True)
class AuthenticationFailed(UaEvent):
    """A 401/407 we could not (or could no longer) answer (§22.2)."""

    status: int
    realm: str | None
