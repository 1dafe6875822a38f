"""Root, user and domain certificates and CRLs (RFC 5280, RFC 5922 §7, RFC 8551 §4.4)."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from sipsec.ca import CaError, build_crl, build_domain, build_user, generate_key, parse_address

from .conftest import NOW


def _ext(cert: x509.Certificate, cls: type) -> object:
    return cert.extensions.get_extension_for_class(cls).value


def test_root_is_a_ca(pki) -> None:  # type: ignore[no-untyped-def]
    bc = _ext(pki.ca_cert, x509.BasicConstraints)
    ku = _ext(pki.ca_cert, x509.KeyUsage)
    assert bc.ca is True
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert pki.ca_cert.subject == pki.ca_cert.issuer


def test_user_certificate(pki) -> None:  # type: ignore[no-untyped-def]
    cert = pki.alice.cert
    san = _ext(cert, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["sip:alice@atlanta.example"]
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@atlanta.example"]
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in _ext(cert, x509.ExtendedKeyUsage)
    ku = _ext(cert, x509.KeyUsage)
    assert ku.digital_signature and ku.key_encipherment  # RSA: key transport
    assert not _ext(cert, x509.BasicConstraints).ca
    assert _ext(pki.bob.cert, x509.KeyUsage).key_agreement  # EC: ECDH (RFC 5753 §7)
    cert.verify_directly_issued_by(pki.ca_cert)


def test_domain_certificate(pki) -> None:  # type: ignore[no-untyped-def]
    san = _ext(pki.domain.cert, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["atlanta.example"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["sip:atlanta.example"]
    eku = _ext(pki.domain.cert, x509.ExtendedKeyUsage)
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_kind_mismatch_is_refused(pki) -> None:  # type: ignore[no-untyped-def]
    key = generate_key()
    with pytest.raises(CaError, match="is a domain"):
        build_user(
            pki.ca_cert, pki.ca_key, key.public_key(), parse_address("atlanta.example"), now=NOW
        )
    with pytest.raises(CaError, match="names a user"):
        build_domain(
            pki.ca_cert, pki.ca_key, key.public_key(), parse_address("sip:a@b.example"), now=NOW
        )


def test_leaf_never_outlives_its_ca(pki) -> None:  # type: ignore[no-untyped-def]
    key = generate_key()
    cert = build_user(
        pki.ca_cert,
        pki.ca_key,
        key.public_key(),
        parse_address("sip:x@y.example"),
        now=NOW,
        days=99999,
    )
    assert cert.not_valid_after_utc == pki.ca_cert.not_valid_after_utc


def test_crl(pki) -> None:  # type: ignore[no-untyped-def]
    when = NOW - dt.timedelta(hours=1)
    crl = build_crl(pki.ca_cert, pki.ca_key, [(pki.alice.cert.serial_number, when)], now=NOW)
    assert crl.is_signature_valid(pki.ca_cert.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(pki.alice.cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == when
    assert crl.get_revoked_certificate_by_serial_number(pki.bob.cert.serial_number) is None


def _openssl_verify(pki, purpose: str, cert_path, *extra: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    at = str(int(NOW.timestamp()))
    return subprocess.run(
        [
            "openssl",
            "verify",
            "-attime",
            at,
            "-CAfile",
            str(pki.ca_path),
            "-purpose",
            purpose,
            *extra,
            str(cert_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.interop
def test_openssl_accepts_our_certificates_for_their_purpose(pki) -> None:  # type: ignore[no-untyped-def]
    for party in (pki.alice, pki.bob, pki.carol):
        result = _openssl_verify(pki, "smimesign", party.cert_path)
        assert result.returncode == 0, result.stderr
    # OpenSSL's smimeencrypt purpose demands keyEncipherment, which only an RSA
    # key can honour; EC keys carry keyAgreement (RFC 5480 §3) and openssl cms
    # encrypts to them all the same (tests/smime/test_openssl_interop.py).
    for party in (pki.alice, pki.carol):
        result = _openssl_verify(pki, "smimeencrypt", party.cert_path)
        assert result.returncode == 0, result.stderr
    for purpose in ("sslserver", "sslclient"):
        result = _openssl_verify(pki, purpose, pki.domain.cert_path)
        assert result.returncode == 0, result.stderr
    # …and refuses a domain certificate for S/MIME.
    assert _openssl_verify(pki, "smimesign", pki.domain.cert_path).returncode != 0


@pytest.mark.interop
def test_openssl_reads_our_crl(pki, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    crl = build_crl(
        pki.ca_cert,
        pki.ca_key,
        [(pki.alice.cert.serial_number, NOW - dt.timedelta(hours=1))],
        now=NOW,
    )
    crl_path = tmp_path / "crl.pem"
    crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    revoked = _openssl_verify(
        pki, "smimesign", pki.alice.cert_path, "-crl_check", "-CRLfile", str(crl_path)
    )
    assert revoked.returncode != 0 and "revoked" in revoked.stdout + revoked.stderr
    fine = _openssl_verify(
        pki, "smimesign", pki.bob.cert_path, "-crl_check", "-CRLfile", str(crl_path)
    )
    assert fine.returncode == 0, fine.stderr
