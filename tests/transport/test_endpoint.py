"""Two SipEndpoints on loopback with a trivial echo TU: OPTIONS/200 over
UDP, TCP, TLS and mutual TLS with the real TransactionLayer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sipsec.sip import Request, Response, parse_message, parse_uri
from sipsec.transaction import (
    Event,
    Peer,
    RequestReceived,
    Timer,
    TimerConfig,
    TransactionLayer,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from sipsec.transport.endpoint import SipEndpoint
from sipsec.transport.resolver import Resolver
from sipsec.transport.trace import TraceRecord, WireRecord

from ._e1_echo import EchoTU, options
from ._e1_pki import Pki

Make = Callable[..., "asyncio.Future[SipEndpoint]"]


@pytest.fixture
async def endpoints() -> AsyncIterator[list[SipEndpoint]]:
    made: list[SipEndpoint] = []
    yield made
    for endpoint in made:
        await endpoint.close()


async def _pair(
    endpoints: list[SipEndpoint], transport: str, **kwargs: object
) -> tuple[SipEndpoint, EchoTU, Peer, SipEndpoint, EchoTU, Peer]:
    a = SipEndpoint(**kwargs.get("a", {}))  # type: ignore[arg-type]
    b = SipEndpoint(**kwargs.get("b", {}))  # type: ignore[arg-type]
    endpoints += [a, b]
    la = await a.listen(transport, "127.0.0.1")  # type: ignore[arg-type]
    lb = await b.listen(transport, "127.0.0.1")  # type: ignore[arg-type]
    ta, tb = EchoTU(), EchoTU()
    a.attach(ta)
    b.attach(tb)
    return a, ta, la, b, tb, lb


async def _roundtrip(endpoint: SipEndpoint, tu: EchoTU, via: Peer, dest: Peer) -> Response:
    future = tu.send(options(via), dest, endpoint.now())
    endpoint.poke()
    result = await asyncio.wait_for(future, 5)
    assert isinstance(result, Response), result
    return result


async def _udp_and_tcp_on_one_port(endpoints: list[SipEndpoint]) -> tuple[SipEndpoint, Peer, Peer]:
    """An endpoint listening on UDP and TCP with one port number: a free UDP
    port's TCP twin may be in use by another process, so try a few."""
    for _ in range(20):
        endpoint = SipEndpoint()
        endpoints.append(endpoint)
        udp = await endpoint.listen("udp", "127.0.0.1")
        try:
            return endpoint, udp, await endpoint.listen("tcp", "127.0.0.1", udp.port)
        except OSError:
            await endpoint.close()
    raise AssertionError("no port free for both UDP and TCP")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_options_roundtrip(endpoints: list[SipEndpoint], transport: str) -> None:
    a, ta, la, b, tb, lb = await _pair(endpoints, transport)
    response = await _roundtrip(a, ta, la, lb)
    assert response.status == 200
    ((request, source),) = tb.requests
    assert source.transport == transport
    assert source.host == "127.0.0.1"
    via = request.top_via
    assert via is not None
    if transport == "udp":
        assert via.rport == la.port  # RFC 3581: filled with the source port
        assert a.transport.stats["udp_out"] == 1
    else:
        assert source.connection_id is not None
        assert via.received == "127.0.0.1"  # rport asked: received even if identical
    assert b.transport.stats[f"{transport}_in"] == 1
    assert len(ta.responses) == 1


async def test_tcp_connection_reused_both_ways(endpoints: list[SipEndpoint]) -> None:
    a, ta, la, b, tb, lb = await _pair(endpoints, "tcp")
    for _ in range(3):
        await _roundtrip(a, ta, la, lb)
    assert a.transport.stats["tcp_connections_opened"] == 1
    assert b.transport.stats["tcp_connections_accepted"] == 1
    assert a.transport.connection_count == 1
    # B sends back to A through the connection A opened (the Peer names it).
    _, source = tb.requests[0]
    response = await _roundtrip(b, tb, lb, source)
    assert response.status == 200
    assert b.transport.stats.get("tcp_connections_opened", 0) == 0
    # Without the connection id, the address alone finds it too.
    response = await _roundtrip(b, tb, lb, Peer("tcp", source.host, source.port))
    assert response.status == 200
    assert b.transport.stats.get("tcp_connections_opened", 0) == 0
    assert b.transport.stats["connections_reused"] == 1
    assert b.transport.connection_count == 1


async def test_oversized_udp_request_moves_to_tcp(endpoints: list[SipEndpoint]) -> None:
    a = SipEndpoint()
    endpoints.append(a)
    la = await a.listen("udp", "127.0.0.1")
    await a.listen("tcp", "127.0.0.1")
    b, lb_udp, lb_tcp = await _udp_and_tcp_on_one_port(endpoints)
    ta, tb = EchoTU(), EchoTU()
    a.attach(ta)
    b.attach(tb)
    future = ta.send(options(la, size=1500), lb_udp, a.now())
    a.poke()
    result = await asyncio.wait_for(future, 5)
    assert isinstance(result, Response) and result.status == 200
    ((request, source),) = tb.requests
    assert source.transport == "tcp"
    assert request.top_via is not None and request.top_via.transport == "TCP"
    assert a.transport.stats["udp_moved_to_tcp"] == 1
    assert a.transport.stats.get("udp_out", 0) == 0
    assert source.port != lb_tcp.port  # it came from A's side of a new connection


async def test_connect_refused_reports_transport_error(endpoints: list[SipEndpoint]) -> None:
    a = SipEndpoint()
    endpoints.append(a)
    la = await a.listen("tcp", "127.0.0.1")
    ta = EchoTU()
    a.attach(ta)
    probe = SipEndpoint()
    free = await probe.listen("tcp", "127.0.0.1")
    await probe.close()  # a port nobody listens on now
    future = ta.send(options(la), Peer("tcp", "127.0.0.1", free.port), a.now())
    a.poke()
    result = await asyncio.wait_for(future, 5)
    assert isinstance(result, TransportErrorOccurred)
    assert "cannot connect" in result.reason
    assert a.stats["send_failures"] == 1


async def test_udp_retransmission_timer_drives_timeout(endpoints: list[SipEndpoint]) -> None:
    """The one timer: Timer E retransmits, Timer F times out (T1 = 10 ms)."""
    a = SipEndpoint()
    silent = SipEndpoint()
    endpoints += [a, silent]
    la = await a.listen("udp", "127.0.0.1")
    ls = await silent.listen("udp", "127.0.0.1")  # no TU: receives and drops
    ta = EchoTU()
    ta.layer = type(ta.layer)(TimerConfig(t1=0.01, t2=0.04, t4=0.05))
    a.attach(ta)
    future = ta.send(options(la), ls, a.now())
    a.poke()
    result = await asyncio.wait_for(future, 5)
    assert type(result).__name__ == "TransactionTimedOut"
    assert a.transport.stats["udp_out"] > 3  # retransmissions
    assert silent.stats["dropped_no_tu"] == a.transport.stats["udp_out"]


async def test_tu_exception_is_caught_and_counted(
    endpoints: list[SipEndpoint], caplog: pytest.LogCaptureFixture
) -> None:
    a, ta, la, b, tb, lb = await _pair(endpoints, "udp")
    tb.explode = True
    caplog.set_level(logging.CRITICAL, logger="sipsec.transport")
    ta.layer = type(ta.layer)(TimerConfig(t1=0.01, t2=0.04, t4=0.05))
    future = ta.send(options(la), lb, a.now())
    a.poke()
    result = await asyncio.wait_for(future, 5)
    assert type(result).__name__ == "TransactionTimedOut"
    assert b.stats["tu_errors"] >= 1


async def test_refused_request_gets_stateless_400(endpoints: list[SipEndpoint]) -> None:
    """The parser takes a request without CSeq; the layer refuses it: 400."""
    a, _ta, la, b, _tb, lb = await _pair(endpoints, "udp")
    request = options(la)
    request.headers.remove("CSeq")
    replies: list[bytes] = []
    a.transport.on_trace = lambda r: replies.append(r.data) if r.direction == "in" else None
    a.transport.try_send(request, lb)
    for _ in range(100):
        if replies:
            break
        await asyncio.sleep(0.01)
    assert replies and replies[0].startswith(b"SIP/2.0 400 ")
    assert b.stats["refused"] == 1


async def test_resolution_static_and_dns_less(endpoints: list[SipEndpoint]) -> None:
    hosts = {"biloxi.example": [Peer("tcp", "127.0.0.1", 5999)]}
    a = SipEndpoint(resolver=Resolver(hosts, use_dns=False))
    endpoints.append(a)
    ta = EchoTU()
    a.attach(ta)
    ta.want(1, parse_uri("sip:bob@biloxi.example"))
    ta.want(2, parse_uri("sip:bob@nowhere.example"))
    a.poke()
    for _ in range(100):
        if len(ta.resolved) == 2:
            break
        await asyncio.sleep(0.01)
    assert dict(ta.resolved) == {
        1: [Peer("tcp", "127.0.0.1", 5999, "biloxi.example")],
        2: [],
    }


async def test_traces(endpoints: list[SipEndpoint]) -> None:
    traces: list[TraceRecord] = []
    wires: list[WireRecord] = []
    a, ta, la, _b, _tb, lb = await _pair(
        endpoints, "tcp", a={"on_trace": traces.append, "on_wire": wires.append}
    )
    await _roundtrip(a, ta, la, lb)
    assert [t.direction for t in traces] == ["out", "in"]
    assert traces[0].data.startswith(b"OPTIONS ")
    assert traces[1].data.startswith(b"SIP/2.0 200")
    assert wires[0].event == "open"
    sent = b"".join(w.data for w in wires if w.direction == "out")
    assert sent == traces[0].data
    received = b"".join(w.data for w in wires if w.direction == "in")
    assert received == traces[1].data


async def test_close_is_clean_and_idempotent(tmp_path: Path) -> None:
    a = SipEndpoint()
    b = SipEndpoint()
    la = await a.listen("tcp", "127.0.0.1")
    lb = await b.listen("tcp", "127.0.0.1")
    ta, tb = EchoTU(), EchoTU()
    a.attach(ta)
    b.attach(tb)
    await _roundtrip(a, ta, la, lb)
    await a.close()
    await a.close()
    await b.close()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


@pytest.mark.parametrize("mutual", [False, True])
async def test_tls_options_and_reuse(endpoints: list[SipEndpoint], pki: Pki, mutual: bool) -> None:
    server_settings = pki.settings(pki.biloxi, require_client_cert=mutual)
    client_settings = pki.settings(pki.atlanta if mutual else None)
    traces: list[TraceRecord] = []
    b = SipEndpoint(tls=server_settings, on_trace=traces.append)
    a = SipEndpoint(tls=client_settings)
    endpoints += [a, b]
    lb = await b.listen("tls", "127.0.0.1")
    la = await a.listen("udp", "127.0.0.1")  # only for the Via; A has no TLS listener
    ta, tb = EchoTU(), EchoTU()
    a.attach(ta)
    b.attach(tb)
    dest = Peer("tls", "127.0.0.1", lb.port, "biloxi.example")
    via = Peer("tls", la.host, la.port)
    for _ in range(3):
        response = await _roundtrip(a, ta, via, dest)
        assert response.status == 200
    assert a.transport.stats["tls_connections_opened"] == 1
    assert b.transport.stats["tls_connections_accepted"] == 1
    _, source = tb.requests[0]
    assert source.transport == "tls"
    expected = "atlanta.example" if mutual else None
    assert traces[0].tls_peer == expected
    conn = b.transport.connection(source.connection_id or 0)
    assert conn is not None and conn.tls_peer == expected
    if mutual:
        # B reaches atlanta.example over the connection A opened: its
        # certificate proved that domain (RFC 5922), so no new connection.
        back = Peer("tls", source.host, source.port, "atlanta.example")
        response = await _roundtrip(b, tb, Peer("tls", lb.host, lb.port), back)
        assert response.status == 200
        assert b.transport.stats.get("tls_connections_opened", 0) == 0


async def test_ipv6_loopback(endpoints: list[SipEndpoint]) -> None:
    probe = SipEndpoint()
    try:
        await probe.listen("udp", "::1")
    except OSError:
        pytest.skip("::1 cannot be bound here")
    finally:
        await probe.close()
    for transport in ("udp", "tcp"):
        a, ta, la, _b, tb, lb = await _pair_on(endpoints, transport, "::1")
        response = await _roundtrip(a, ta, la, lb)
        assert response.status == 200
        request, source = tb.requests[-1]
        assert source.host == "::1"
        assert request.top_via is not None and request.top_via.host == "[::1]"


async def _pair_on(
    endpoints: list[SipEndpoint], transport: str, host: str
) -> tuple[SipEndpoint, EchoTU, Peer, SipEndpoint, EchoTU, Peer]:
    a, b = SipEndpoint(), SipEndpoint()
    endpoints += [a, b]
    la = await a.listen(transport, host)  # type: ignore[arg-type]
    lb = await b.listen(transport, host)  # type: ignore[arg-type]
    ta, tb = EchoTU(), EchoTU()
    a.attach(ta)
    b.attach(tb)
    return a, ta, la, b, tb, lb


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_real_user_agents_call_and_hang_up(
    endpoints: list[SipEndpoint], pki: Pki, transport: str
) -> None:
    """E2's UserAgent on both ends: INVITE/200/ACK/BYE through the driver,
    the target resolved through resolutions_needed (IP literal, or the hosts
    map for sips:), in-dialog requests to an IP-literal Contact reusing the
    verified TLS connection."""
    from sipsec.ua import UaConfig, UserAgent
    from sipsec.ua.events import CallAnswered, CallEnded, IncomingCall

    tls = transport == "tls"
    b = SipEndpoint(tls=pki.settings(pki.biloxi) if tls else None)
    endpoints.append(b)
    lb = await b.listen(transport, "127.0.0.1")  # type: ignore[arg-type]
    hosts = {"biloxi.example": [Peer("tls", "127.0.0.1", lb.port)]}
    a = SipEndpoint(
        tls=pki.settings(pki.atlanta) if tls else None,
        resolver=Resolver(hosts, use_dns=False),
    )
    endpoints.append(a)
    la = await a.listen(transport, "127.0.0.1")  # type: ignore[arg-type]
    scheme = "sips" if tls else "sip"
    alice = UserAgent(UaConfig(f"{scheme}:alice@atlanta.example", contact={transport: la.address}))  # type: ignore[dict-item]
    bob = UserAgent(UaConfig(f"{scheme}:bob@biloxi.example", contact={transport: lb.address}))  # type: ignore[dict-item]
    a.attach(alice)
    b.attach(bob)
    target = (
        "sips:bob@biloxi.example" if tls else f"sip:bob@127.0.0.1:{lb.port};transport={transport}"
    )
    alice.invite(target, a.now())
    a.poke()
    seen: list[tuple[str, str]] = []

    async def run(ua: UserAgent, endpoint: SipEndpoint, name: str) -> None:
        while True:
            event = ua.next_ua_event()
            if event is None:
                await asyncio.sleep(0.005)
                continue
            seen.append((name, type(event).__name__))
            if isinstance(event, IncomingCall):
                ua.answer(event.call, endpoint.now())
                endpoint.poke()
            elif isinstance(event, CallAnswered):
                ua.bye(event.call, endpoint.now())
                endpoint.poke()
            elif isinstance(event, CallEnded):
                return

    await asyncio.wait_for(asyncio.gather(run(alice, a, "alice"), run(bob, b, "bob")), 10)
    assert ("bob", "IncomingCall") in seen and ("alice", "CallAnswered") in seen
    assert ("bob", "CallConfirmed") in seen
    if transport != "udp":
        assert a.transport.stats[f"{transport}_connections_opened"] == 1  # one for the dialog
        assert b.transport.stats.get(f"{transport}_connections_opened", 0) == 0
    assert a.stats["tu_errors"] == b.stats["tu_errors"] == 0


async def test_close_during_a_pending_handshake(pki: Pki) -> None:
    """close() cancels a send stuck in a TLS handshake: no task, no warning left."""
    writers: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: writers.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    a = SipEndpoint(tls=pki.settings())
    la = await a.listen("udp", "127.0.0.1")
    ta = EchoTU()
    a.attach(ta)
    ta.send(options(la), Peer("tls", "127.0.0.1", port, "biloxi.example"), a.now())
    a.poke()
    for _ in range(100):
        if writers:
            break
        await asyncio.sleep(0.01)
    await a.close()
    for writer in writers:
        writer.close()
    silent.close()
    await silent.wait_closed()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_tu_timer_fires_through_the_one_timer(endpoints: list[SipEndpoint]) -> None:
    a = SipEndpoint()
    endpoints.append(a)
    fired = asyncio.Event()

    class TimedTU(EchoTU):
        deadline: float | None = None

        def get_timer(self) -> float | None:
            return self.deadline

        def handle_timer(self, now: float) -> None:
            if self.deadline is not None and now >= self.deadline:
                self.deadline = None
                self.timer_calls += 1
                fired.set()

    tu = TimedTU()
    tu.deadline = a.now() + 0.02
    a.attach(tu)
    await asyncio.wait_for(fired.wait(), 5)
    assert tu.timer_calls == 1
    tu.deadline = a.now() + 30.0  # re-armed on poke, cancelled on close
    a.poke()


async def test_dns_resolution_through_the_endpoint(endpoints: list[SipEndpoint]) -> None:
    from ._e1_dns import DnsServer

    zone = {("_sip._udp.plain.example", "SRV"): ["0 0 5070 sip.plain.example."]}
    zone[("sip.plain.example", "A")] = ["192.0.2.30"]
    async with DnsServer(zone) as server:
        a = SipEndpoint(resolver=Resolver(nameservers=[server.address]))
        endpoints.append(a)
        tu = EchoTU()
        a.attach(tu)
        tu.want(7, parse_uri("sip:carol@plain.example"))  # type: ignore[arg-type]
        a.poke()
        for _ in range(300):
            if tu.resolved:
                break
            await asyncio.sleep(0.01)
    assert tu.resolved == [(7, [Peer("udp", "192.0.2.30", 5070, "plain.example")])]


async def test_tls_over_ipv6(endpoints: list[SipEndpoint], pki: Pki) -> None:
    probe = SipEndpoint()
    try:
        await probe.listen("tcp", "::1")
    except OSError:
        pytest.skip("::1 cannot be bound here")
    finally:
        await probe.close()
    b = SipEndpoint(tls=pki.settings(pki.biloxi))
    a = SipEndpoint(tls=pki.settings())
    endpoints += [a, b]
    lb = await b.listen("tls", "::1")
    ta, tb = EchoTU(), EchoTU()
    a.attach(ta)
    b.attach(tb)
    response = await _roundtrip(
        a, ta, Peer("tls", "::1", 5061), Peer("tls", "::1", lb.port, "biloxi.example")
    )
    assert response.status == 200
    assert tb.requests[0][1].host == "::1"


@pytest.mark.interop
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_kamailio_answers_our_options(
    endpoints: list[SipEndpoint], pki: Pki, tmp_path: Path, transport: str
) -> None:
    """A SIP stack nobody here wrote: its TCP framing, its rport routing of
    the UDP answer, and its TLS server (OpenSSL) verified by RFC 5922 rules."""
    from . import _e1_kamailio

    if not _e1_kamailio.available():
        pytest.fail("kamailio with its tls module is needed (Debian: kamailio-tls-modules)")
    async with _e1_kamailio.kamailio(tmp_path, pki.biloxi.cert, pki.biloxi.key) as peers:
        a = SipEndpoint(tls=pki.settings())
        endpoints.append(a)
        la = await a.listen("udp" if transport == "tls" else transport, "127.0.0.1")  # type: ignore[arg-type]
        ta = EchoTU()
        a.attach(ta)
        via = Peer(transport, la.host, la.port)  # type: ignore[arg-type]
        response = await _roundtrip(a, ta, via, peers[transport])
        assert response.status == 200
        if transport != "udp":
            assert a.transport.stats[f"{transport}_connections_opened"] == 1
            assert a.transport.stats[f"{transport}_in"] == 1
        await a.close()


async def test_idle_connections_closed_by_the_endpoint_timer(endpoints: list[SipEndpoint]) -> None:
    """The connection sweep runs on the endpoint's one call_at, not a timer of
    its own: a client that connects and stays silent is closed for idleness.

    Deterministic under load: the wait is on the close itself (EOF, then the
    pool forgetting the connection, which ``connection_lost`` does a loop turn
    after ``close()``), bounded only by a generous timeout. (It used to make
    a request first — which a 50 ms idle limit could close before a loaded
    machine delivered it — and to check the count in the same turn as the
    sweep's counter, before ``connection_lost`` had run.)"""
    from sipsec.transport.connections import Limits

    b = SipEndpoint(limits=Limits(idle_timeout=0.05))
    endpoints.append(b)
    lb = await b.listen("tcp", "127.0.0.1")
    b.attach(EchoTU())
    reader, writer = await asyncio.open_connection(lb.host, lb.port)
    try:
        async with asyncio.timeout(60):
            assert await reader.read() == b""  # b closed it
            while b.transport.connection_count:
                await asyncio.sleep(0.01)
    finally:
        writer.close()
        await writer.wait_closed()
    assert b.transport._pool._timer is None  # driven by the endpoint
    assert b.transport.stats["idle_closed"] == 1


def _invite(via: Peer, *, size: int) -> Request:
    """An INVITE whose padding pushes it over 1300 bytes (§18.1.1)."""
    request = options(via, size=size)
    request.method = "INVITE"
    cseq = request.cseq
    assert cseq is not None
    request.headers.set("CSeq", f"{cseq.seq} INVITE")
    request.headers.add("Contact", f"<sip:alice@{via.host}:{via.port}>")
    return request


async def test_ack_for_407_follows_invite_moved_to_tcp(endpoints: list[SipEndpoint]) -> None:
    """§17.1.1.3: the ACK goes to the same address, port and transport as its
    INVITE — over TCP when §18.1.1 moved the INVITE there, though the ACK is
    small and the transaction layer addressed it to the UDP peer."""
    a = SipEndpoint()
    endpoints.append(a)
    la = await a.listen("udp", "127.0.0.1")
    await a.listen("tcp", "127.0.0.1")
    b, lb, _ = await _udp_and_tcp_on_one_port(endpoints)
    seen: list[TraceRecord] = []
    acked = asyncio.Event()

    def trace(record: TraceRecord) -> None:
        if record.direction == "in":
            seen.append(record)
            if record.data.startswith(b"ACK "):
                acked.set()

    b.transport.on_trace = trace
    ta, tb = EchoTU(), EchoTU(status=407)
    a.attach(ta)
    b.attach(tb)
    future = ta.send(_invite(la, size=1500), lb, a.now())
    a.poke()
    result = await asyncio.wait_for(future, 5)
    assert isinstance(result, Response) and result.status == 407
    await asyncio.wait_for(acked.wait(), 5)
    invite_in, ack_in = seen
    assert (invite_in.transport, invite_in.data[:7]) == ("tcp", b"INVITE ")
    assert ack_in.transport == "tcp"
    assert ack_in.remote == invite_in.remote  # the same connection
    ack = parse_message(ack_in.data)
    assert ack.top_via is not None and ack.top_via.transport == "TCP"
    invite = parse_message(invite_in.data)
    assert invite.top_via is not None and ack.top_via.branch == invite.top_via.branch
    assert a.transport.stats["udp_followed_to_tcp"] == 1
    assert a.transport.stats.get("udp_out", 0) == 0
    assert b.transport.stats.get("udp_in", 0) == 0


class _SilentOnInvite(EchoTU):
    """Answers OPTIONS; takes an INVITE and never answers it, not even with
    100 Trying (which would stop Timer A by itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = TransactionLayer(send_trying=False)

    def handle_event(self, event: Event, now: float) -> None:
        if isinstance(event, RequestReceived) and event.request.method == "INVITE":
            self.requests.append((event.request, event.source))
            return
        super().handle_event(event, now)


async def _moving_pair(
    endpoints: list[SipEndpoint], t1: float
) -> tuple[SipEndpoint, EchoTU, Peer, Peer, SipEndpoint, Peer, list[str]]:
    """A (UDP and TCP) and a B that never answers an INVITE, whose INVITEs
    arriving at B's transport are listed (retransmissions included: B's
    server transaction would absorb them before its TU)."""
    a = SipEndpoint()
    endpoints.append(a)
    la = await a.listen("udp", "127.0.0.1")
    la_tcp = await a.listen("tcp", "127.0.0.1")
    b, lb, _ = await _udp_and_tcp_on_one_port(endpoints)
    arrived: list[str] = []

    def trace(record: TraceRecord) -> None:
        if record.direction == "in" and record.data.startswith(b"INVITE "):
            arrived.append(record.transport)

    b.transport.on_trace = trace
    ta = EchoTU(timers=TimerConfig(t1=t1, t2=8 * t1, t4=10 * t1))
    a.attach(ta)
    b.attach(_SilentOnInvite())
    return a, ta, la, la_tcp, b, lb, arrived


async def test_invite_moved_to_tcp_is_sent_once(endpoints: list[SipEndpoint]) -> None:
    """§17.1.1.2: over a reliable transport Timer A is not started. With
    T1 = 10 ms a UDP INVITE unanswered until Timer B (640 ms) goes out 7
    times; moved to TCP by §18.1.1, it goes out once and still times out."""
    a, ta, la, la_tcp, _, lb, arrived = await _moving_pair(endpoints, t1=0.01)
    # An open connection first, so the INVITE leaves inside the pump (try_send).
    warm = await _roundtrip(a, ta, la_tcp, Peer("tcp", lb.host, lb.port))
    assert warm.status == 200
    future = ta.send(_invite(la, size=1500), lb, a.now())
    a.poke()
    result = await asyncio.wait_for(future, 5)
    assert isinstance(result, TransactionTimedOut) and result.timer is Timer.B
    assert arrived == ["tcp"]
    assert a.transport.stats["udp_moved_to_tcp"] == 1
    assert a.transport.stats["tcp_out"] == 2  # the OPTIONS and the one INVITE
    assert a.transport.stats.get("udp_out", 0) == 0
    assert a.stats["moved_to_reliable"] == 1


async def test_invite_moved_to_a_new_connection_keeps_only_timer_b(
    endpoints: list[SipEndpoint],
) -> None:
    """The connection is opened first (send, not try_send): the mark comes
    when it is sent, and the endpoint re-arms its timer for Timer B alone."""
    a, ta, la, _, b, lb, _ = await _moving_pair(endpoints, t1=0.5)
    got = asyncio.Event()
    b.transport.on_trace = lambda record: got.set() if record.direction == "in" else None
    start = a.now()
    ta.send(_invite(la, size=1500), lb, start)
    a.poke()
    assert ta.layer.get_timer() == start + 0.5  # Timer A, while UDP is assumed
    await asyncio.wait_for(got.wait(), 5)
    assert a.stats["moved_to_reliable"] == 1
    assert a.transport.stats["tcp_connections_opened"] == 1
    assert ta.layer.get_timer() == start + 32.0  # Timer B = 64*T1 alone
    connections = a.transport.get_timer()  # idle sweeps share the one call_at
    assert a._timer_at == min(t for t in (start + 32.0, connections) if t is not None)
