"""The connection pool over real loopback sockets: the outgoing cap, idle and
handshake timeouts, reuse by id, by address and by RFC 5923 alias."""

from __future__ import annotations

import asyncio

import pytest

from sipsec.transaction import Peer
from sipsec.transport.connections import Limits
from sipsec.transport.errors import ConnectionLimitReached
from sipsec.transport.sip import SipTransport

from ._e1_echo import options
from ._e1_live import Sink, new_transport, until
from ._e1_pki import Pki


async def test_outgoing_connections_are_capped(made: list[SipTransport]) -> None:
    server = new_transport(made)
    a1 = await server.listen("tcp", "127.0.0.1")
    a2 = await server.listen("tcp", "127.0.0.1")
    client = new_transport(made, limits=Limits(max_connections=1))
    via = Peer("tcp", "127.0.0.1", 5060)
    await client.send(options(via), a1)
    with pytest.raises(ConnectionLimitReached, match="1 connections open"):
        await client.send(options(via), a2)


async def test_idle_connections_closed(made: list[SipTransport]) -> None:
    sink = Sink()
    server = new_transport(made, sink, limits=Limits(idle_timeout=0.05))
    address = await server.listen("tcp", "127.0.0.1")
    client = new_transport(made)
    await client.send(options(Peer("tcp", "127.0.0.1", 5060)), address)
    await until(lambda: server.stats["idle_closed"] == 1)
    await until(lambda: client.connection_count == 0 and server.connection_count == 0)


async def test_half_open_tls_closed_after_handshake_timeout(
    made: list[SipTransport], pki: Pki
) -> None:
    """A client that connects to a TLS port and says nothing is dropped."""
    server = new_transport(
        made, tls=pki.settings(pki.biloxi), limits=Limits(handshake_timeout=0.05)
    )
    address = await server.listen("tls", "127.0.0.1")
    reader, writer = await asyncio.open_connection("127.0.0.1", address.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the server hung up
    assert server.stats["handshake_timeouts"] == 1
    assert server.connection_count == 0
    writer.close()
    await writer.wait_closed()


async def test_client_handshake_timeout(made: list[SipTransport], pki: Pki) -> None:
    """A 'TLS server' that accepts and never answers: ConnectFailed, in time."""
    writers: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: writers.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    client = new_transport(made, tls=pki.settings(), limits=Limits(handshake_timeout=0.05))
    try:
        with pytest.raises(Exception, match="timed out") as info:
            await client.send(
                options(Peer("tls", "127.0.0.1", 5061)),
                Peer("tls", "127.0.0.1", port, "biloxi.example"),
            )
        assert type(info.value).__name__ == "ConnectFailed"
        assert client.stats["handshake_timeouts"] == 1
    finally:
        for writer in writers:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_alias_lets_requests_reuse_the_connection(made: list[SipTransport]) -> None:
    """RFC 5923: a Via with ;alias names a sent-by the connection serves."""
    sink = Sink()
    server = new_transport(made, sink)
    address = await server.listen("tcp", "127.0.0.1")
    client = new_transport(made)
    request = options(Peer("tcp", "127.0.0.1", 5999))
    request.headers.set("Via", str(request.top_via) + ";alias")
    await client.send(request, address)
    await until(lambda: bool(sink.got))
    # The server sends a request to 127.0.0.1:5999 (nobody listens there): it
    # goes over the client's connection instead of a new one.
    used = await server.send(options(address), Peer("tcp", "127.0.0.1", 5999))
    assert used.port != 5999
    assert server.stats.get("tcp_connections_opened", 0) == 0
    assert server.stats["connections_reused"] == 1


async def test_send_to_a_closed_connection_id_opens_a_new_one(made: list[SipTransport]) -> None:
    sink = Sink()
    server = new_transport(made, sink)
    address = await server.listen("tcp", "127.0.0.1")
    client = new_transport(made)
    first = await client.send(options(Peer("tcp", "127.0.0.1", 5060)), address)
    conn = client.connection(first.connection_id or 0)
    assert conn is not None
    conn.close()
    await until(lambda: client.connection_count == 0)
    second = await client.send(options(Peer("tcp", "127.0.0.1", 5060)), first)
    assert second.connection_id != first.connection_id
    assert client.stats["tcp_connections_opened"] == 2
