"""The shared test PKI (``_pki.py``) has the shape the tests rely on."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509

from sipsec.ca import (
    CertificateExpired,
    CertificateNameMismatch,
    CertificateUntrusted,
    Purpose,
    certificate_addresses,
    load_certificates,
    load_private_key,
    parse_address,
)

from ._pki import NOW, Authority, Pki, shared


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_the_fixture_is_the_session_pki(pki: Pki) -> None:
    assert shared() is pki
    assert pki.now == NOW and pki.ca == pki.directory / "ca.pem"
    assert load_certificates(pki.ca) == [pki.root]


@pytest.mark.parametrize("domain", ["atlanta.example", "biloxi.example"])
def test_domain_certificates_follow_rfc_5922(pki: Pki, domain: str) -> None:
    creds = pki.atlanta if domain == "atlanta.example" else pki.biloxi
    san = _san(creds.certificate)
    assert san.get_values_for_type(x509.DNSName) == [domain]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"sip:{domain}"]
    store = pki.store()
    for purpose in (Purpose.TLS_SERVER, Purpose.TLS_CLIENT):
        chain = store.validate(creds.certificate, purpose=purpose, now=NOW, address=domain)
        assert chain.addresses == frozenset({parse_address(domain)})
    with pytest.raises(CertificateUntrusted):  # a proxy's certificate signs no S/MIME
        store.validate(creds.certificate, purpose=Purpose.SMIME, now=NOW)
    assert pki.domain(domain) is creds  # issued once


@pytest.mark.parametrize("aor", ["sip:alice@atlanta.example", "sip:bob@biloxi.example"])
def test_user_certificates_are_what_smime_looks_up(pki: Pki, aor: str) -> None:
    creds = pki.alice if "alice" in aor else pki.bob
    san = _san(creds.certificate)
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [aor]
    assert san.get_values_for_type(x509.RFC822Name) == [aor.removeprefix("sip:")]
    store = pki.store()
    assert store.find(aor) == creds.certificate
    store.validate(creds.certificate, purpose=Purpose.SMIME, now=NOW, address=aor)
    with pytest.raises(CertificateNameMismatch):
        store.validate(
            creds.certificate, purpose=Purpose.SMIME, now=NOW, address="sip:eve@x.example"
        )
    assert pki.user(aor) is creds


def test_pem_files_match_and_keys_are_private(pki: Pki) -> None:
    for creds in (pki.atlanta, pki.biloxi, pki.alice, pki.bob):
        assert load_certificates(creds.cert) == [creds.certificate]
        key = load_private_key(creds.key)
        assert key.public_key() == creds.private_key.public_key()
        assert stat.S_IMODE(creds.key.stat().st_mode) == 0o600
        assert "PRIVATE" not in repr(creds) and "private_key" not in repr(creds)


def test_more_parties_come_from_the_same_root(pki: Pki) -> None:
    carol = pki.user("sip:carol@chicago.example")
    assert certificate_addresses(carol.certificate) == {parse_address("carol@chicago.example")}
    pki.store(carol).validate(carol.certificate, purpose=Purpose.SMIME, now=NOW)


def test_deliberately_different_certificates_come_from_parameters(tmp_path: Path) -> None:
    local = Authority.create(tmp_path / "local")
    stranger = Authority.create(tmp_path / "stranger", "nobody trusts me")
    expired = local.domain(
        "biloxi.example", label="expired", now=NOW - dt.timedelta(days=10), days=2
    )
    with pytest.raises(CertificateExpired):
        local.store().validate(expired.certificate, purpose=Purpose.TLS_SERVER, now=NOW)
    alien = stranger.domain("biloxi.example")
    with pytest.raises(CertificateUntrusted):
        local.store().validate(alien.certificate, purpose=Purpose.TLS_SERVER, now=NOW)
    no_san = local.custom("no-san", [], common_name="biloxi.example")
    with pytest.raises(x509.ExtensionNotFound):
        _san(no_san.certificate)
    wildcard = local.custom("wildcard", [x509.DNSName("*.example")], common_name="biloxi.example")
    assert _san(wildcard.certificate).get_values_for_type(x509.DNSName) == ["*.example"]


def test_a_certificate_with_its_own_dates_or_key_is_never_the_usual_one(
    pki: Pki, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="needs a label"):
        pki.authority.domain("biloxi.example", days=2)
    with pytest.raises(ValueError, match="needs a label"):
        pki.authority.user("sip:bob@biloxi.example", now=NOW - dt.timedelta(days=1))
    local = pki.authority.into(tmp_path / "local")
    rsa = local.user("sip:bob@biloxi.example", kind="rsa-2048")
    assert rsa.name == "bob@biloxi.example-rsa-2048" and rsa.cert.parent == tmp_path / "local"
    assert local.user("sip:bob@biloxi.example") is not pki.bob  # a cache of its own
    assert not list(pki.directory.glob("*rsa*"))
    assert rsa.certificate.public_key().key_size == 2048  # type: ignore[union-attr]
