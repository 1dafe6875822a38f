"""The UA core as the endpoint's transaction user, its events routed to asyncio queues.

:class:`SipEndpoint` drives a :class:`~sipsec.transaction.TransactionUser`;
the UA core answers with its own events (``Registered``, ``CallAnswered`` …)
from ``next_ua_event()``. :class:`UaPump` stands between the two: it
forwards every TU call to the :class:`~sipsec.ua.UserAgent` and, after each,
drains the UA's events into one queue per call (and one for registration),
so an ``async`` caller can ``await`` what concerns it without polling.

It also redacts keys from the ``-v`` trace: :func:`redact_keys` blanks the
octets of ``a=crypto`` and ``k=`` lines and summarises S/MIME bodies, so a
trace can be pasted into a bug report without leaking an SRTP master key.
"""

from __future__ import annotations

import asyncio
import re

from sipsec.sip import SipUri
from sipsec.transaction import Event, Peer, TransactionLayer
from sipsec.ua import Call, IncomingCall, UaEvent, UserAgent

__all__ = ["UaPump", "redact_keys"]


class UaPump:
    """A :class:`~sipsec.transaction.TransactionUser` wrapping a :class:`UserAgent`."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.registration: asyncio.Queue[UaEvent] = asyncio.Queue()
        self.incoming: asyncio.Queue[IncomingCall] = asyncio.Queue()
        self.events_seen = 0
        self._calls: dict[int, asyncio.Queue[UaEvent]] = {}

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

    def drain(self) -> None:
        """Move every pending UA event to the queue of whoever waits for it."""
        while (event := self.ua.next_ua_event()) is not None:
            self.events_seen += 1
            if isinstance(event, IncomingCall):
                self.follow(event.call)
                self.incoming.put_nowait(event)
                continue
            call = getattr(event, "call", None)
            if call is None:
                self.registration.put_nowait(event)
            else:
                queue = self._calls.get(id(call))
                if queue is not None:  # else: a call nobody follows any more
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
