"""Trace and wire records: exact bytes, observers that fail are counted."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from sipsec.transaction import Peer
from sipsec.transport.sip import SipTransport
from sipsec.transport.trace import TraceRecord, WireRecord, emit

from ._e1_echo import options
from ._e1_pki import Pki


def test_emit_counts_failures(caplog: pytest.LogCaptureFixture) -> None:
    stats: Counter[str] = Counter()
    record = WireRecord(0.0, "in", "udp", ("127.0.0.1", 1), ("127.0.0.1", 2), b"x")
    seen: list[WireRecord] = []
    emit(seen.append, record, stats)
    emit(None, record, stats)
    assert seen == [record]

    def broken(_: WireRecord) -> None:
        raise ValueError("printer on fire")

    caplog.set_level(logging.CRITICAL, logger="sipsec.transport")
    emit(broken, record, stats)
    assert stats["callback_errors"] == 1


async def _exchange(
    pki: Pki, transport: str
) -> tuple[list[WireRecord], list[WireRecord], list[TraceRecord], list[TraceRecord]]:
    client_wire: list[WireRecord] = []
    server_wire: list[WireRecord] = []
    client_trace: list[TraceRecord] = []
    server_trace: list[TraceRecord] = []
    got = asyncio.Event()
    server = SipTransport(
        on_message=lambda m, p: got.set(),
        tls=pki.settings(pki.biloxi),
        on_wire=server_wire.append,
        on_trace=server_trace.append,
    )
    client = SipTransport(
        on_message=lambda m, p: None,
        tls=pki.settings(),
        on_wire=client_wire.append,
        on_trace=client_trace.append,
    )
    try:
        await client.listen("udp", "127.0.0.1")
        address = await server.listen(transport, "127.0.0.1")  # type: ignore[arg-type]
        dest = Peer(address.transport, address.host, address.port, "biloxi.example")
        await client.send(options(Peer(address.transport, "127.0.0.1", 5060)), dest)
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await client.close()
        await server.close()
    return client_wire, server_wire, client_trace, server_trace


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_wire_bytes_are_exact(pki: Pki, transport: str) -> None:
    client_wire, server_wire, client_trace, server_trace = await _exchange(pki, transport)
    sent = b"".join(w.data for w in client_wire if w.direction == "out")
    received = b"".join(w.data for w in server_wire if w.direction == "in")
    assert sent == received  # what left one socket is what reached the other
    assert client_trace[0].data == server_trace[0].data  # the in-trace precedes Via stamping
    if transport == "tls":
        assert b"OPTIONS" not in sent  # encrypted records, not the message
        assert sent[0] == 0x16  # a TLS handshake record opens the stream
        assert client_trace[0].tls_peer == "biloxi.example"
    else:
        assert sent == client_trace[0].data
    if transport != "udp":
        assert client_wire[0].event == "open" and server_wire[0].event == "open"
        assert client_wire[-1].event == "close"
    assert all(w.transport == transport for w in client_wire)
    assert client_trace[0].local == client_wire[-1].local
