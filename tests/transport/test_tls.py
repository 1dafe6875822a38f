"""RFC 5922 domain checks, TLS contexts, and TLS failures over loopback."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sipsec.sip import Request, Response
from sipsec.transaction import Peer
from sipsec.transport.errors import TlsNameMissing, TlsVerificationError, TransportFailure
from sipsec.transport.sip import SipTransport
from sipsec.transport.tls import (
    TlsConfigurationError,
    TlsSettings,
    check_peer_domain,
    client_context,
    peer_identities,
    server_context,
)

from ._e1_echo import options
from ._e1_pki import Pki


# -- RFC 5922 §7.1/§7.2 ---------------------------------------------------------------------------
def test_domain_certificate_matches_its_domain_only(pki: Pki) -> None:
    check_peer_domain(pki.biloxi.der, "biloxi.example")
    check_peer_domain(pki.biloxi.der, "BILOXI.example.")  # case and a final dot
    with pytest.raises(TlsVerificationError) as info:
        check_peer_domain(pki.biloxi.der, "atlanta.example")
    assert info.value.reason == "name mismatch"
    assert "biloxi.example" in str(info.value) and "atlanta.example" in str(info.value)


def test_dns_name_counts_when_there_is_no_sip_uri(pki: Pki) -> None:
    check_peer_domain(pki.dns_only.der, "biloxi.example")
    assert peer_identities(pki.dns_only.der) == ["biloxi.example"]


def test_uri_san_wins_over_dns_name(pki: Pki) -> None:
    check_peer_domain(pki.uri_other.der, "other.example")
    with pytest.raises(TlsVerificationError, match=r"not biloxi\.example"):
        check_peer_domain(pki.uri_other.der, "biloxi.example")


def test_wildcard_is_never_matched(pki: Pki) -> None:
    with pytest.raises(TlsVerificationError) as info:
        check_peer_domain(pki.wildcard.der, "biloxi.example")
    assert info.value.reason == "wildcard"


def test_common_name_is_not_used(pki: Pki) -> None:
    with pytest.raises(TlsVerificationError, match="no subjectAltName"):
        check_peer_domain(pki.no_san.der, "biloxi.example")
    assert peer_identities(pki.no_san.der) == []


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "[::1]"])
def test_an_ip_address_is_never_a_domain(pki: Pki, ip: str) -> None:
    with pytest.raises(TlsVerificationError, match="not a SIP domain"):
        check_peer_domain(pki.biloxi.der, ip)


def test_user_certificate_identity(pki: Pki) -> None:
    assert peer_identities(pki.alice.der) == ["sip:alice@atlanta.example"]
    with pytest.raises(TlsVerificationError):
        check_peer_domain(pki.alice.der, "atlanta.example")  # a user speaks for no domain


def test_garbage_certificate() -> None:
    with pytest.raises(TlsVerificationError) as info:
        check_peer_domain(b"\x30\x03\x02\x01\x00", "biloxi.example")
    assert info.value.reason == "invalid"


# -- contexts ------------------------------------------------------------------------------------
def test_contexts(pki: Pki, tmp_path: Path) -> None:
    client = client_context(pki.settings())
    assert client.verify_mode == ssl.CERT_REQUIRED and not client.check_hostname
    assert client.minimum_version == ssl.TLSVersion.TLSv1_2
    server = server_context(pki.settings(pki.biloxi))
    assert server.verify_mode == ssl.CERT_OPTIONAL  # asks for a client certificate
    strict = server_context(pki.settings(pki.biloxi, require_client_cert=True))
    assert strict.verify_mode == ssl.CERT_REQUIRED
    bare = server_context(TlsSettings(None, pki.biloxi.cert, pki.biloxi.key))
    assert bare.verify_mode == ssl.CERT_NONE
    with pytest.raises(TlsConfigurationError, match="needs a certificate"):
        server_context(pki.settings())
    with pytest.raises(TlsConfigurationError, match="cannot load"):
        client_context(TlsSettings(tmp_path / "missing.pem"))
    with pytest.raises(TlsConfigurationError, match="trust anchors"):
        client_context(TlsSettings(None))
    assert client_context(TlsSettings(None, verify=False)).verify_mode == ssl.CERT_NONE


def test_password_not_in_repr(pki: Pki) -> None:
    settings = TlsSettings(pki.ca, key_password="hunter2")
    assert "hunter2" not in repr(settings)


# -- over loopback -------------------------------------------------------------------------------
class _Sink:
    def __init__(self) -> None:
        self.got: list[tuple[Request | Response, Peer]] = []
        self.event = asyncio.Event()

    def __call__(self, message: Request | Response, peer: Peer) -> None:
        self.got.append((message, peer))
        self.event.set()


@pytest.fixture
async def transports() -> AsyncIterator[list[SipTransport]]:
    made: list[SipTransport] = []
    yield made
    for transport in made:
        await transport.close()


async def _server(
    made: list[SipTransport], settings: TlsSettings
) -> tuple[SipTransport, _Sink, Peer]:
    sink = _Sink()
    server = SipTransport(on_message=sink, tls=settings)
    made.append(server)
    return server, sink, await server.listen("tls", "127.0.0.1")


async def _client(made: list[SipTransport], settings: TlsSettings) -> SipTransport:
    client = SipTransport(on_message=_Sink(), tls=settings)
    made.append(client)
    await client.listen("tls", "127.0.0.1") if settings.certfile else None
    return client


async def test_tls_delivers_and_reports_identities(
    pki: Pki, transports: list[SipTransport]
) -> None:
    server, sink, address = await _server(transports, pki.settings(pki.biloxi))
    sni: list[str | None] = []
    server._pool.server_context().sni_callback = lambda obj, name, ctx: sni.append(name)
    client = await _client(transports, pki.settings(pki.atlanta))
    via = Peer("tls", "127.0.0.1", 5061)
    used = await client.send(options(via), Peer("tls", "127.0.0.1", address.port, "biloxi.example"))
    await asyncio.wait_for(sink.event.wait(), 5)
    conn = client.connection(used.connection_id or 0)
    assert conn is not None and conn.tls_peer == "biloxi.example"
    ((message, source),) = sink.got
    assert isinstance(message, Request)
    far = server.connection(source.connection_id or 0)
    assert far is not None and far.tls_peer == "atlanta.example"  # mutual TLS, verified
    assert source.server_name == "atlanta.example"
    assert sni == ["biloxi.example"]  # SNI carries the domain (RFC 5922 §4, RFC 6066 §3)


async def test_keylog_written(pki: Pki, transports: list[SipTransport], tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    _server_t, sink, address = await _server(transports, pki.settings(pki.biloxi))
    client = await _client(transports, pki.settings(keylog_filename=keylog))
    await client.send(
        options(Peer("tls", "127.0.0.1", 5061)),
        Peer("tls", "127.0.0.1", address.port, "biloxi.example"),
    )
    await asyncio.wait_for(sink.event.wait(), 5)
    lines = keylog.read_text().splitlines()
    assert any(line.startswith(("CLIENT_TRAFFIC_SECRET_0 ", "CLIENT_RANDOM ")) for line in lines)


@pytest.mark.parametrize(
    ("cert", "name", "reason"),
    [
        ("biloxi", "atlanta.example", "name mismatch"),
        ("stranger", "biloxi.example", "untrusted"),
        ("expired", "biloxi.example", "expired"),
        ("wildcard", "biloxi.example", "wildcard"),
    ],
)
async def test_tls_verification_failures(
    pki: Pki, transports: list[SipTransport], cert: str, name: str, reason: str
) -> None:
    _server_t, sink, address = await _server(transports, pki.settings(getattr(pki, cert)))
    client = await _client(transports, pki.settings())
    with pytest.raises(TlsVerificationError) as info:
        await client.send(
            options(Peer("tls", "127.0.0.1", 5061)),
            Peer("tls", "127.0.0.1", address.port, name),
        )
    assert info.value.reason == reason, info.value
    assert client.stats["tls_failures"] == 1
    assert not sink.got
    assert client.connection_count == 0


@pytest.mark.parametrize("name", [None, "127.0.0.1"])
async def test_tls_needs_a_domain(
    pki: Pki, transports: list[SipTransport], name: str | None
) -> None:
    client = await _client(transports, pki.settings())
    with pytest.raises(TlsNameMissing, match="never an IP"):
        await client.send(
            options(Peer("tls", "127.0.0.1", 5061)), Peer("tls", "127.0.0.1", 9, name)
        )


async def test_required_client_certificate_missing(
    pki: Pki, transports: list[SipTransport]
) -> None:
    server, sink, address = await _server(
        transports, pki.settings(pki.biloxi, require_client_cert=True)
    )
    client = await _client(transports, pki.settings())
    dest = Peer("tls", "127.0.0.1", address.port, "biloxi.example")
    # TLS 1.3: the client finishes first and learns of the refusal on its next read.
    try:
        await client.send(options(Peer("tls", "127.0.0.1", 5061)), dest)
    except TransportFailure:
        pass
    for _ in range(200):
        if server.stats["tls_failures"]:
            break
        await asyncio.sleep(0.01)
    assert server.stats["tls_failures"] == 1
    assert not sink.got


async def test_untrusted_client_certificate_refused(
    pki: Pki, transports: list[SipTransport]
) -> None:
    server, sink, address = await _server(transports, pki.settings(pki.biloxi))
    client = await _client(transports, TlsSettings(pki.ca, pki.stranger.cert, pki.stranger.key))
    dest = Peer("tls", "127.0.0.1", address.port, "biloxi.example")
    try:
        await client.send(options(Peer("tls", "127.0.0.1", 5061)), dest)
    except TransportFailure:
        pass
    for _ in range(200):
        if server.stats["tls_failures"]:
            break
        await asyncio.sleep(0.01)
    assert server.stats["tls_failures"] == 1
    assert not sink.got


# -- interop: the openssl CLI as the other end --------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.interop
async def test_openssl_s_client_reaches_our_tls_listener(
    pki: Pki, transports: list[SipTransport]
) -> None:
    _server_t, sink, address = await _server(transports, pki.settings(pki.biloxi))
    request = bytes(options(Peer("tls", "127.0.0.1", 5061)))
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_client", "-connect", f"127.0.0.1:{address.port}",
        "-servername", "biloxi.example", "-CAfile", str(pki.ca), "-verify_return_error",
        "-verify_hostname", "biloxi.example", "-quiet",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdin is not None
        proc.stdin.write(request)
        await proc.stdin.drain()
        await asyncio.wait_for(sink.event.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()
    ((message, source),) = sink.got
    assert isinstance(message, Request) and message.method == "OPTIONS"
    assert source.transport == "tls"


@pytest.mark.interop
async def test_we_reach_openssl_s_server(pki: Pki, transports: list[SipTransport]) -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.biloxi.cert),
        "-key", str(pki.biloxi.key), "-quiet", "-naccept", "1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    client = await _client(transports, pki.settings())
    request = options(Peer("tls", "127.0.0.1", 5061))
    try:
        used = None
        for _ in range(100):  # until s_server listens
            try:
                used = await client.send(request, Peer("tls", "127.0.0.1", port, "biloxi.example"))
                break
            except TransportFailure as error:
                assert "cannot connect" in str(error)
                await asyncio.sleep(0.05)
        assert used is not None
        assert proc.stdout is not None
        got = await asyncio.wait_for(proc.stdout.readuntil(b"\r\n\r\n"), 10)
        assert got == bytes(request)
        conn = client.connection(used.connection_id or 0)
        assert conn is not None and conn.tls_peer == "biloxi.example"
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()
