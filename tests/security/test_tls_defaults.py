"""TLS verifies peers by default and checks them against SIP domains.

Contexts from :mod:`sipsec.transport.tls` are inspected (CERT_REQUIRED,
TLS >= 1.2), then a real handshake over memory BIOs (no sockets) proves a
chain is checked and RFC 5922 §7 decides the name: a domain's ``sip:`` URI
or dNSName, never a wildcard, a user's certificate, an IP address or a
Common Name.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.transport.errors import TlsVerificationError
from sipsec.transport.tls import (
    TlsConfigurationError,
    TlsSettings,
    check_peer_domain,
    client_context,
    server_context,
)

from .._pki import Authority, Credentials
from .._pki import Pki as SharedPki


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    atlanta: tuple[Path, Path, bytes]
    alice: tuple[Path, Path, bytes]
    wildcard: bytes
    cn_only: bytes


@pytest.fixture(scope="module")
def pki(pki: SharedPki, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The shared root, atlanta.example and Alice; a root nobody here trusts;
    two leaves of shapes sipsec.ca refuses to issue (a wildcard, a CN only)."""
    odd = pki.authority.into(tmp_path_factory.mktemp("audit"))
    other = Authority.create(odd.directory / "other", "stranger root")

    def pem(creds: Credentials) -> tuple[Path, Path, bytes]:
        return creds.cert, creds.key, creds.der

    def leaf(label: str, san: list[x509.GeneralName]) -> bytes:
        return odd.custom(label, san, common_name="atlanta.example").der

    return Pki(
        pki.ca,
        other.ca,
        pem(pki.atlanta),
        pem(pki.alice),
        leaf("wildcard", [x509.DNSName("*.example")]),
        leaf("cn-only", []),
    )


def test_client_context_verifies_by_default(pki: Pki) -> None:
    context = client_context(TlsSettings(pki.ca))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # The name is RFC 5922's, checked by check_peer_domain after the handshake.
    assert context.check_hostname is False


def test_verifying_without_trust_anchors_is_refused() -> None:
    with pytest.raises(TlsConfigurationError):
        client_context(TlsSettings(None))


def test_server_contexts(pki: Pki) -> None:
    cert, key, _ = pki.atlanta
    mutual = server_context(TlsSettings(pki.ca, cert, key, require_client_cert=True))
    assert mutual.verify_mode is ssl.CERT_REQUIRED
    asked = server_context(TlsSettings(pki.ca, cert, key))
    assert asked.verify_mode is ssl.CERT_OPTIONAL  # a client certificate, when sent, is checked
    for context in (mutual, asked):
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("name", ["atlanta.example", "ATLANTA.example", "atlanta.example."])
def test_the_domain_certificate_speaks_for_its_domain(pki: Pki, name: str) -> None:
    check_peer_domain(pki.atlanta[2], name)


@pytest.mark.parametrize(
    ("which", "name"),
    [
        ("atlanta", "biloxi.example"),
        ("atlanta", "example"),
        ("atlanta", "x.atlanta.example"),
        ("atlanta", "127.0.0.1"),  # an IP address is never a SIP domain (RFC 5922 §4)
        ("atlanta", "[::1]"),
        ("alice", "atlanta.example"),  # a user's certificate names no domain
        ("wildcard", "atlanta.example"),  # §7.2: wildcards MUST NOT match
        ("cn_only", "atlanta.example"),  # the CN is never used
    ],
)
def test_a_certificate_for_another_name_is_refused(pki: Pki, which: str, name: str) -> None:
    der = {"atlanta": pki.atlanta[2], "alice": pki.alice[2]}.get(which) or getattr(pki, which)
    with pytest.raises(TlsVerificationError):
        check_peer_domain(der, name)


@settings(max_examples=500, deadline=None)
@given(der=st.binary(max_size=300), name=st.text(max_size=30))
def test_garbage_certificates_get_the_typed_error(der: bytes, name: str) -> None:
    with pytest.raises(TlsVerificationError):
        check_peer_domain(der, name or "atlanta.example")


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, sni: str | None) -> bytes:
    """A TLS handshake over memory BIOs; returns the server's certificate (DER)."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname=sni)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for side, obj in (("c", c), ("s", s)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    der = c.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_a_real_handshake_then_the_sip_domain_check(pki: Pki) -> None:
    cert, key, _ = pki.atlanta
    server = server_context(TlsSettings(pki.ca, cert, key))
    der = _handshake(client_context(TlsSettings(pki.ca)), server, "atlanta.example")
    check_peer_domain(der, "atlanta.example")
    # The chain is fine, but a client that wanted biloxi.example must refuse it.
    der = _handshake(client_context(TlsSettings(pki.ca)), server, "biloxi.example")
    with pytest.raises(TlsVerificationError):
        check_peer_domain(der, "biloxi.example")


def test_an_untrusted_chain_fails_the_handshake(pki: Pki) -> None:
    cert, key, _ = pki.atlanta
    server = server_context(TlsSettings(pki.ca, cert, key))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client_context(TlsSettings(pki.other_ca)), server, "atlanta.example")


def test_a_tls_1_1_client_is_refused(pki: Pki) -> None:
    cert, key, _ = pki.atlanta
    server = server_context(TlsSettings(pki.ca, cert, key))
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client really offer TLS 1.1
    with warnings.catch_warnings():
        # Deliberately obsolete: this client plays the downgrading peer.
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        _handshake(old, server, "atlanta.example")
    # The same client allowed TLS 1.2 gets through: the refusal was the version.
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    _handshake(old, server, "atlanta.example")


@pytest.mark.parametrize("server_name", [None, "127.0.0.1", "[::1]"])
async def test_no_tls_connection_without_a_domain_to_verify(
    pki: Pki, server_name: str | None
) -> None:
    """An IP literal is never sent as SNI nor matched (RFC 5922 §4, RFC 6066
    §3): with verification on, the transport refuses before connecting."""
    from sipsec.sip import parse_message
    from sipsec.transaction import Peer
    from sipsec.transport.errors import TransportFailure
    from sipsec.transport.sip import SipTransport

    transport = SipTransport(on_message=lambda *_: None, tls=TlsSettings(pki.ca))
    options = parse_message(
        b"OPTIONS sips:atlanta.example SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK-1\r\n"
        b"Max-Forwards: 70\r\nFrom: <sips:a@atlanta.example>;tag=1\r\nTo: <sips:atlanta.example>"
        b"\r\nCall-ID: c@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        with pytest.raises(TransportFailure, match="domain"):
            # Port 9 (discard) on loopback: nothing is listening, nothing is tried.
            await transport.send(options, Peer("tls", "127.0.0.1", 9, server_name))
        assert transport.stats.get("tls_failures", 0) == 0
    finally:
        await transport.close()
