"""SipTransport: receive paths fed directly (Hypothesis, no sockets), and
sending rules over loopback (§18.1.1, §18.2.2, limits)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.sip import Request, Response, make_response, parse_message
from sipsec.transaction import Peer, build_cancel
from sipsec.transport.errors import MessageTooLarge, NoListener, TransportFailure
from sipsec.transport.sip import SipTransport

from ._e1_echo import options
from ._e1_fakes import binary, check_answer
from ._e1_harness import INVITE, SOURCE, Harness, _run, private_loop

FUZZ_EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "600"))  # more by hand


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    yield from private_loop()


# -- UDP receive ----------------------------------------------------------------------------------
def test_request_via_stamped_received_and_rport(loop: asyncio.AbstractEventLoop) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    h.datagram(INVITE)
    ((message, peer),) = h.got
    assert peer == Peer("udp", *SOURCE)
    via = message.top_via
    assert via is not None
    assert via.received == SOURCE[0] and via.rport == SOURCE[1]
    assert b";received=192.0.2.7" in bytes(message)


def test_garbage_with_headers_gets_400(loop: asyncio.AbstractEventLoop) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    bad = INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: seventy")
    h.datagram(bad)
    assert not h.got
    ((answer, address),) = h.fake.sent
    assert address == SOURCE
    response = parse_message(answer)
    assert isinstance(response, Response) and response.status == 400
    assert response.top_via is not None and response.top_via.rport == SOURCE[1]
    assert response.to is not None and response.to.tag
    assert h.transport.stats["stateless_replies"] == 1


def test_wrong_version_gets_505(loop: asyncio.AbstractEventLoop) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    h.datagram(INVITE.replace(b" SIP/2.0\r\n", b" SIP/7.0\r\n", 1))
    ((answer, _),) = h.fake.sent
    assert answer.startswith(b"SIP/2.0 505 ")


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff garbage",
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",  # a response is never answered
        INVITE.replace(b"INVITE", b"ACK", 1).replace(b"Max-Forwards: 70", b"Max-Forwards: x"),
        INVITE.replace(b"Call-ID", b"X-Call-ID").replace(b"Max-Forwards: 70", b"Max-Forwards: x"),
    ],
)
def test_unanswerable_garbage_dropped_and_counted(
    loop: asyncio.AbstractEventLoop, data: bytes
) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    h.datagram(data)
    assert not h.got and not h.fake.sent
    assert h.transport.stats["dropped"] == 1
    assert h.transport.stats["parse_errors"] == 1


VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rfc4475"
TORTURE = {
    name: entry
    for name, entry in json.loads((VECTORS / "index.json").read_text()).items()
    if not name.startswith("_")
}
# A parse error we cannot answer: the top Via itself is garbage (nowhere to
# send a response), or the message is a response (RFC 4475 says discard).
UNANSWERABLE = {"badinv01", "bigcode", "scalarlg"}


@pytest.mark.parametrize("name", sorted(TORTURE))
def test_rfc4475_torture_datagrams(loop: asyncio.AbstractEventLoop, name: str) -> None:
    """RFC 4475: valid and semantically wrong messages reach the TU; parse
    errors get the response the RFC names (400, 505) or are dropped."""
    entry = TORTURE[name]
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    data = (VECTORS / entry["file"]).read_bytes()
    h.datagram(data)
    if entry["expect"] != "parse-error" or name == "baddate":  # baddate: "or ignore"
        if data.startswith(b"SIP/"):
            # §18.1.2: a response to nothing we sent (its sent-by is not ours) is
            # discarded; once a request went out with that Via, it is delivered.
            assert not h.got and h.transport.stats["responses_not_ours"] == 1
            response = parse_message(data)
            assert response.top_via is not None
            h.transport.sent_by.add(response.top_via)
            h.datagram(data)
        assert len(h.got) == 1 and not h.fake.sent
        return
    assert not h.got
    if name in UNANSWERABLE:
        assert not h.fake.sent and h.transport.stats["dropped"] == 1
        return
    ((answer, address),) = h.fake.sent
    assert address == SOURCE
    check_answer(answer)
    expected = b"505" if entry["response"] == "505" else b"400"
    assert answer.split(b" ")[1] == expected


def test_crlf_keepalive_datagram_ignored(loop: asyncio.AbstractEventLoop) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    h.datagram(b"\r\n\r\n")
    assert not h.got and not h.fake.sent
    assert h.transport.stats["keepalives_in"] == 1


def test_callback_failure_counted(loop: asyncio.AbstractEventLoop) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)

    def boom(message: object, peer: object) -> None:
        raise RuntimeError("boom")

    h.transport.on_message = boom
    h.datagram(INVITE)
    assert h.transport.stats["callback_errors"] == 1


@settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        binary(max_size=600),
        st.builds(
            lambda cut, junk: INVITE[:cut] + junk + INVITE[cut:],
            st.integers(0, len(INVITE)),
            binary(max_size=20),
        ),
    )
)
def test_fuzz_datagrams_never_raise(loop: asyncio.AbstractEventLoop, data: bytes) -> None:
    h = _run(loop, Harness)
    assert isinstance(h, Harness)
    h.datagram(data)
    stats = h.transport.stats
    # Exactly one outcome: delivered, answered, dropped, or a keep-alive.
    outcomes = len(h.got) + stats["stateless_replies"] + stats["dropped"] + stats["keepalives_in"]
    assert outcomes == 1
    for answer, _ in h.fake.sent:
        check_answer(answer)


# -- sending --------------------------------------------------------------------------------------
@pytest.fixture
async def transports() -> AsyncIterator[list[SipTransport]]:
    made: list[SipTransport] = []
    yield made
    for transport in made:
        await transport.close()


async def test_udp_needs_a_listener_of_the_family(transports: list[SipTransport]) -> None:
    t = SipTransport(on_message=lambda m, p: None)
    transports.append(t)
    with pytest.raises(NoListener, match="IPv4"):
        await t.send(options(Peer("udp", "127.0.0.1", 5060)), Peer("udp", "127.0.0.1", 5060))
    await t.listen("udp", "127.0.0.1")
    with pytest.raises(NoListener, match="IPv6"):
        await t.send(options(Peer("udp", "127.0.0.1", 5060)), Peer("udp", "::1", 5060))


async def test_oversized_request_without_tcp_listener(transports: list[SipTransport]) -> None:
    t = SipTransport(on_message=lambda m, p: None)
    transports.append(t)
    la = await t.listen("udp", "127.0.0.1")
    with pytest.raises(MessageTooLarge, match="no TCP listener"):
        await t.send(options(la, size=1400), Peer("udp", "127.0.0.1", 5060))
    # a response is not moved (§18.1.1 speaks of requests) but must fit a datagram
    response = make_response(options(la), 200)
    response.body = b"x" * 70000
    with pytest.raises(MessageTooLarge, match="UDP datagram"):
        await t.send(response, Peer("udp", "127.0.0.1", 5060))
    assert t.stats.get("udp_out", 0) == 0


async def test_udp_response_follows_via(transports: list[SipTransport]) -> None:
    """§18.2.2: no rport → the received address and the sent-by port."""
    got: list[tuple[Request | Response, Peer]] = []
    a = SipTransport(on_message=lambda m, p: got.append((m, p)))
    b = SipTransport(on_message=lambda m, p: got.append((m, p)))
    transports += [a, b]
    la = await a.listen("udp", "127.0.0.1")
    lb = await b.listen("udp", "127.0.0.1")
    request = options(Peer("udp", "localhost.invalid", la.port), rport=False)
    await a.send(request, lb)
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.01)
    ((received, _source),) = got
    assert isinstance(received, Request)
    assert received.top_via is not None and received.top_via.received == "127.0.0.1"
    # the TU answers "to the source", but the Via says where: received + sent-by port
    used = await b.send(make_response(received, 200), Peer("udp", "127.0.0.1", 9))
    assert used == Peer("udp", "127.0.0.1", la.port)


async def test_stream_send_after_close_fails(transports: list[SipTransport]) -> None:
    t = SipTransport(on_message=lambda m, p: None)
    await t.close()
    with pytest.raises(TransportFailure, match="closed"):
        await t.send(options(Peer("tcp", "127.0.0.1", 1)), Peer("tcp", "127.0.0.1", 1))


async def test_cancel_follows_invite_moved_to_tcp(transports: list[SipTransport]) -> None:
    """§9.1: the CANCEL goes where its INVITE went; §18.1.1 moved that INVITE
    to TCP, so the small CANCEL addressed to the UDP peer follows it onto the
    same connection, while a request of the same branch to another address
    does not."""
    got: list[tuple[Request | Response, Peer]] = []
    arrived = asyncio.Event()

    def receive(message: Request | Response, peer: Peer) -> None:
        got.append((message, peer))
        arrived.set()

    a = SipTransport(on_message=lambda m, p: None)
    transports.append(a)
    la = await a.listen("udp", "127.0.0.1")
    await a.listen("tcp", "127.0.0.1")
    for _ in range(20):  # a free UDP port's TCP twin may be taken by another process
        b = SipTransport(on_message=receive)
        transports.append(b)
        lb = await b.listen("udp", "127.0.0.1")
        try:
            await b.listen("tcp", "127.0.0.1", lb.port)
            break
        except OSError:
            await b.close()
    else:
        pytest.fail("no port free for both UDP and TCP")
    invite = options(la, size=1500)
    invite.method = "INVITE"
    invite.headers.set("CSeq", "1 INVITE")
    used = await a.send(invite, lb)
    assert used.transport == "tcp" and used.connection_id is not None
    cancel = build_cancel(invite)
    assert a.try_send(cancel, lb) == used  # the INVITE's connection, no new one
    while len(got) < 2:
        arrived.clear()
        await asyncio.wait_for(arrived.wait(), 5)
    (first, via_invite), (second, via_cancel) = got
    assert isinstance(first, Request) and first.method == "INVITE"
    assert isinstance(second, Request) and second.method == "CANCEL"
    assert via_cancel == via_invite and via_cancel.transport == "tcp"
    assert second.top_via is not None and second.top_via.transport == "TCP"
    assert a.stats["udp_followed_to_tcp"] == 1 and a.stats.get("udp_out", 0) == 0
    # Another destination is another hop: the branch alone does not move it.
    other = build_cancel(invite)
    assert a.try_send(other, Peer("udp", "127.0.0.1", la.port)) == Peer("udp", "127.0.0.1", la.port)
    assert a.stats["udp_out"] == 1


async def test_response_to_a_sent_by_not_ours_is_discarded(
    transports: list[SipTransport],
) -> None:
    """§18.1.2: a response whose top Via sent-by is not one this transport put
    into a request is silently discarded (and counted); ours is delivered."""
    got: list[tuple[Request | Response, Peer]] = []
    arrived = asyncio.Event()

    def receive(message: Request | Response, peer: Peer) -> None:
        got.append((message, peer))
        arrived.set()

    t = SipTransport(on_message=receive)
    transports.append(t)
    la = await t.listen("udp", "127.0.0.1")
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as far:
        far.bind(("127.0.0.1", 0))
        far.setblocking(False)
        request = options(la)
        await t.send(request, Peer("udp", *far.getsockname()))
        data = await asyncio.wait_for(loop.sock_recv(far, 65536), 5)
        sent = parse_message(data)
        assert isinstance(sent, Request)
        forged = make_response(sent, 200)
        forged.headers.set("Via", f"SIP/2.0/UDP 127.0.0.1:{la.port + 1};branch=z9hG4bKforged")
        answer = make_response(sent, 200)
        for response in (forged, answer):  # the forged one first: it must not arrive
            await loop.sock_sendto(far, bytes(response), la.address)
        await asyncio.wait_for(arrived.wait(), 5)
    ((message, _),) = got
    assert isinstance(message, Response) and message.top_via is not None
    assert message.top_via.branch == request.top_via.branch  # type: ignore[union-attr]
    assert t.stats["responses_not_ours"] == 1 and t.stats["udp_in"] == 2
