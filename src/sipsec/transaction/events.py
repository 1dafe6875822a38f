"""What the transaction layer tells its user (the TU: UA core, dialogs, proxy).

Past-participle dataclasses, as aioquic's events are. ``transaction_id`` is
the number :meth:`TransactionLayer.send_request` returned, or the one a
:class:`RequestReceived` introduced; it is ``None`` for a message that
matched no transaction (an ACK for a 2xx, a 2xx retransmitted after Timer M)
— §17.1.1.2 and §17.2.3 send those straight to the TU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sipsec.sip import Request, Response

from .timers import Timer

__all__ = [
    "CancelReceived",
    "Event",
    "NetworkAddress",
    "RequestReceived",
    "ResponseReceived",
    "TransactionTerminated",
    "TransactionTimedOut",
    "TransportErrorOccurred",
]

#: Whatever the transport uses to name a peer (``(host, port)``, a
#: connection…); the transaction layer only hands it back, like aioquic's.
NetworkAddress = Any


@dataclass(slots=True)
class Event:
    transaction_id: int | None


@dataclass(slots=True)
class RequestReceived(Event):
    """A new request (its server transaction is ``transaction_id``), or an
    ACK: for a 2xx outside any transaction (``None``), or absorbed by an INVITE
    server transaction in Accepted (RFC 6026 §8.7)."""

    request: Request
    source: NetworkAddress


@dataclass(slots=True)
class CancelReceived(Event):
    """A CANCEL (its own server transaction is ``transaction_id``) and the
    INVITE server transaction it matched (§9.2), or ``None``: answer 481."""

    request: Request
    source: NetworkAddress
    invite_transaction_id: int | None


@dataclass(slots=True)
class ResponseReceived(Event):
    """A response for a client transaction, or a stray one (``None``)."""

    response: Response
    source: NetworkAddress


@dataclass(slots=True)
class TransactionTimedOut(Event):
    """Timer B, F or H fired: the TU treats it as a 408 (§8.1.3.1)."""

    transaction_id: int
    timer: Timer


@dataclass(slots=True)
class TransportErrorOccurred(Event):
    """The transport could not send for this transaction (§17.1.4, §17.2.4);
    a client TU treats it as a 503 (§8.1.3.1)."""

    transaction_id: int
    reason: str


@dataclass(slots=True)
class TransactionTerminated(Event):
    """The transaction reached Terminated and was forgotten."""

    transaction_id: int
