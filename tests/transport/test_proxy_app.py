"""run_proxy on loopback: scripted user agents (hand-built messages over a real
SipEndpoint and TransactionLayer) register and call through the proxy over
UDP and TLS; two proxies (atlanta, biloxi) with a hosts map and mutual TLS;
bindings survive a restart with SQLite."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from sipsec.auth import DigestClient, Retry
from sipsec.proxy import ProxyConfig, SqliteCredentialStore, make_credential
from sipsec.sip import Request, Response, SipUri, make_response
from sipsec.transaction import (
    Event,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionLayer,
    TransportName,
)
from sipsec.transport.endpoint import SipEndpoint
from sipsec.transport.proxy_app import ProxyServer, run_proxy
from sipsec.transport.resolver import Resolver

from ..proxy._e3_harness import request, retried
from ._e1_pki import Pki, make_pki

TIMEOUT = 5.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class ScriptedUa:
    """A TransactionUser that only records; the test writes every message."""

    def __init__(self, endpoint: SipEndpoint, name: str, domain: str) -> None:
        self._layer = TransactionLayer()
        self.endpoint, self.name, self.domain = endpoint, name, domain
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.address: Peer | None = None

    @property
    def layer(self) -> TransactionLayer:
        return self._layer

    def handle_event(self, event: Event, now: float) -> None:
        self.events.append(event)
        self.changed.set()

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        return []

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        pass

    @property
    def aor(self) -> str:
        return f"sip:{self.name}@{self.domain}"

    @property
    def contact(self) -> str:
        assert self.address is not None
        return f"<sip:{self.name}@{self.address.host}:{self.address.port}>"

    async def wait(self, match: Callable[[Event], bool]) -> Event:
        async def loop() -> Event:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if match(event):
                        self.events.remove(event)
                        return event
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(loop(), TIMEOUT)

    async def final(self, tid: int) -> Response:
        def is_final(event: Event) -> bool:
            return (
                isinstance(event, ResponseReceived)
                and event.transaction_id == tid
                and event.response.status >= 200
            )

        event = await self.wait(is_final)
        assert isinstance(event, ResponseReceived)
        return event.response

    async def incoming(self, method: str) -> RequestReceived:
        def wanted(event: Event) -> bool:
            return isinstance(event, RequestReceived) and event.request.method == method

        event = await self.wait(wanted)
        assert isinstance(event, RequestReceived)
        return event

    def send(self, req: Request, proxy: Peer) -> int:
        tid = self._layer.send_request(req, proxy, self.endpoint.now())
        self.endpoint.poke()
        return tid

    def reply(self, event: RequestReceived, status: int, **headers: str) -> Response:
        response = make_response(event.request, status, to_tag=f"{self.name}tag")
        for name, value in headers.items():
            response.headers.add(name.replace("_", "-"), value)
        for value in event.request.headers.get_all("record-route"):
            response.headers.add("Record-Route", value)
        assert event.transaction_id is not None
        self._layer.send_response(event.transaction_id, response, self.endpoint.now())
        self.endpoint.poke()
        return response

    async def authorized(self, req: Request, proxy: Peer, password: str) -> tuple[int, Request]:
        """Send, answer the 401/407 with Digest, send again; (tid, request)."""
        first = await self.final(self.send(req, proxy))
        assert first.status in (401, 407), first
        headers = first.www_authenticate if first.status == 401 else first.proxy_authenticate
        flow = DigestClient(self.name, password).start(req.method, str(req.uri), req.body)
        step = flow.challenged(first.status, headers)
        assert isinstance(step, Retry)
        again = retried(req)
        for cred in step.credentials:
            again.headers.add(cred.header_name, str(cred.value))
        return self.send(again, proxy), again


@pytest.fixture
async def closing() -> AsyncIterator[list[ProxyServer | SipEndpoint]]:
    items: list[ProxyServer | SipEndpoint] = []
    yield items
    for item in reversed(items):
        await item.close()


def _users(db: Path, domain: str, *names: str) -> None:
    store = SqliteCredentialStore(str(db))
    try:
        for name in names:
            store.put(make_credential(name, domain, f"pw-{name}"))
    finally:
        store.close()


async def _ua(
    closing: list[ProxyServer | SipEndpoint],
    name: str,
    domain: str,
    transport: TransportName = "udp",
    tls: object = None,
) -> ScriptedUa:
    endpoint = SipEndpoint(tls=tls, resolver=Resolver(use_dns=False))  # type: ignore[arg-type]
    closing.append(endpoint)
    ua = ScriptedUa(endpoint, name, domain)
    ua.address = await endpoint.listen(transport, "127.0.0.1", 0)
    endpoint.attach(ua)
    return ua


async def _register(ua: ScriptedUa, proxy: Peer, contact: str | None = None) -> Response:
    assert ua.address is not None
    req = request(
        "REGISTER", f"sip:{ua.domain}", from_=ua.aor, to=ua.aor, via=ua.address,
        contact=contact or ua.contact, call_id=f"reg-{ua.name}-{ua.address.port}",
    )  # fmt: skip
    tid, _ = await ua.authorized(req, proxy, f"pw-{ua.name}")
    return await ua.final(tid)


async def _call(alice: ScriptedUa, bob: ScriptedUa, proxy: Peer, target: str) -> list[str]:
    """INVITE (with 407), 180, 200, ACK and BYE along the recorded route;
    returns the Record-Route the callee saw."""
    assert alice.address is not None
    invite = request(
        "INVITE", target, from_=alice.aor, to=target, via=alice.address,
        contact=alice.contact, call_id=f"call-{alice.address.port}",
    )  # fmt: skip
    tid, sent = await alice.authorized(invite, proxy, f"pw-{alice.name}")
    incoming = await bob.incoming("INVITE")
    record_route = incoming.request.headers.get_all("record-route")
    bob.reply(incoming, 180)
    bob.reply(incoming, 200, Contact=bob.contact)
    ok = await alice.final(tid)
    assert ok.status == 200
    route = list(reversed(ok.headers.get_all("record-route")))
    remote = ok.contacts[0].uri
    assert remote is not None and ok.to is not None and ok.to.tag is not None
    for method, cseq in (("ACK", 2), ("BYE", 3)):
        req = request(
            method, str(remote), from_=alice.aor, to=target, via=alice.address,
            call_id=f"call-{alice.address.port}", cseq=cseq, to_tag=ok.to.tag,
            extra=[("Route", r) for r in route],
        )  # fmt: skip
        if method == "ACK":
            alice.endpoint.transport.try_send(req, proxy) or await alice.endpoint.transport.send(
                req, proxy
            )
            ack = await bob.incoming("ACK")
            assert ack.request.cseq is not None and ack.request.cseq.seq == 2
        else:
            bye_tid = alice.send(req, proxy)
            bye = await bob.incoming("BYE")
            bob.reply(bye, 200)
            assert (await alice.final(bye_tid)).status == 200
    del sent
    return record_route


async def test_register_and_call_over_udp(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path
) -> None:
    db = tmp_path / "atlanta.db"
    _users(db, "atlanta.example", "alice", "bob")
    config = ProxyConfig("atlanta.example")
    server = await run_proxy(
        config, listen=[("udp", "127.0.0.1", 0)], tls=None, database=str(db), redis_url=None
    )
    closing.append(server)
    proxy = server.addresses[0]
    alice = await _ua(closing, "alice", "atlanta.example")
    bob = await _ua(closing, "bob", "atlanta.example")
    ok = await _register(bob, proxy)
    assert ok.status == 200 and ok.contacts[0].expires == 3600
    rr = await _call(alice, bob, proxy, "sip:bob@atlanta.example")
    assert rr == [f"<sip:127.0.0.1:{proxy.port};lr>"]
    methods = [(r.method, r.status) for r in server.core.log]
    assert ("REGISTER", 200) in methods and ("INVITE", 200) in methods and ("BYE", 200) in methods


async def test_tls_caller_udp_callee_double_record_route(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path, pki: Pki
) -> None:
    db = tmp_path / "atlanta.db"
    _users(db, "atlanta.example", "alice", "bob")
    server = await run_proxy(
        ProxyConfig("atlanta.example"),
        listen=[("udp", "127.0.0.1", 0), ("tls", "127.0.0.1", 0)],
        tls=pki.settings(pki.atlanta),
        database=str(db),
        redis_url=None,
    )
    closing.append(server)
    udp, tls = server.addresses
    proxy_tls = Peer("tls", tls.host, tls.port, "atlanta.example")
    alice = await _ua(closing, "alice", "atlanta.example", "tls", pki.settings(pki.atlanta))
    bob = await _ua(closing, "bob", "atlanta.example")
    assert (await _register(bob, udp)).status == 200
    rr = await _call(alice, bob, proxy_tls, "sip:bob@atlanta.example")
    # RFC 5658: the callee's side (UDP) on top, the caller's (TLS) below.
    assert rr == [
        f"<sip:127.0.0.1:{udp.port};lr>",
        f"<sip:127.0.0.1:{tls.port};transport=tls;lr>",
    ]


async def test_two_domains_with_hosts_map_and_mutual_tls(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path, pki: Pki
) -> None:
    _users(tmp_path / "a.db", "atlanta.example", "alice")
    _users(tmp_path / "b.db", "biloxi.example", "bob")
    biloxi = await run_proxy(
        ProxyConfig("biloxi.example", trusted_domains=frozenset({"atlanta.example"})),
        listen=[("udp", "127.0.0.1", 0), ("tls", "127.0.0.1", 0)],
        tls=pki.settings(pki.biloxi),
        database=str(tmp_path / "b.db"),
        redis_url=None,
    )
    closing.append(biloxi)
    b_udp, b_tls = biloxi.addresses
    hosts = {"biloxi.example": [Peer("tls", b_tls.host, b_tls.port, "biloxi.example")]}
    atlanta = await run_proxy(
        ProxyConfig("atlanta.example", hosts=hosts),
        listen=[("udp", "127.0.0.1", 0), ("tls", "127.0.0.1", 0)],
        tls=pki.settings(pki.atlanta),
        database=str(tmp_path / "a.db"),
        redis_url=None,
        use_dns=False,
    )
    closing.append(atlanta)
    alice = await _ua(closing, "alice", "atlanta.example")
    bob = await _ua(closing, "bob", "biloxi.example")
    assert (await _register(bob, b_udp)).status == 200
    rr = await _call(alice, bob, atlanta.addresses[0], "sip:bob@biloxi.example")
    a_udp, a_tls = atlanta.addresses
    # Each proxy changes transport (UDP in, TLS out; TLS in, UDP out): four entries.
    assert rr == [
        f"<sip:127.0.0.1:{b_udp.port};lr>",
        f"<sip:127.0.0.1:{b_tls.port};transport=tls;lr>",
        f"<sip:127.0.0.1:{a_tls.port};transport=tls;lr>",
        f"<sip:127.0.0.1:{a_udp.port};lr>",
    ]
    assert biloxi.endpoint.transport.stats.get("tls_connections_accepted", 0) >= 1


async def test_restart_keeps_bindings_in_sqlite(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path
) -> None:
    db = tmp_path / "atlanta.db"
    _users(db, "atlanta.example", "alice", "bob")
    listen: list[tuple[TransportName, str, int]] = [("udp", "127.0.0.1", 0)]
    first = await run_proxy(
        ProxyConfig("atlanta.example"), listen=listen, tls=None, database=str(db), redis_url=None
    )
    bob = await _ua(closing, "bob", "atlanta.example")
    assert (await _register(bob, first.addresses[0])).status == 200
    await first.close()
    second = await run_proxy(
        ProxyConfig("atlanta.example"), listen=listen, tls=None, database=str(db), redis_url=None
    )
    closing.append(second)
    alice = await _ua(closing, "alice", "atlanta.example")
    await _call(alice, bob, second.addresses[0], "sip:bob@atlanta.example")


async def test_close_refuses_new_requests_with_503(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path
) -> None:
    server = await run_proxy(
        ProxyConfig("atlanta.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=str(tmp_path / "x.db"),
        redis_url=None,
    )
    closing.append(server)
    server.core.accepting = False
    alice = await _ua(closing, "alice", "atlanta.example")
    assert alice.address is not None
    req = request("OPTIONS", "sip:bob@atlanta.example", via=alice.address)
    response = await alice.final(alice.send(req, server.addresses[0]))
    assert response.status == 503 and response.headers.get("Retry-After") == "5"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of our own on a free loopback port, stopped by PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    redis = pytest.importorskip("redis")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
        for _ in range(250):  # readiness by polling PING, bounded by tries
            try:
                client.ping()
                break
            except redis.ConnectionError:
                try:
                    proc.wait(0.02)
                except subprocess.TimeoutExpired:
                    pass
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_two_proxies_share_one_domain_through_redis(
    closing: list[ProxyServer | SipEndpoint], redis_url: str
) -> None:
    from sipsec.proxy import RedisCredentialStore

    store = RedisCredentialStore(redis_url)
    for name in ("alice", "bob"):
        store.put(make_credential(name, "atlanta.example", f"pw-{name}"))
    store.close()
    secret = b"shared-secret-of-atlanta-example"
    servers = []
    for _ in range(2):
        server = await run_proxy(
            ProxyConfig("atlanta.example"),
            listen=[("udp", "127.0.0.1", 0)],
            tls=None,
            database=None,
            redis_url=redis_url,
            secret=secret,
        )
        closing.append(server)
        servers.append(server)
    alice = await _ua(closing, "alice", "atlanta.example")
    bob = await _ua(closing, "bob", "atlanta.example")
    assert (await _register(bob, servers[0].addresses[0])).status == 200
    # The other process finds the binding Bob left in the shared store.
    await _call(alice, bob, servers[1].addresses[0], "sip:bob@atlanta.example")


async def test_callee_reached_over_its_registration_connection(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path
) -> None:
    """Bob registers over TCP with a Contact nobody listens on (a UA behind
    NAT, or one that accepts no connections): the proxy uses his connection."""
    db = tmp_path / "atlanta.db"
    _users(db, "atlanta.example", "alice", "bob")
    server = await run_proxy(
        ProxyConfig("atlanta.example"),
        listen=[("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)],
        tls=None,
        database=str(db),
        redis_url=None,
    )
    closing.append(server)
    udp, tcp = server.addresses
    alice = await _ua(closing, "alice", "atlanta.example")
    bob = await _ua(closing, "bob", "atlanta.example", "tcp")
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    contact = f"<sip:bob@127.0.0.1:{dead};transport=tcp>"
    assert (await _register(bob, tcp, contact)).status == 200
    assert alice.address is not None
    invite = request(
        "INVITE", "sip:bob@atlanta.example", from_=alice.aor, via=alice.address,
        contact=alice.contact, call_id="flow-call",
    )  # fmt: skip
    tid, _ = await alice.authorized(invite, udp, "pw-alice")
    incoming = await bob.incoming("INVITE")
    bob.reply(incoming, 486)
    assert (await alice.final(tid)).status == 486


async def test_collector_threshold_raised_while_proxies_run_and_restored_after() -> None:
    import gc

    before = gc.get_threshold()
    untuned = await run_proxy(
        ProxyConfig("c.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=None,
        redis_url=None,
        tune_gc=False,
    )
    assert gc.get_threshold() == before
    first = await run_proxy(
        ProxyConfig("a.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=None,
        redis_url=None,
    )
    second = await run_proxy(
        ProxyConfig("b.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=None,
        redis_url=None,
    )
    try:
        raised = gc.get_threshold()
        assert raised[0] > before[0]
        await first.close(grace=0)
        await first.close(grace=0)  # idempotent: releases once
        assert gc.get_threshold() == raised  # the demo's second proxy still runs
    finally:
        await second.close(grace=0)
        await first.close(grace=0)
        await untuned.close(grace=0)
    assert gc.get_threshold() == before


async def test_udp_only_proxy_listens_on_tcp_too_and_forwards_a_large_invite(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path
) -> None:
    """RFC 3261 §18: every element implements TCP. A proxy asked for UDP only
    also listens on TCP at that port, so a 1,307+ byte INVITE (moved to TCP
    by §18.1.1 at each hop) is forwarded instead of answered 500; the ACK
    for the 407 follows the INVITE onto TCP (§17.1.1.3)."""
    db = tmp_path / "atlanta.db"
    _users(db, "atlanta.example", "alice", "bob")
    server = await run_proxy(
        ProxyConfig("atlanta.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=str(db),
        redis_url=None,
    )
    closing.append(server)
    (proxy,) = server.addresses
    assert server.tcp_beside_udp == [Peer("tcp", "127.0.0.1", proxy.port)]
    alice = await _ua(closing, "alice", "atlanta.example")
    bob = await _ua(closing, "bob", "atlanta.example")
    for ua in (alice, bob):  # user agents implement TCP too, on their UDP port
        assert ua.address is not None
        await ua.endpoint.listen("tcp", "127.0.0.1", ua.address.port)
    assert (await _register(bob, proxy)).status == 200
    assert alice.address is not None
    invite = request(
        "INVITE", "sip:bob@atlanta.example", from_=alice.aor, to="sip:bob@atlanta.example",
        via=alice.address, contact=alice.contact, call_id=f"big-{alice.address.port}",
        extra=[("X-Padding", "x" * 1400)],
    )  # fmt: skip
    assert len(bytes(invite)) > 1300
    tid, _ = await alice.authorized(invite, proxy, "pw-alice")
    incoming = await bob.incoming("INVITE")
    assert incoming.source.transport == "tcp"
    bob.reply(incoming, 486)
    assert (await alice.final(tid)).status == 486
    stats = server.stats
    assert stats["udp_moved_to_tcp"] >= 1 and stats.get("send_failures", 0) == 0
    # The ACKs for the 407 and the 486 followed their INVITEs; nothing of alice's went by UDP.
    assert alice.endpoint.transport.stats["udp_followed_to_tcp"] == 2
    assert alice.endpoint.transport.stats.get("udp_out", 0) == 0


async def test_a_register_replayed_to_a_sibling_proxy_on_one_redis_is_challenged(
    closing: list[ProxyServer | SipEndpoint], redis_url: str
) -> None:
    """Nonce counts live in Redis: (nonce, nc) accepted by A is a replay at B."""
    from sipsec.proxy import RedisCredentialStore

    store = RedisCredentialStore(redis_url)
    store.put(make_credential("alice", "atlanta.example", "pw-alice"))
    store.close()
    servers = []
    for _ in range(2):
        server = await run_proxy(
            ProxyConfig("atlanta.example"),
            listen=[("udp", "127.0.0.1", 0)],
            tls=None,
            database=None,
            redis_url=redis_url,
            secret=b"shared-secret-of-atlanta-example",
        )
        closing.append(server)
        servers.append(server)
    a, b = (s.addresses[0] for s in servers)
    alice = await _ua(closing, "alice", "atlanta.example")
    assert alice.address is not None
    req = request(
        "REGISTER", "sip:atlanta.example", from_=alice.aor, to=alice.aor, via=alice.address,
        contact=alice.contact, call_id="reg-replay",
    )  # fmt: skip
    tid, sent = await alice.authorized(req, a, "pw-alice")
    assert (await alice.final(tid)).status == 200
    # The attacker's copy: the same credentials, a new branch and the next
    # CSeq (Digest does not cover it), which B's registrar would accept.
    replay = retried(sent)
    assert replay.headers.get_lines("Authorization") == sent.headers.get_lines("Authorization")
    refused = await alice.final(alice.send(replay, b))
    assert refused.status == 401
    assert any("stale=true" in v for v in refused.headers.get_lines("WWW-Authenticate"))
    # B saw a valid nonce (the secret is shared) and refused it as a replay.
    assert [r.detail for r in servers[1].core.log if r.status == 401][-1] == "replayed nonce"
    # A fresh nonce from B works at B: the shared secret validates it there.
    again = request(
        "REGISTER", "sip:atlanta.example", from_=alice.aor, to=alice.aor, via=alice.address,
        contact=alice.contact, call_id="reg-replay", cseq=5,
    )  # fmt: skip
    tid, _ = await alice.authorized(again, b, "pw-alice")
    assert (await alice.final(tid)).status == 200


async def test_a_forwarded_invite_carries_no_credentials_for_our_realm(
    closing: list[ProxyServer | SipEndpoint], tmp_path: Path
) -> None:
    """RFC 3261 §22.3 over the wire: the proxy consumes atlanta's credentials
    and passes a downstream realm's on untouched."""
    db = tmp_path / "atlanta.db"
    _users(db, "atlanta.example", "alice", "bob")
    proxy = await run_proxy(
        ProxyConfig("atlanta.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=str(db),
        redis_url=None,
    )
    closing.append(proxy)
    server = proxy.addresses[0]
    alice = await _ua(closing, "alice", "atlanta.example")
    bob = await _ua(closing, "bob", "atlanta.example")
    assert alice.address is not None
    assert (await _register(bob, server)).status == 200
    downstream = (
        'Digest username="alice", realm="biloxi.example", nonce="x", uri="sip:b", response="y"'
    )
    invite = request(
        "INVITE", "sip:bob@atlanta.example", from_=alice.aor, to="sip:bob@atlanta.example",
        via=alice.address, contact=alice.contact, call_id="consume",
        extra=[("Proxy-Authorization", downstream)],
    )  # fmt: skip
    tid, sent = await alice.authorized(invite, server, "pw-alice")
    assert len(sent.headers.get_lines("Proxy-Authorization")) == 2  # ours and biloxi's
    incoming = await bob.incoming("INVITE")
    assert incoming.request.headers.get_lines("Proxy-Authorization") == [downstream]
    bob.reply(incoming, 486)
    assert (await alice.final(tid)).status == 486


async def test_redis_without_a_shared_secret_is_warned_about(
    closing: list[ProxyServer | SipEndpoint], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await run_proxy(
        ProxyConfig("atlanta.example"),
        listen=[("udp", "127.0.0.1", 0)],
        tls=None,
        database=None,
        redis_url=redis_url,
    )
    closing.append(server)
    assert any("shared secret" in r.getMessage() for r in caplog.records)
