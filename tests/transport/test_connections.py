"""One StreamConnection: framing, keep-alives, caps, TLS inside it (fed
bytes directly, Hypothesis included) and the accept cap over loopback."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.sip import Request, Response, parse_message
from sipsec.transaction import Peer
from sipsec.transport.connections import Limits
from sipsec.transport.errors import ConnectionLost
from sipsec.transport.sip import SipTransport

from ._e1_echo import options
from ._e1_fakes import binary, check_answer
from ._e1_harness import INVITE, Harness, _run, private_loop
from ._e1_live import new_transport, until

_TCP_INVITE = INVITE.replace(b"UDP", b"TCP")
FUZZ_EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "600"))  # more by hand


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    yield from private_loop()


async def test_accepted_connections_are_capped(made: list[SipTransport]) -> None:
    server = new_transport(made, limits=Limits(max_connections=2))
    address = await server.listen("tcp", "127.0.0.1")
    writers = []
    for _ in range(3):
        _, writer = await asyncio.open_connection("127.0.0.1", address.port)
        writers.append(writer)
    await until(lambda: server.stats["connections_refused"] == 1)
    assert server.connection_count == 2
    for writer in writers:
        writer.close()
        await writer.wait_closed()


async def test_write_to_a_closing_connection_fails(made: list[SipTransport]) -> None:
    server = new_transport(made)
    address = await server.listen("tcp", "127.0.0.1")
    client = new_transport(made)
    first = await client.send(options(Peer("tcp", "127.0.0.1", 5060)), address)
    conn = client.connection(first.connection_id or 0)
    assert conn is not None
    conn.close()
    with pytest.raises(ConnectionLost, match="closed"):
        conn.send(b"OPTIONS")


# -- stream receive -------------------------------------------------------------------------------
def test_stream_messages_split_across_chunks(loop: asyncio.AbstractEventLoop) -> None:
    def body() -> None:
        h = Harness()
        conn, _fake = h.stream()
        data = INVITE.replace(b"UDP", b"TCP") * 2
        for i in range(0, len(data), 7):
            conn.data_received(data[i : i + 7])
        assert len(h.got) == 2
        assert all(p.connection_id == conn.id and p.transport == "tcp" for _, p in h.got)

    _run(loop, body)


def test_stream_ping_answered_with_pong(loop: asyncio.AbstractEventLoop) -> None:
    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        conn.data_received(b"\r\n\r\n")
        assert fake.written == [b"\r\n"]  # RFC 5626 §3.5.1
        conn.data_received(b"\r\n")  # a pong from them: nothing to answer
        assert fake.written == [b"\r\n"]
        assert h.transport.stats["keepalive_pongs"] == 1

    _run(loop, body)


# (stream, pongs answered): RFC 5626 §3.5.1 pings, however the reads split them.
PING_STREAMS = [
    (b"\r\n\r\n", 1),
    (b"\r\n", 0),
    (b"\r\n\r\n\r\n", 1),
    (b"\r\n\r\n\r\n\r\n", 2),
    (b"\r\n" + _TCP_INVITE + b"\r\n\r\n\r\n", 1),
]


@pytest.mark.parametrize(("stream", "pongs"), PING_STREAMS)
def test_stream_ping_split_across_reads(
    loop: asyncio.AbstractEventLoop, stream: bytes, pongs: int
) -> None:
    def answers(chunks: list[bytes]) -> list[bytes]:
        h = Harness()
        conn, fake = h.stream()
        for chunk in chunks:
            conn.data_received(chunk)
        assert h.transport.stats["keepalive_pongs"] == len(fake.written)
        return fake.written

    def body() -> None:
        expected = [b"\r\n"] * pongs
        assert answers([stream]) == expected
        assert answers([stream[i : i + 1] for i in range(len(stream))]) == expected
        for i in range(len(stream) + 1):
            assert answers([stream[:i], stream[i:]]) == expected, i

    _run(loop, body)


def test_stream_pong_to_a_peer_that_stopped_reading(loop: asyncio.AbstractEventLoop) -> None:
    # send() refuses (and closes) when the write buffer overflows: the ping
    # is dropped with the connection, and no exception reaches asyncio.
    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        fake.get_write_buffer_size = lambda: 1 << 30  # type: ignore[method-assign]
        conn.data_received(b"\r\n\r\n\r\n\r\n")
        assert fake.aborted and fake.written == []
        assert h.transport.stats["write_overflows"] == 1
        assert h.transport.stats["keepalive_pongs"] == 0

    _run(loop, body)


PING_TRIED = {"examples": 0}


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=1, max_size=5),
    st.lists(st.integers(0, 2000), max_size=8),
)
def test_fuzz_stream_pings_answered_once_each(
    loop: asyncio.AbstractEventLoop, runs: list[tuple[int, bool]], cuts: list[int]
) -> None:
    """Runs of CRLFs, some followed by a request, cut anywhere: one pong per
    CRLF pair (n // 2 for a run of n), none for a lone CRLF, every request
    delivered."""
    PING_TRIED["examples"] += 1
    stream = b"".join(b"\r\n" * n + (_TCP_INVITE if message else b"") for n, message in runs)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})

    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        for a, b in itertools.pairwise(points):
            conn.data_received(stream[a:b])
        # A run not ended by a request carries on into the next run.
        pairs, run = 0, 0
        for n, message in runs:
            run += n
            if message:
                pairs, run = pairs + run // 2, 0
        pairs += run // 2
        assert fake.written == [b"\r\n"] * pairs
        assert len(h.got) == sum(message for _, message in runs)

    _run(loop, body)


def test_stream_framing_error_closes(loop: asyncio.AbstractEventLoop) -> None:
    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        conn.data_received(INVITE.replace(b"Content-Length: 0\r\n", b""))
        assert fake.closing and not h.got
        assert h.transport.stats["parse_errors"] == 1

    _run(loop, body)


def test_stream_framing_error_delivers_what_came_before(loop: asyncio.AbstractEventLoop) -> None:
    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        tcp = INVITE.replace(b"UDP", b"TCP")
        conn.data_received(tcp + tcp.replace(b"Content-Length: 0\r\n", b""))
        assert fake.closing and len(h.got) == 1  # the good one, then the close
        assert h.transport.stats["parse_errors"] == 1

    _run(loop, body)


def test_stream_buffer_is_capped(loop: asyncio.AbstractEventLoop) -> None:
    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        conn.data_received(b"INVITE sip:x SIP/2.0\r\nX: " + b"a" * 5000)  # never ends
        assert fake.closing  # 4096-byte cap: the framer gave up, the connection closed

    _run(loop, body)


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(binary(max_size=300), max_size=6), st.booleans())
def test_fuzz_stream_never_raises(
    loop: asyncio.AbstractEventLoop, chunks: list[bytes], tls: bool
) -> None:
    def body() -> None:
        h = Harness()
        conn, _fake = h.stream(tls=tls)
        for chunk in [*chunks, INVITE.replace(b"UDP", b"TCP")]:
            conn.data_received(chunk)
        if tls:
            assert not h.got  # random bytes never make a TLS handshake
        conn.connection_lost(None)

    _run(loop, body)


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        (_TCP_INVITE.replace(b" SIP/2.0\r\n", b" SIP/7.0\r\n", 1), 505),
        (_TCP_INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: seventy"), 400),
    ],
)
def test_stream_bad_message_answered_on_its_connection(
    loop: asyncio.AbstractEventLoop, bad: bytes, status: int
) -> None:
    """§18.3 and RFC 4475 §3.1.2: a request that does not parse, framed by a
    sound Content-Length, gets the parser's status on the connection it came
    on; the connection stays open and the next message is delivered."""

    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        conn.data_received(bad + _TCP_INVITE)
        ((message, peer),) = h.got
        assert isinstance(message, Request) and peer.connection_id == conn.id
        (answer,) = fake.written
        response = parse_message(answer)
        assert isinstance(response, Response) and response.status == status
        assert response.top_via is not None and response.top_via.branch == "z9hG4bK776asdhds"
        assert response.call_id == "a84b4c76e66710@pc33.atlanta.example"
        assert not fake.closing and not conn.closed
        stats = h.transport.stats
        assert stats["stateless_replies"] == 1 and stats["tcp_rejected"] == 1
        assert stats["parse_errors"] == 1
        conn.data_received(bad)  # and again, on the same connection
        assert len(fake.written) == 2 and not fake.closing

    _run(loop, body)


def test_stream_bad_response_or_ack_dropped_not_answered(loop: asyncio.AbstractEventLoop) -> None:
    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        ack = _TCP_INVITE.replace(b"INVITE", b"ACK").replace(
            b"Max-Forwards: 70", b"Max-Forwards: x"
        )
        response = b"SIP/2.0 200 OK\r\nVia: nonsense\r\nContent-Length: 0\r\n\r\n"
        conn.data_received(ack + response)
        assert fake.written == [] and not fake.closing and not h.got
        assert h.transport.stats["dropped"] == 2 and h.transport.stats["parse_errors"] == 2

    _run(loop, body)


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(_TCP_INVITE) - 1), binary(max_size=8)), max_size=6))
def test_fuzz_stream_damaged_messages_answered_or_dropped(
    loop: asyncio.AbstractEventLoop, damage: list[tuple[int, bytes]]
) -> None:
    """Damaged requests (head bytes replaced, the framing left as it is)
    followed by a good one: never an exception; every answer is a well-formed
    response; the connection stays open and the good request arrives."""

    def body() -> None:
        h = Harness()
        conn, fake = h.stream()
        stream = b""
        for at, junk in damage:
            head, _, _ = _TCP_INVITE.partition(b"\r\nContent-Length")
            at = min(at, len(head))
            damaged = (
                head[:at] + junk.replace(b"\r", b"").replace(b"\n", b"") + head[at + len(junk) :]
            )
            stream += damaged + b"\r\nContent-Length: 0\r\n\r\n"
        conn.data_received(stream + _TCP_INVITE)
        for answer in fake.written:
            check_answer(answer)
        assert not fake.closing  # no CR/LF in the damage: the framing always holds
        assert h.got and bytes(h.got[-1][0]).startswith(b"INVITE ")
        stats = h.transport.stats
        assert stats["stateless_replies"] == len(fake.written)
        # each message delivered, answered or dropped (counted), exactly once
        assert len(h.got) + stats["stateless_replies"] + stats["dropped"] == len(damage) + 1
        conn.connection_lost(None)

    _run(loop, body)
