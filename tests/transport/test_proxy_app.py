"""run_proxy on loopback: scripted user agents (hand-built messages over a real
SipEndpoint and TransactionLayer) register and call through the proxy over
UDP and TLS; two proxies (atlanta, biloxi) with a hosts map and mutual TLS;
bindings survive a restart with SQLite."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sipsec.proxy import ProxyConfig, make_credential
from sipsec.transaction import Peer
from sipsec.transport.proxy_app import ProxyServer

from ..proxy._e3_harness import request, retried
from ._e1_pki import Pki
from ._proxy_helpers import (
    ATLANTA,
    Closing,
    call,
    invite,
    invite_answered_486,
    new_ua,
    new_uas,
    register,
    register_request,
    start_proxy,
)

USERS = ("alice", "bob")  # of atlanta.example, password pw-NAME


async def test_register_and_call_over_udp(closing: Closing, tmp_path: Path) -> None:
    server = await start_proxy(closing, database=tmp_path / "atlanta.db", users=USERS)
    proxy = server.addresses[0]
    alice, bob = await new_uas(closing, "alice", "bob")
    ok = await register(bob, proxy)
    assert ok.status == 200 and ok.contacts[0].expires == 3600
    rr = await call(alice, bob, proxy, "sip:bob@atlanta.example")
    assert rr == [f"<sip:127.0.0.1:{proxy.port};lr>"]
    methods = [(r.method, r.status) for r in server.core.log]
    assert ("REGISTER", 200) in methods and ("INVITE", 200) in methods and ("BYE", 200) in methods


async def test_tls_caller_udp_callee_double_record_route(
    closing: Closing, tmp_path: Path, pki: Pki
) -> None:
    server = await start_proxy(
        closing, ATLANTA, "udp", "tls", database=tmp_path / "atlanta.db", users=USERS,
        tls=pki.settings(pki.atlanta),
    )  # fmt: skip
    udp, tls = server.addresses
    proxy_tls = Peer("tls", tls.host, tls.port, "atlanta.example")
    alice = await new_ua(closing, "alice", ATLANTA, "tls", pki.settings(pki.atlanta))
    bob = await new_ua(closing, "bob")
    assert (await register(bob, udp)).status == 200
    rr = await call(alice, bob, proxy_tls, "sip:bob@atlanta.example")
    # RFC 5658: the callee's side (UDP) on top, the caller's (TLS) below.
    assert rr == [
        f"<sip:127.0.0.1:{udp.port};lr>",
        f"<sip:127.0.0.1:{tls.port};transport=tls;lr>",
    ]


async def test_two_domains_with_hosts_map_and_mutual_tls(
    closing: Closing, tmp_path: Path, pki: Pki
) -> None:
    biloxi = await start_proxy(
        closing, ProxyConfig("biloxi.example", trusted_domains=frozenset({ATLANTA})),
        "udp", "tls", database=tmp_path / "b.db", users=["bob"], tls=pki.settings(pki.biloxi),
    )  # fmt: skip
    b_udp, b_tls = biloxi.addresses
    hosts = {"biloxi.example": [Peer("tls", b_tls.host, b_tls.port, "biloxi.example")]}
    atlanta = await start_proxy(
        closing, ProxyConfig(ATLANTA, hosts=hosts), "udp", "tls", database=tmp_path / "a.db",
        users=["alice"], tls=pki.settings(pki.atlanta), use_dns=False,
    )  # fmt: skip
    alice = await new_ua(closing, "alice")
    bob = await new_ua(closing, "bob", "biloxi.example")
    assert (await register(bob, b_udp)).status == 200
    rr = await call(alice, bob, atlanta.addresses[0], "sip:bob@biloxi.example")
    a_udp, a_tls = atlanta.addresses
    # Each proxy changes transport (UDP in, TLS out; TLS in, UDP out): four entries.
    assert rr == [
        f"<sip:127.0.0.1:{b_udp.port};lr>",
        f"<sip:127.0.0.1:{b_tls.port};transport=tls;lr>",
        f"<sip:127.0.0.1:{a_tls.port};transport=tls;lr>",
        f"<sip:127.0.0.1:{a_udp.port};lr>",
    ]
    assert biloxi.endpoint.transport.stats.get("tls_connections_accepted", 0) >= 1


async def test_restart_keeps_bindings_in_sqlite(closing: Closing, tmp_path: Path) -> None:
    db = tmp_path / "atlanta.db"
    first = await start_proxy(closing, database=db, users=USERS)
    bob = await new_ua(closing, "bob")
    assert (await register(bob, first.addresses[0])).status == 200
    await first.close()  # closing it again at teardown does nothing
    second = await start_proxy(closing, database=db)
    alice = await new_ua(closing, "alice")
    await call(alice, bob, second.addresses[0], "sip:bob@atlanta.example")


async def test_close_refuses_new_requests_with_503(closing: Closing, tmp_path: Path) -> None:
    server = await start_proxy(closing, database=tmp_path / "x.db")
    server.core.accepting = False
    alice = await new_ua(closing, "alice")
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


async def _redis_siblings(closing: Closing, redis_url: str, *users: str) -> list[ProxyServer]:
    """Two proxies of atlanta.example on one Redis with one shared secret, as
    two processes of a scaled-out domain; ``users`` added to the Redis store."""
    from sipsec.proxy import RedisCredentialStore

    store = RedisCredentialStore(redis_url)
    for name in users:
        store.put(make_credential(name, ATLANTA, f"pw-{name}"))
    store.close()
    return [
        await start_proxy(closing, redis_url=redis_url, secret=b"shared-secret-of-atlanta-example")
        for _ in range(2)
    ]


async def test_two_proxies_share_one_domain_through_redis(closing: Closing, redis_url: str) -> None:

    servers = await _redis_siblings(closing, redis_url, *USERS)
    alice, bob = await new_uas(closing, "alice", "bob")
    assert (await register(bob, servers[0].addresses[0])).status == 200
    # The other process finds the binding Bob left in the shared store.
    await call(alice, bob, servers[1].addresses[0], "sip:bob@atlanta.example")


async def test_callee_reached_over_its_registration_connection(
    closing: Closing, tmp_path: Path
) -> None:
    """Bob registers over TCP with a Contact nobody listens on (a UA behind
    NAT, or one that accepts no connections): the proxy uses his connection."""
    server = await start_proxy(
        closing, ATLANTA, "udp", "tcp", database=tmp_path / "atlanta.db", users=USERS
    )
    udp, tcp = server.addresses
    alice = await new_ua(closing, "alice")
    bob = await new_ua(closing, "bob", ATLANTA, "tcp")
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    contact = f"<sip:bob@127.0.0.1:{dead};transport=tcp>"
    assert (await register(bob, tcp, contact)).status == 200
    req = invite(alice, "sip:bob@atlanta.example", "flow-call")
    await invite_answered_486(alice, bob, req, udp)


async def test_collector_threshold_raised_while_proxies_run_and_restored_after() -> None:
    import gc

    before = gc.get_threshold()
    started: Closing = []  # closed below, in the order the test checks
    untuned = await start_proxy(started, "c.example", tune_gc=False)
    assert gc.get_threshold() == before
    first = await start_proxy(started, "a.example")
    second = await start_proxy(started, "b.example")
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
    closing: Closing, tmp_path: Path
) -> None:
    """RFC 3261 §18: every element implements TCP. A proxy asked for UDP only
    also listens on TCP at that port, so a 1,307+ byte INVITE (moved to TCP
    by §18.1.1 at each hop) is forwarded instead of answered 500; the ACK
    for the 407 follows the INVITE onto TCP (§17.1.1.3)."""
    server = await start_proxy(closing, database=tmp_path / "atlanta.db", users=USERS)
    (proxy,) = server.addresses
    assert server.tcp_beside_udp == [Peer("tcp", "127.0.0.1", proxy.port)]
    alice, bob = await new_uas(closing, "alice", "bob")
    for ua in (alice, bob):  # user agents implement TCP too, on their UDP port
        assert ua.address is not None
        await ua.endpoint.listen("tcp", "127.0.0.1", ua.address.port)
    assert (await register(bob, proxy)).status == 200
    assert alice.address is not None
    req = invite(
        alice, "sip:bob@atlanta.example", f"big-{alice.address.port}",
        to="sip:bob@atlanta.example", extra=[("X-Padding", "x" * 1400)],
    )  # fmt: skip
    assert len(bytes(req)) > 1300
    incoming, _ = await invite_answered_486(alice, bob, req, proxy)
    assert incoming.source.transport == "tcp"
    stats = server.stats
    assert stats["udp_moved_to_tcp"] >= 1 and stats.get("send_failures", 0) == 0
    # The ACKs for the 407 and the 486 followed their INVITEs; nothing of alice's went by UDP.
    assert alice.endpoint.transport.stats["udp_followed_to_tcp"] == 2
    assert alice.endpoint.transport.stats.get("udp_out", 0) == 0


async def test_a_register_replayed_to_a_sibling_proxy_on_one_redis_is_challenged(
    closing: Closing, redis_url: str
) -> None:
    """Nonce counts live in Redis: (nonce, nc) accepted by A is a replay at B."""
    servers = await _redis_siblings(closing, redis_url, "alice")
    a, b = (s.addresses[0] for s in servers)
    alice = await new_ua(closing, "alice")
    req = register_request(alice, call_id="reg-replay")
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
    again = register_request(alice, call_id="reg-replay", cseq=5)
    tid, _ = await alice.authorized(again, b, "pw-alice")
    assert (await alice.final(tid)).status == 200


async def test_a_forwarded_invite_carries_no_credentials_for_our_realm(
    closing: Closing, tmp_path: Path
) -> None:
    """RFC 3261 §22.3 over the wire: the proxy consumes atlanta's credentials
    and passes a downstream realm's on untouched."""
    proxy = await start_proxy(closing, database=tmp_path / "atlanta.db", users=USERS)
    server = proxy.addresses[0]
    alice, bob = await new_uas(closing, "alice", "bob")
    assert (await register(bob, server)).status == 200
    downstream = (
        'Digest username="alice", realm="biloxi.example", nonce="x", uri="sip:b", response="y"'
    )
    req = invite(
        alice, "sip:bob@atlanta.example", "consume", to="sip:bob@atlanta.example",
        extra=[("Proxy-Authorization", downstream)],
    )  # fmt: skip
    incoming, sent = await invite_answered_486(alice, bob, req, server)
    assert len(sent.headers.get_lines("Proxy-Authorization")) == 2  # ours and biloxi's
    assert incoming.request.headers.get_lines("Proxy-Authorization") == [downstream]


async def test_redis_without_a_shared_secret_is_warned_about(
    closing: Closing, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await start_proxy(closing, redis_url=redis_url)
    assert any("shared secret" in r.getMessage() for r in caplog.records)
