"""Real SipTransports on 127.0.0.1 for the connection tests: a sink that
records what arrives, a factory that registers each transport for closing
(the ``made`` fixture in conftest.py), and a bounded wait for a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sipsec.sip import Request, Response
from sipsec.transaction import Peer
from sipsec.transport.sip import SipTransport


class Sink:
    def __init__(self) -> None:
        self.got: list[tuple[Request | Response, Peer]] = []

    def __call__(self, message: Request | Response, peer: Peer) -> None:
        self.got.append((message, peer))


def new_transport(made: list[SipTransport], sink: Sink | None = None, **kw: object) -> SipTransport:
    t = SipTransport(on_message=sink or Sink(), **kw)  # type: ignore[arg-type]
    made.append(t)
    return t


async def until(condition: Callable[[], object], rounds: int = 300) -> None:
    """Poll ``condition`` every 10 ms, at most ``rounds`` times (a bound, not a timing)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")
