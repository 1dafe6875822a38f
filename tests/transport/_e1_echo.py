"""A trivial transaction user for the endpoint tests: answers every request
with 200 (or a chosen status), records what it sees, sends OPTIONS."""

from __future__ import annotations

import asyncio
import itertools

from sipsec.sip import Request, Response, SipUri, generate_branch, make_response
from sipsec.transaction import (
    Event,
    Peer,
    RequestReceived,
    ResponseReceived,
    TimerConfig,
    TransactionLayer,
    TransactionTimedOut,
    TransportErrorOccurred,
)

_calls = itertools.count(1)


def options(
    via: Peer, *, target: str = "sip:bob@biloxi.example", size: int = 0, rport: bool = True
) -> Request:
    host = f"[{via.host}]" if ":" in via.host else via.host
    n = next(_calls)
    headers = [
        (
            "Via",
            f"SIP/2.0/{via.transport.upper()} {host}:{via.port};branch={generate_branch()}"
            + (";rport" if rport else ""),
        ),
        ("Max-Forwards", "70"),
        ("To", f"<{target}>"),
        ("From", "<sip:alice@atlanta.example>;tag=e1"),
        ("Call-ID", f"e1-{n}@test"),
        ("CSeq", f"{n} OPTIONS"),
    ]
    if size:
        headers.append(("X-Padding", "x" * size))
    return Request("OPTIONS", target, headers)


class EchoTU:
    def __init__(self, *, status: int = 200, timers: TimerConfig | None = None) -> None:
        self.layer = TransactionLayer(timers)
        self.status = status
        self.requests: list[tuple[Request, Peer]] = []
        self.responses: list[tuple[Response, Peer]] = []
        self.failures: list[Event] = []
        self.resolved: list[tuple[int, list[Peer]]] = []
        self._wanted: list[tuple[int, SipUri]] = []
        self._waiters: dict[int, asyncio.Future[Response | Event]] = {}
        self.timer_calls = 0
        self.explode = False

    # TransactionUser
    def handle_event(self, event: Event, now: float) -> None:
        if self.explode:
            raise RuntimeError("the TU blew up on purpose")
        if isinstance(event, RequestReceived) and event.transaction_id is not None:
            self.requests.append((event.request, event.source))
            if event.request.method != "ACK":
                response = make_response(event.request, self.status)
                self.layer.send_response(event.transaction_id, response, now)
        elif isinstance(event, ResponseReceived):
            self.responses.append((event.response, event.source))
            if event.response.status >= 200:
                self._settle(event.transaction_id, event.response)
        elif isinstance(event, TransactionTimedOut | TransportErrorOccurred):
            self.failures.append(event)
            self._settle(event.transaction_id, event)

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        self.timer_calls += 1

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        out, self._wanted = self._wanted, []
        return out

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        self.resolved.append((token, peers))

    # helpers
    def want(self, token: int, uri: SipUri) -> None:
        self._wanted.append((token, uri))

    def _settle(self, tid: int | None, result: Response | Event) -> None:
        waiter = self._waiters.pop(tid, None) if tid is not None else None
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    def send(self, request: Request, peer: Peer, now: float) -> asyncio.Future[Response | Event]:
        tid = self.layer.send_request(request, peer, now)
        future: asyncio.Future[Response | Event] = asyncio.get_running_loop().create_future()
        self._waiters[tid] = future
        return future
