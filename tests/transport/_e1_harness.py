"""A SipTransport with a fake UDP socket and fake stream connections, so
the receive paths can be fed bytes directly (no sockets), and the loop
they run on."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

from sipsec.sip import Request, Response
from sipsec.transaction import Peer
from sipsec.transport.connections import Limits, StreamConnection
from sipsec.transport.sip import SipTransport, _Datagrams

from ._e1_fakes import FakeDatagrams, FakeStream

SOURCE = ("192.0.2.7", 40000)
LOCAL = ("127.0.0.1", 5060)

INVITE = (
    b"INVITE sip:bob@biloxi.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example>\r\n"
    b"From: Alice <sip:alice@atlanta.example>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class Harness:
    """A SipTransport with a fake UDP socket and fake stream connections."""

    def __init__(self) -> None:
        self.got: list[tuple[Request | Response, Peer]] = []
        self.transport = SipTransport(on_message=lambda m, p: self.got.append((m, p)))
        self.sock = _Datagrams(self.transport)
        self.fake = FakeDatagrams(LOCAL)
        self.sock.connection_made(self.fake)

    def datagram(self, data: bytes) -> None:
        self.transport.datagram_received(self.sock, data, SOURCE)

    def stream(self, *, tls: bool = False) -> tuple[StreamConnection, FakeStream]:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no certificate: fails politely
        conn = StreamConnection(
            self.transport,
            "tls" if tls else "tcp",
            limits=Limits(max_message_size=4096),
            tls_context=context,
            server_side=True,
        )
        fake = FakeStream(LOCAL, SOURCE)
        conn.connection_made(fake)
        return conn, fake


def private_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of its own for sync (Hypothesis) tests; use in a module fixture."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _run(loop: asyncio.AbstractEventLoop, fn: object) -> object:
    async def call() -> object:
        return fn()  # type: ignore[operator]

    return loop.run_until_complete(call())
