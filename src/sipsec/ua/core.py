"""The UA core (RFC 3261 §8, §10, §12–§15): a :class:`TransactionUser`
that registers, places and answers calls, sans-IO.

Driven like every sipsec core: the application calls the API methods with
``now``; the driver feeds transaction-layer events to :meth:`handle_event`,
fires :meth:`handle_timer` at :meth:`get_timer`, resolves what
:meth:`resolutions_needed` lists, and the application reads
:meth:`next_ua_event`.
"""

from __future__ import annotations

from sipsec.transaction import (
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)

from .uas import UasMixin

__all__ = ["UserAgent"]


class UserAgent(UasMixin):
    """A SIP user agent core: ``UserAgent(config, layer=None, *, rng=None)``."""

    def handle_event(self, event: Event, now: float) -> None:
        """One event from the transaction layer."""
        if isinstance(event, RequestReceived):
            if event.request.method == "ACK":
                self._on_ack(event.request, now)
            elif event.transaction_id is not None:
                self._on_request(event.transaction_id, event.request, event.source, now)
        elif isinstance(event, CancelReceived):
            assert event.transaction_id is not None
            self._on_cancel(event.transaction_id, event.request, event.invite_transaction_id, now)
        elif isinstance(event, ResponseReceived):
            if event.transaction_id is None:
                if 200 <= event.response.status < 300:
                    self._stray_2xx(event.response)
                return
            pending = self._clients.get(event.transaction_id)
            if pending is not None:
                self._on_response(pending, event.response, now)
        elif isinstance(event, TransactionTimedOut):
            self._failed(event.transaction_id, 408, "request timed out", now)
        elif isinstance(event, TransportErrorOccurred):
            self._failed(event.transaction_id, 503, event.reason, now)
        elif isinstance(event, TransactionTerminated):
            assert event.transaction_id is not None
            self._clients.pop(event.transaction_id, None)
            self._server_transaction_ended(event.transaction_id)

    def _failed(self, transaction_id: int, status: int, reason: str, now: float) -> None:
        pending = self._clients.get(transaction_id)
        if pending is not None:
            self._request_failed(pending, status, reason, now)
