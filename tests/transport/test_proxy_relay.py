"""run_proxy with the fast relay on loopback UDP: raw sockets play the user
agents, so every byte is ours to choose; the relay takes the call, the full
path's transaction layer never sees its messages, and the full path keeps
what is its own (a challenged INVITE's ACK and CANCEL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sipsec.proxy import ContactUpdate, ProxyConfig, RegisterUpdate
from sipsec.proxy.relay import PREFIX
from sipsec.sip import Request, Response, make_response, parse_message
from sipsec.transport.proxy_app import ProxyServer
from sipsec.transport.sip import SipTransport

from ._proxy_helpers import ATLANTA, Closing, start_proxy

WAIT = 5.0  # seconds a scripted peer waits for a datagram before the test fails


class Peer(asyncio.DatagramProtocol):
    """A raw UDP socket on 127.0.0.1 and a queue of what it received."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.queue.put_nowait(data)

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    async def next(self) -> Request | Response:
        return parse_message(await asyncio.wait_for(self.queue.get(), WAIT))

    async def nothing(self, seconds: float = 0.3) -> None:
        """Nothing arrives for a while (a bounded wait, not a timing assertion)."""
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.queue.get(), seconds)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@pytest.fixture
async def closing() -> AsyncIterator[Closing]:
    items: Closing = []
    yield items
    for item in reversed(items):
        await item.close()


@pytest.fixture
async def peers() -> AsyncIterator[tuple[Peer, Peer]]:
    loop = asyncio.get_running_loop()
    made = []
    for _ in range(2):
        _, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
        made.append(peer)
    yield made[0], made[1]
    for peer in made:
        peer.close()


def _request(method: str, uri: str, branch: str, port: int, **kw: str) -> bytes:
    to = "<sip:bob@atlanta.example>" + (f";tag={kw['to_tag']}" if "to_tag" in kw else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport",
        "Max-Forwards: 70",
        "From: <sip:alice@atlanta.example>;tag=atag",
        f"To: {to}",
        f"Call-ID: {kw.get('call_id', 'relay-call')}",
        f"CSeq: {kw.get('cseq', '1')} {method}",
        *([f"Route: {kw['route']}"] if "route" in kw else []),
        f"Contact: <sip:alice@127.0.0.1:{port}>",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(request: Request | Response, status: int) -> bytes:
    assert isinstance(request, Request)
    response = make_response(request, status, to_tag="btag")
    for value in request.headers.get_all("record-route"):
        response.headers.add("Record-Route", value)
    return bytes(response)


async def _proxy(closing: Closing, bob: Peer, **config: object) -> ProxyServer:
    server = await start_proxy(closing, ProxyConfig(ATLANTA, authenticate_invites=False, **config))  # type: ignore[arg-type]
    update = RegisterUpdate("reg", 1, (ContactUpdate(f"sip:bob@127.0.0.1:{bob.port}", 3600),))
    now = server.core.wall(asyncio.get_running_loop().time())
    server.core.location.register("sip:bob@atlanta.example", update, now)
    return server


async def test_a_call_goes_through_the_relay_and_never_the_full_path(
    closing: Closing, peers: tuple[Peer, Peer]
) -> None:
    alice, bob = peers
    server = await _proxy(closing, bob)
    port = server.addresses[0].port
    assert server.relay is not None
    alice.send(_request("INVITE", "sip:bob@atlanta.example", "z9hG4bKi1", alice.port), port)
    trying = await alice.next()
    assert isinstance(trying, Response) and trying.status == 100
    invite = await bob.next()
    assert isinstance(invite, Request) and invite.method == "INVITE"
    top = invite.top_via
    assert top is not None and top.branch is not None and top.branch.encode().startswith(PREFIX)
    assert invite.headers.get_all("record-route") == [f"<sip:127.0.0.1:{port};lr>"]
    assert invite.max_forwards == 69 and str(invite.uri) == f"sip:bob@127.0.0.1:{bob.port}"
    bob.send(_answer(invite, 180), port)
    bob.send(_answer(invite, 200), port)
    assert [(await alice.next()).status for _ in range(2)] == [180, 200]  # type: ignore[union-attr]
    route = f"<sip:127.0.0.1:{port};lr>"
    bob_uri = f"sip:bob@127.0.0.1:{bob.port}"
    alice.send(_request("ACK", bob_uri, "z9hG4bKa1", alice.port, to_tag="btag", route=route), port)
    ack = await bob.next()
    assert isinstance(ack, Request) and ack.method == "ACK" and "route" not in ack.headers
    alice.send(
        _request("BYE", bob_uri, "z9hG4bKb1", alice.port, to_tag="btag", route=route, cseq="2"),
        port,
    )
    bye = await bob.next()
    bob.send(_answer(bye, 200), port)
    assert (await alice.next()).status == 200  # type: ignore[union-attr]
    stats = server.stats
    assert stats["relay_requests"] == 2 and stats["relay_acks"] == 1
    assert len(server.core.layer) == 0  # the full path's layer never saw a message of the call
    assert [(r.method, r.status) for r in server.core.log] == [("INVITE", 200), ("BYE", 200)]


async def test_the_full_path_keeps_the_ack_and_cancel_of_its_own_transactions(
    closing: Closing, peers: tuple[Peer, Peer]
) -> None:
    """A request the relay declines (here: a Require it will not judge) is the
    full path's; so is the ACK of its non-2xx and a retransmission of it, even
    though the relay could forward an ACK of that shape."""
    alice, bob = peers
    server = await _proxy(closing, bob)
    port = server.addresses[0].port
    invite = _request("INVITE", "sip:bob@atlanta.example", "z9hG4bKf1", alice.port)
    invite = invite.replace(b"Content-Length: 0", b"Require: foo\r\nContent-Length: 0")
    alice.send(invite, port)
    assert (await alice.next()).status == 100  # type: ignore[union-attr]
    forwarded = await bob.next()
    top = forwarded.top_via
    assert top is not None and not str(top.branch).encode().startswith(PREFIX)
    alice.send(invite, port)  # the full path's retransmission: its 100 again
    assert (await alice.next()).status == 100  # type: ignore[union-attr]
    alice.send(_request("CANCEL", "sip:bob@atlanta.example", "z9hG4bKf1", alice.port), port)
    assert (await alice.next()).status == 200  # type: ignore[union-attr]
    bob.send(_answer(forwarded, 486), port)
    ours = await bob.next()  # §17.1.1.3; the CANCEL never went: no 1xx came first (§9.1)
    assert isinstance(ours, Request) and ours.method == "ACK"
    busy = await alice.next()
    assert isinstance(busy, Response) and busy.status == 486
    ack = _request("ACK", "sip:bob@atlanta.example", "z9hG4bKf1", alice.port, to_tag="btag")
    alice.send(ack, port)
    await bob.nothing()  # the non-2xx ACK was absorbed by the full path, not forwarded
    stats = server.stats
    assert stats.get("relay_requests", 0) == 0 and stats.get("relay_acks", 0) == 0


async def test_fast_relay_off_leaves_the_transport_as_it_was(
    closing: Closing, peers: tuple[Peer, Peer]
) -> None:
    alice, bob = peers
    server = await _proxy(closing, bob, fast_relay=False)
    assert server.relay is None and server.endpoint.transport.on_datagram is None
    port = server.addresses[0].port
    alice.send(_request("OPTIONS", "sip:bob@atlanta.example", "z9hG4bKo1", alice.port), port)
    options = await bob.next()
    top = options.top_via
    assert top is not None and not str(top.branch).encode().startswith(PREFIX)
    bob.send(_answer(options, 200), port)
    assert (await alice.next()).status == 200  # type: ignore[union-attr]


async def test_a_hook_that_declines_or_fails_leaves_the_datagram_to_the_parser() -> None:
    received: list[Request | Response] = []
    transport = SipTransport(on_message=lambda m, p: received.append(m))
    calls: list[bytes] = []

    def hook(data: bytes, source: tuple[str, int]) -> bool:
        calls.append(data)
        if b"fail" in data:
            raise RuntimeError("boom")
        return b"take" in data

    transport.on_datagram = hook
    listener = await transport.listen("udp", "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        for word in ("take", "keep", "fail"):
            data = _request("OPTIONS", f"sip:{word}@atlanta.example", f"z9hG4bK{word}", 1)
            sender.sendto(data, listener.address)
        for _ in range(200):
            if len(calls) == 3 and len(received) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(calls) == 3
        assert sorted(str(m.uri) for m in received if isinstance(m, Request)) == [
            "sip:fail@atlanta.example",
            "sip:keep@atlanta.example",
        ]
        assert transport.stats["callback_errors"] == 1
    finally:
        sender.close()
        await transport.close()
