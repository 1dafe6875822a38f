"""What a transaction user (UA core, proxy core) offers its asyncio driver.

The driver (``sipsec.transport.endpoint``) owns the transports, one
:class:`~sipsec.transaction.TransactionLayer` and one timer. It feeds the
layer's events to the TU, flushes what the layer wants sent after every call,
and resolves names the TU cannot (RFC 3263 DNS is I/O, so a sans-IO core asks
for it instead of doing it).
"""

from __future__ import annotations

from typing import Protocol

from sipsec.sip import SipUri

from .events import Event
from .layer import TransactionLayer
from .peer import Peer

__all__ = ["TransactionUser"]


class TransactionUser(Protocol):
    """The driver's view of a UA or proxy core. ``now`` is monotonic seconds."""

    @property
    def layer(self) -> TransactionLayer:
        """The transaction layer this TU sends through; the driver flushes it."""
        ...

    def handle_event(self, event: Event, now: float) -> None:
        """One event from :meth:`TransactionLayer.next_event`."""
        ...

    def get_timer(self) -> float | None:
        """The TU's own earliest deadline (refresh, timer C, …), or None."""
        ...

    def handle_timer(self, now: float) -> None:
        """Fire the TU's timers due at ``now``."""
        ...

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        """Names to resolve (RFC 3263), each with a token; drained by the call."""
        ...

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        """The answer for ``token``: peers in the order to try (empty: failed)."""
        ...
