"""The UA app on loopback: two UaApps call each other, media counted both ways."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sipsec.ca import CertificateStore
from sipsec.proxy import ProxyConfig, SqliteCredentialStore, make_credential
from sipsec.rtp import read_wav
from sipsec.sip import parse_message
from sipsec.transaction import Peer
from sipsec.transport.proxy_app import ProxyServer, run_proxy
from sipsec.transport.tls import TlsSettings
from sipsec.transport.trace import TraceRecord, WireRecord
from sipsec.transport.ua_app import CallSummary, UaApp, UaAppError, UaSettings
from sipsec.transport.ua_events import redact_keys
from sipsec.transport.ua_media import CallMedia
from sipsec.ua.media_offer import SmimeIdentity

from .._pki import Pki as SharedPki
from ._ua_helpers import running

ALICE, BOB = "sip:alice@atlanta.example", "sip:bob@biloxi.example"
SUITE = "AES_CM_128_HMAC_SHA1_80"
DURATION = 1.0
DOMAIN = "example.com"


@dataclass(frozen=True)
class Pki:
    """The suite's PKI as these tests use it: S/MIME identities, domain PEM files."""

    shared: SharedPki
    store: CertificateStore
    alice: SmimeIdentity
    bob: SmimeIdentity
    carol: SmimeIdentity
    alice_here: SmimeIdentity  # sip:alice@example.com, the proxy tests' domain
    bob_here: SmimeIdentity

    @property
    def ca_path(self) -> Path:
        return self.shared.ca

    def pem(self, domain: str) -> tuple[Path, Path]:
        creds = self.shared.domain(domain)
        return creds.cert, creds.key


@pytest.fixture(scope="module")
def pki(pki: SharedPki) -> Pki:
    """Users (S/MIME) and domains (TLS) of the shared PKI, valid now: the app
    checks with the real clock."""
    users = [
        pki.alice,
        pki.bob,
        pki.user("sip:carol@chicago.example"),
        pki.user(f"sip:alice@{DOMAIN}"),
        pki.user(f"sip:bob@{DOMAIN}"),
    ]
    alice, bob, carol, alice_here, bob_here = (
        SmimeIdentity(u.certificate, u.private_key) for u in users
    )
    return Pki(pki, pki.store(*users), alice, bob, carol, alice_here, bob_here)


def _smime(pki: Pki, who: SmimeIdentity, **kw: object) -> UaSettings:
    aor = ALICE if who is pki.alice else BOB
    settings = UaSettings(aor, keys="smime", identity=who, trust=pki.store, timeout=5.0)
    for name, value in kw.items():
        setattr(settings, name, value)
    return settings


async def _call_pair(
    caller: UaSettings, callee: UaSettings, target_user: str = "bob"
) -> tuple[CallSummary, CallSummary]:
    async with running(callee) as bob, running(caller) as alice:
        assert bob.local is not None
        scheme = "sips" if bob.transport == "tls" else "sip"
        host = "biloxi.example" if bob.transport == "tls" else bob.local.host
        target = f"{scheme}:{target_user}@{host}:{bob.local.port}"
        answering = asyncio.create_task(bob.answer(1, timeout=10))
        outgoing = await alice.call(target, DURATION)
        async with asyncio.timeout(10):
            answered = await answering
    assert len(answered) == 1
    return outgoing, answered[0]


def _assert_media_both_ways(a: CallSummary, b: CallSummary, *, suite: str | None) -> None:
    assert a.final_status == b.final_status == 200
    assert a.srtp_suite == b.srtp_suite == suite
    # 20 ms packets for about a second each way, with slack for a busy machine.
    for summary in (a, b):
        assert summary.packets_sent >= 30 and summary.packets_received >= 30
        assert summary.packets_rejected == 0
    assert b.ended_by_remote and not a.ended_by_remote
    assert a.duration >= DURATION


async def test_direct_call_over_udp_with_smime_keys(pki: Pki) -> None:
    seen: list[TraceRecord] = []
    wire: list[WireRecord] = []
    bound: list[CallMedia] = []
    caller = _smime(
        pki, pki.alice, peer_certificate=pki.bob.certificate, on_trace=seen.append,
        on_media_wire=wire.append, on_media=bound.append,
    )  # fmt: skip
    callee = _smime(pki, pki.bob)
    a, b = await _call_pair(caller, callee)
    _assert_media_both_ways(a, b, suite=SUITE)
    assert a.smime and b.smime
    # The media hook saw every datagram as sent: SRTP (12 + 160 + a 10-octet
    # tag for AES_CM_128_HMAC_SHA1_80), and the RTCP besides (rtcp-mux).
    assert all(w.direction == "out" and w.local == bound[0].local_rtp for w in wire)
    rtp = [w for w in wire if w.data[1] & 0x7F == 0 and len(w.data) == 12 + 160 + 10]
    assert len(rtp) == a.packets_sent and len(wire) > len(rtp)
    # §23: the S/MIME answer is marked like the offer, so a UA that cannot open it fails.
    oks = [
        parse_message(r.data)
        for r in seen
        if r.direction == "in" and r.data.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in r.data
    ]  # one, or more when the 2xx was retransmitted before the ACK (§13.3.1.4)
    assert oks
    assert all(ok.headers.get("Content-Disposition") == "session;handling=required" for ok in oks)


async def test_direct_call_over_tls_with_sdes_keys(pki: Pki) -> None:
    def tls(domain: str) -> TlsSettings:
        cert, key = pki.pem(domain)
        return TlsSettings(pki.ca_path, certfile=cert, keyfile=key)

    callee = UaSettings(BOB, transport="tls", tls=tls("biloxi.example"), timeout=5.0)
    callee.contact_host = "biloxi.example"  # the ACK and BYE go to a name Alice can verify
    caller = UaSettings(ALICE, transport="tls", tls=tls("atlanta.example"), timeout=5.0)
    async with running(callee) as bob:
        assert bob.local is not None
        caller.hosts = {
            "biloxi.example": [Peer("tls", "127.0.0.1", bob.local.port, "biloxi.example")]
        }
        caller.use_dns = False
        async with running(caller) as alice:
            answering = asyncio.create_task(bob.answer(1, timeout=10))
            a = await alice.call("sips:bob@biloxi.example", DURATION)
            async with asyncio.timeout(10):
                (b,) = await answering
    _assert_media_both_ways(a, b, suite=SUITE)
    assert not a.smime and not b.smime


async def test_sdes_to_a_sip_target_over_a_tls_first_hop_is_refused(pki: Pki) -> None:
    """RFC 3261 §26.2.2: only sips: keeps TLS past the first hop."""
    cert, key = pki.pem("atlanta.example")
    caller = UaSettings(
        ALICE, transport="tls", tls=TlsSettings(pki.ca_path, certfile=cert, keyfile=key),
        hosts={"biloxi.example": [Peer("tls", "127.0.0.1", 9, "biloxi.example")]},
        use_dns=False, timeout=2.0,
    )  # fmt: skip
    async with running(caller) as alice:
        assert alice.keys_protected_to("sips:bob@biloxi.example")
        assert not alice.keys_protected_to("sip:bob@biloxi.example")
        with pytest.raises(UaAppError) as info:
            await alice.call("sip:bob@biloxi.example", DURATION)
    assert info.value.kind == "usage"
    assert "not sips:" in str(info.value) and "--allow-sdes-over-first-hop-tls" in str(info.value)


async def test_the_opt_in_sends_sdes_to_a_sip_target_over_tls(pki: Pki) -> None:
    def tls(domain: str) -> TlsSettings:
        cert, key = pki.pem(domain)
        return TlsSettings(pki.ca_path, certfile=cert, keyfile=key)

    callee = UaSettings(BOB, transport="tls", tls=tls("biloxi.example"), timeout=5.0)
    callee.contact_host = "biloxi.example"
    caller = UaSettings(
        ALICE, transport="tls", tls=tls("atlanta.example"), timeout=5.0,
        allow_sdes_over_first_hop_tls=True, use_dns=False,
    )  # fmt: skip
    async with running(callee) as bob:
        assert bob.local is not None
        caller.hosts = {
            "biloxi.example": [Peer("tls", "127.0.0.1", bob.local.port, "biloxi.example")]
        }
        async with running(caller) as alice:
            answering = asyncio.create_task(bob.answer(1, timeout=10))
            a = await alice.call("sip:bob@biloxi.example;transport=tls", DURATION)
            async with asyncio.timeout(10):
                (b,) = await answering
    _assert_media_both_ways(a, b, suite=SUITE)


async def test_plain_rtp_only_when_both_ask(pki: Pki) -> None:
    bound: list[CallMedia] = []
    wire: list[WireRecord] = []
    caller = UaSettings(ALICE, media="rtp", timeout=5.0, on_media=bound.append)
    callee = UaSettings(BOB, media="rtp", timeout=5.0, on_wire=wire.append)
    a, b = await _call_pair(caller, callee)
    _assert_media_both_ways(a, b, suite=None)
    assert len(bound) == 1 and bound[0].agreed is not None and bound[0].agreed.suite is None
    assert any(r.data.startswith(b"INVITE ") and r.direction == "in" for r in wire)


async def test_sdes_keys_are_not_sent_over_udp(pki: Pki) -> None:
    async with running(UaSettings(ALICE, timeout=2.0)) as alice:
        with pytest.raises(UaAppError) as info:
            await alice.call("sip:bob@127.0.0.1:9", DURATION)
    assert info.value.kind == "usage" and "RFC 4568 §8.3" in str(info.value)


async def test_offer_encrypted_to_someone_else_is_answered_493(pki: Pki) -> None:
    caller = _smime(pki, pki.alice, peer_certificate=pki.carol.certificate)
    a, b = await _call_pair(caller, _smime(pki, pki.bob))
    assert a.final_status == b.final_status == 493
    assert a.packets_sent == b.packets_sent == 0


async def test_recording_holds_the_peer_audio(pki: Pki, tmp_path: Path) -> None:
    record = tmp_path / "bob.wav"
    caller = _smime(pki, pki.alice, peer_certificate=pki.bob.certificate)
    _, b = await _call_pair(caller, _smime(pki, pki.bob, record=record))
    assert b.final_status == 200
    audio = read_wav(record)
    assert len(audio) >= 2 * 8000 * DURATION * 0.5  # at least half the call, 16-bit


@pytest.mark.parametrize("claimed", ["UDP", "TLS"])
async def test_cleartext_key_over_udp_gets_488(pki: Pki, claimed: str) -> None:
    """A raw INVITE whose SDP holds a=crypto in the clear, over UDP: refused,
    also when its Via claims TLS (the connection it came over decides)."""
    async with running(UaSettings(BOB, timeout=5.0)) as bob:
        assert bob.local is not None
        answering = asyncio.create_task(bob.answer(1, timeout=10))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            port = sock.getsockname()[1]
            sdp = (
                b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                b"m=audio 4000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
                b"WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
            )
            invite = (
                f"INVITE sip:bob@127.0.0.1:{bob.local.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/{claimed} 127.0.0.1:{port};branch=z9hG4bKraw1;rport\r\n"
                "Max-Forwards: 70\r\n"
                f"To: <sip:bob@127.0.0.1:{bob.local.port}>\r\n"
                "From: <sip:mallory@atlanta.example>;tag=abc\r\n"
                "Call-ID: raw-1@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
                f"Contact: <sip:mallory@127.0.0.1:{port}>\r\n"
                f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
            ).encode() + sdp
            loop = asyncio.get_running_loop()
            await loop.sock_sendto(sock, invite, ("127.0.0.1", bob.local.port))
            final = None
            async with asyncio.timeout(5):
                while final is None and claimed == "UDP":  # a TLS Via: no answer to us
                    data = await loop.sock_recv(sock, 65536)
                    response = parse_message(data)
                    status = getattr(response, "status", 0)
                    if status >= 200:
                        final = response
        finally:
            sock.close()
        async with asyncio.timeout(5):
            (summary,) = await answering
    assert claimed != "UDP" or getattr(final, "status", None) == 488
    assert summary.final_status == 488 and "not TLS" in summary.reason


def test_redact_keys_blanks_crypto_and_k_lines() -> None:
    message = (
        b"INVITE sip:b@x SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n"
        b"v=0\r\nk=base64:c2VjcmV0a2V5c2VjcmV0a2V5\r\n"
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
        b"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20\r\n"
    )
    out = redact_keys(message)
    assert b"c2VjcmV0" not in out and b"WVNfX19z" not in out
    assert b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 <key redacted>" in out
    assert b"k=base64:<key redacted>" in out
    smime = b"INVITE sip:b@x SIP/2.0\r\nContent-Type: multipart/signed; x=y\r\n\r\n\x00\x01binary"
    assert redact_keys(smime).endswith(b"[S/MIME body, 8 octets]\r\n")


# -- through E3's proxy and registrar ------------------------------------------------


def _free_port() -> int:
    """A port free for both UDP and TCP (an S/MIME INVITE moves to TCP, §18.1.1)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for UDP and TCP")


@contextlib.asynccontextmanager
async def proxy(tmp_path: Path) -> AsyncIterator[ProxyServer]:
    port = _free_port()
    database = str(tmp_path / "proxy.db")
    with SqliteCredentialStore(database) as store:
        for user in ("alice", "bob"):
            store.put(make_credential(user, DOMAIN, f"{user}-secret"))
    server = await run_proxy(
        ProxyConfig(DOMAIN),
        listen=[("udp", "127.0.0.1", port), ("tcp", "127.0.0.1", port)],
        tls=None,
        database=database,
        redis_url=None,
        use_dns=False,
    )
    try:
        yield server
    finally:
        await server.close(grace=0.5)


def _via(server: ProxyServer, user: str, **kw: object) -> UaSettings:
    port = server.addresses[0].port
    settings = UaSettings(
        f"sip:{user}@{DOMAIN}", proxy=f"sip:127.0.0.1:{port}", password=f"{user}-secret",
        timeout=5.0, use_dns=False,
    )  # fmt: skip
    for name, value in kw.items():
        setattr(settings, name, value)
    return settings


async def test_register_call_and_answer_through_the_proxy(pki: Pki, tmp_path: Path) -> None:
    """The proxy challenges both, forwards the S/MIME offer it cannot read, and
    the media flows end to end; Bob un-registers when he closes."""
    async with proxy(tmp_path) as server:
        bob_settings = _via(server, "bob", keys="smime", identity=pki.bob_here, trust=pki.store)
        alice_settings = _via(
            server, "alice", keys="smime", identity=pki.alice_here, trust=pki.store,
            peer_certificate=pki.bob_here.certificate,
        )  # fmt: skip
        bob = UaApp(bob_settings)
        await bob.start()
        try:
            bob.unregister_on_close = True
            await bob.register()
            async with running(alice_settings) as alice:
                answering = asyncio.create_task(bob.answer(1, timeout=10))
                a = await alice.call(f"sip:bob@{DOMAIN}", DURATION)
                async with asyncio.timeout(10):
                    (b,) = await answering
        finally:
            await bob.close()
        assert not server.core.location.lookup(f"sip:bob@{DOMAIN}", time.time())
    _assert_media_both_ways(a, b, suite=SUITE)
    assert a.smime and b.smime


async def test_registration_bindings_and_unregister_on_close(tmp_path: Path) -> None:
    async with proxy(tmp_path) as server:
        bob = UaApp(_via(server, "bob"))
        await bob.start()
        try:
            bindings = await bob.register()
            assert bob.local is not None
            assert any(f"127.0.0.1:{bob.local.port}" in b for b in bindings)
            assert server.core.location.lookup(f"sip:bob@{DOMAIN}", time.time())
            bob.unregister_on_close = True
        finally:
            await bob.close()
        assert not server.core.location.lookup(f"sip:bob@{DOMAIN}", time.time())


async def test_wrong_password_is_an_authentication_failure(tmp_path: Path) -> None:
    async with proxy(tmp_path) as server:
        settings = _via(server, "alice")
        settings.password = "wrong"
        async with running(settings) as alice:
            with pytest.raises(UaAppError) as info:
                await alice.register()
    assert info.value.kind == "auth" and info.value.status in (401, 403)


async def test_reinvite_mid_call_is_refused_488_and_the_call_goes_on(pki: Pki) -> None:
    """RFC 3261 §14.2: an offer the UAS will not take gets 488; the session stays."""
    bound: list[CallMedia] = []
    caller = UaSettings(ALICE, media="rtp", timeout=5.0)
    callee = UaSettings(BOB, media="rtp", timeout=5.0, on_media=bound.append)
    async with running(callee) as bob, running(caller) as alice:
        assert bob.local is not None
        answering = asyncio.create_task(bob.answer(1, timeout=10))
        calling = asyncio.create_task(alice.call(f"sip:bob@127.0.0.1:{bob.local.port}", 1.5))
        async with asyncio.timeout(5):
            while not (bound and bound[0].agreed is not None and alice.calls):
                await asyncio.sleep(0.02)
            (call,) = alice.calls.values()
            while call.state.value != "established":
                await asyncio.sleep(0.02)
        assert alice.ua is not None and alice.endpoint is not None and bob.ua is not None
        alice.ua.reinvite(call, alice.endpoint.now(), b"v=0\r\n", "application/sdp")
        alice.endpoint.poke()
        async with asyncio.timeout(10):
            a, (b,) = await asyncio.gather(calling, answering)
        assert bob.ua.stats.get("responses_sent_4xx", 0) >= 1
    _assert_media_both_ways(a, b, suite=None)


async def test_tls_client_without_a_certificate_registers_and_does_not_listen(
    pki: Pki, tmp_path: Path
) -> None:
    """A TLS client needs no certificate: it opens no TLS listener, says so,
    and the registrar answers over the connection the UA opened."""
    database = str(tmp_path / "proxy.db")
    with SqliteCredentialStore(database) as store:
        store.put(make_credential("alice", "biloxi.example", "alice-secret"))
    cert, key = pki.pem("biloxi.example")
    server = await run_proxy(
        ProxyConfig("biloxi.example"),
        listen=[("tls", "127.0.0.1", 0)],
        tls=TlsSettings(pki.ca_path, certfile=cert, keyfile=key),
        database=database,
        redis_url=None,
        use_dns=False,
    )
    notes: list[str] = []
    try:
        port = server.addresses[0].port
        settings = UaSettings(
            "sips:alice@biloxi.example", proxy="sips:biloxi.example", password="alice-secret",
            tls=TlsSettings(pki.ca_path), use_dns=False, timeout=5.0, on_note=notes.append,
            hosts={"biloxi.example": [Peer("tls", "127.0.0.1", port, "biloxi.example")]},
        )  # fmt: skip
        async with running(settings) as alice:
            assert alice.endpoint is not None and alice.local is not None
            assert alice.endpoint.transport.listening("tls") is None
            bindings = await alice.register()
            assert any(f":{alice.local.port}" in b for b in bindings)
        assert any("not listening on TLS" in n for n in notes)
    finally:
        await server.close(grace=0.5)


async def test_callee_hangs_up_after_hangup_after(pki: Pki) -> None:
    """The callee's BYE ends the call; the caller's --duration was only a maximum."""
    caller = UaSettings(ALICE, media="rtp", timeout=5.0)
    callee = UaSettings(BOB, media="rtp", timeout=5.0)
    async with running(callee) as bob, running(caller) as alice:
        assert bob.local is not None and bob.ua is not None
        answering = asyncio.create_task(bob.answer(1, timeout=10, hangup_after=0.5))
        a = await alice.call(f"sip:bob@127.0.0.1:{bob.local.port}", 30.0)
        async with asyncio.timeout(10):
            (b,) = await answering
        assert bob.ua.stats.get("byes_sent", 0) == 1
    assert a.final_status == b.final_status == 200
    assert a.ended_by_remote and not b.ended_by_remote
    assert a.packets_received > 0 and b.packets_received > 0


async def test_negative_hangup_after_is_a_usage_error() -> None:
    async with running(UaSettings(BOB, media="rtp", timeout=1.0)) as bob:
        with pytest.raises(UaAppError) as info:
            await bob.answer(1, hangup_after=-1.0)
    assert info.value.kind == "usage"


async def test_wildcard_listen_address_never_reaches_contact_or_sdp(pki: Pki) -> None:
    """Listening on 0.0.0.0, the UA advertises the address it sends from
    toward its first hop (RFC 4566 §5.7: c= must be reachable)."""
    seen: list[TraceRecord] = []
    callee = UaSettings(BOB, media="rtp", timeout=5.0)
    async with running(callee) as bob:
        assert bob.local is not None
        target = f"sip:bob@127.0.0.1:{bob.local.port}"
        caller = UaSettings(
            ALICE, media="rtp", timeout=5.0, listen=("0.0.0.0", 0), target=target,
            on_trace=seen.append,
        )  # fmt: skip
        async with running(caller) as alice:
            assert alice.advertised == "127.0.0.1"
            answering = asyncio.create_task(bob.answer(1, timeout=10))
            a = await alice.call(target, DURATION)
            async with asyncio.timeout(10):
                (b,) = await answering
    _assert_media_both_ways(a, b, suite=None)
    (invite,) = [parse_message(r.data) for r in seen if r.data.startswith(b"INVITE ")]
    assert b"c=IN IP4 127.0.0.1\r\n" in invite.body and b"0.0.0.0" not in bytes(invite)
    assert "@127.0.0.1:" in (invite.headers.get("Contact") or "")


async def test_wildcard_listen_address_with_no_first_hop_is_a_usage_error() -> None:
    app = UaApp(UaSettings(BOB, media="rtp", listen=("0.0.0.0", 0)))
    try:
        with pytest.raises(UaAppError) as info:
            await app.start()
    finally:
        await app.close()
    assert info.value.kind == "usage" and "--contact-host" in str(info.value)
