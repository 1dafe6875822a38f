"""The UA core as the endpoint's transaction user, its events routed to asyncio queues.

:class:`SipEndpoint` drives a :class:`~sipsec.transaction.TransactionUser`;
the UA core answers with its own events (``Registered``, ``CallAnswered`` …)
from ``next_ua_event()``. :class:`UaPump` stands between the two: it
forwards every TU call to the :class:`~sipsec.ua.UserAgent` and, after each,
drains the UA's events to whoever asked: one queue per call, one future per
OPTIONS (by its Call-ID), one queue for registration, so an ``async`` caller
can ``await`` what concerns it without polling, and never gets what
concerns somebody else.

It also redacts keys from the ``-v`` trace: :func:`redact_keys` blanks the
octets of ``a=crypto`` and ``k=`` lines and summarises S/MIME bodies, so a
trace can be pasted into a bug report without leaking an SRTP master key.
"""

from __future__ import annotations

import asyncio
import re

from sipsec.sip import SipUri
from sipsec.transaction import Event, Peer, TransactionLayer
from sipsec.ua import AuthenticationFailed, Call, IncomingCall, OptionsAnswered, UaEvent, UserAgent

__all__ = ["UaPump", "redact_keys"]


class UaPump:
    """A :class:`~sipsec.transaction.TransactionUser` wrapping a :class:`UserAgent`."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.registration: asyncio.Queue[UaEvent] = asyncio.Queue()
        self.incoming: asyncio.Queue[IncomingCall] = asyncio.Queue()
        self.events_seen = 0
        self.unclaimed = 0  # OPTIONS answers nobody waited for (any more)
        self._calls: dict[int, asyncio.Queue[UaEvent]] = {}
        self._options: dict[str, asyncio.Future[OptionsAnswered]] = {}

    # -- the TransactionUser protocol, forwarded -------------------------------------
    @property
    def layer(self) -> TransactionLayer:
        return self.ua.layer

    def handle_event(self, event: Event, now: float) -> None:
        try:
            self.ua.handle_event(event, now)
        finally:
            self.drain()

    def get_timer(self) -> float | None:
        return self.ua.get_timer()

    def handle_timer(self, now: float) -> None:
        try:
            self.ua.handle_timer(now)
        finally:
            self.drain()

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        return self.ua.resolutions_needed()

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        try:
            self.ua.handle_resolution(token, peers, now)
        finally:
            self.drain()

    # -- routing ---------------------------------------------------------------------
    def follow(self, call: Call) -> asyncio.Queue[UaEvent]:
        """The queue of ``call``'s events (made on first use)."""
        return self._calls.setdefault(id(call), asyncio.Queue())

    def forget(self, call: Call) -> None:
        self._calls.pop(id(call), None)

    def expect_options(self, call_id: str) -> asyncio.Future[OptionsAnswered]:
        """The future of the answer to the OPTIONS ``UserAgent.options``
        sent with ``call_id``. Ask before the next :meth:`drain`."""
        future = self._options.get(call_id)
        if future is None:
            future = self._options[call_id] = asyncio.get_running_loop().create_future()
        return future

    def forget_options(self, call_id: str) -> None:
        future = self._options.pop(call_id, None)
        if future is not None and not future.done():
            future.cancel()

    def drain(self) -> None:
        """Move every pending UA event to whoever waits for it.

        An :class:`AuthenticationFailed` names no request: it belongs to the
        event the UA core reports with it, right after it, for the same
        response — a ``RegistrationFailed``, a call's ``CallFailed`` or
        ``ReinviteFailed``, an ``OptionsAnswered`` (whose 401/407 says the
        same). So it is held for one event and goes where that one goes;
        an OPTIONS's, or a call's, never reaches a registration waiter."""
        held: AuthenticationFailed | None = None
        while (event := self.ua.next_ua_event()) is not None:
            self.events_seen += 1
            if isinstance(event, AuthenticationFailed):
                if held is not None:
                    self._route(held, None)
                held = event
                continue
            self._route(event, held)
            held = None
        if held is not None:
            self._route(held, None)

    def _route(self, event: UaEvent, auth: AuthenticationFailed | None) -> None:
        if isinstance(event, IncomingCall):
            self.follow(event.call)
            self.incoming.put_nowait(event)
            return
        if isinstance(event, OptionsAnswered):
            future = self._options.pop(event.call_id, None)
            if future is None or future.done():
                self.unclaimed += 1
            else:
                future.set_result(event)
            return
        call = getattr(event, "call", None)
        if call is None:
            queue: asyncio.Queue[UaEvent] | None = self.registration
        else:
            queue = self._calls.get(id(call))  # None: a call nobody follows any more
        if queue is None:
            return
        if auth is not None:
            queue.put_nowait(auth)
        queue.put_nowait(event)


_CRYPTO = re.compile(rb"(a=crypto:\S+\s+\S+\s+)(\S+)")
_KEY = re.compile(rb"(?m)^(k=[a-z0-9]+:)[^\r\n]*")
_BINARY_TYPES = (b"multipart/signed", b"application/pkcs7-mime", b"application/x-pkcs7-mime")


def redact_keys(message: bytes) -> bytes:
    """``message`` with SRTP keys blanked and an S/MIME body summarised."""
    head, sep, body = message.partition(b"\r\n\r\n")
    lowered = head.lower()
    if body and any(t in lowered for t in _BINARY_TYPES):
        return head + sep + b"[S/MIME body, %d octets]\r\n" % len(body)
    body = _CRYPTO.sub(rb"\1<key redacted>", body)
    body = _KEY.sub(rb"\1<key redacted>", body)
    return head + sep + body
