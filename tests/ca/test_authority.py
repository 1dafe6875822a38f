"""The CA directory: the file names scripts rely on, 0600 keys, revocation, the index."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from sipsec.ca import (
    CaError,
    CertificateAuthority,
    CertificateRevoked,
    CertificateStore,
    Purpose,
    load_certificates,
    load_private_key,
)
from sipsec.ca.authority import read_index

from .conftest import NOW


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_issue_revoke(tmp_path: Path) -> None:
    ca = CertificateAuthority.init(tmp_path, now=NOW)
    assert _mode(tmp_path / "ca.key") == 0o600
    assert load_certificates(tmp_path / "ca.pem")[0] == ca.cert
    assert "PRIVATE" not in repr(ca) and "key" not in repr(ca).lower()

    cert, path = ca.issue("sip:alice@atlanta.example", now=NOW)
    assert path == tmp_path / "alice@atlanta.example.pem"
    assert _mode(tmp_path / "alice@atlanta.example.key") == 0o600
    dcert, dpath = ca.issue("atlanta.example", now=NOW, domain=True, key_kind="rsa-2048")
    assert dpath == tmp_path / "atlanta.example.pem"
    assert load_private_key(tmp_path / "atlanta.example.key").key_size == 2048  # type: ignore[union-attr]

    store = CertificateStore.from_directory(tmp_path)
    assert store.find("sip:alice@atlanta.example") == cert
    store.validate(cert, purpose=Purpose.SMIME, now=NOW)

    ca.revoke("sip:alice@atlanta.example", now=NOW)
    crl = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    with pytest.raises(CertificateRevoked):
        CertificateStore.from_directory(tmp_path).validate(
            cert, purpose=Purpose.SMIME, now=NOW.replace(minute=1)
        )
    records = {r.name: r for r in read_index(tmp_path)}
    assert records["alice@atlanta.example"].revoked_at is not None
    assert records["atlanta.example"].kind == "domain"
    assert records["atlanta.example"].serial == dcert.serial_number
    with pytest.raises(CaError, match="no unrevoked"):
        ca.revoke("alice@atlanta.example", now=NOW)


def test_reissue_after_revocation_keeps_both_records(tmp_path: Path) -> None:
    ca = CertificateAuthority.init(tmp_path, now=NOW)
    old, _ = ca.issue("sip:bob@biloxi.example", now=NOW)
    ca.revoke("bob@biloxi.example", now=NOW)
    new, _ = ca.issue("sip:bob@biloxi.example", now=NOW)
    serials = [(r.serial, r.revoked_at is not None) for r in ca.records()]
    assert (old.serial_number, True) in serials and (new.serial_number, False) in serials


def test_refuses_to_overwrite_a_ca(tmp_path: Path) -> None:
    CertificateAuthority.init(tmp_path, now=NOW)
    with pytest.raises(CaError, match="already holds a CA"):
        CertificateAuthority.init(tmp_path, now=NOW)


def test_passphrase_protected_ca(tmp_path: Path) -> None:
    CertificateAuthority.init(tmp_path, now=NOW, passphrase=b"s3cret", key_kind="rsa-2048")
    with pytest.raises(CaError, match="passphrase"):
        CertificateAuthority.open(tmp_path)
    ca = CertificateAuthority.open(tmp_path, b"s3cret")
    ca.issue("sip:a@b.example", now=NOW, passphrase=b"user-pass")
    assert b"ENCRYPTED" in (tmp_path / "a@b.example.key").read_bytes()


def test_wrong_subject_kind_and_missing_ca(tmp_path: Path) -> None:
    with pytest.raises(CaError, match="holds no CA"):
        CertificateAuthority.open(tmp_path)
    with pytest.raises(CaError, match="holds no CA"):
        read_index(tmp_path)
    ca = CertificateAuthority.init(tmp_path, now=NOW)
    with pytest.raises(CaError, match="not a domain"):
        ca.issue("sip:alice@atlanta.example", now=NOW, domain=True)
    with pytest.raises(CaError, match="not a user"):
        ca.issue("atlanta.example", now=NOW)
    with pytest.raises(CaError, match="cannot name a file"):
        ca.issue("sip:../../etc/x@atlanta.example", now=NOW)
    assert not (tmp_path.parent / "etc").exists()


def test_key_that_does_not_match_the_certificate(tmp_path: Path) -> None:
    CertificateAuthority.init(tmp_path / "a", now=NOW)
    CertificateAuthority.init(tmp_path / "b", now=NOW)
    (tmp_path / "a" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    with pytest.raises(CaError, match="does not belong"):
        CertificateAuthority.open(tmp_path / "a")


def test_damaged_index(tmp_path: Path) -> None:
    CertificateAuthority.init(tmp_path, now=NOW)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(CaError, match="damaged"):
        read_index(tmp_path)
