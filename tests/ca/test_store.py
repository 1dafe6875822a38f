"""Lookup by SIP address and validation for a purpose, with a distinct cause per failure."""

from __future__ import annotations

import datetime as dt

import pytest

from sipsec.ca import (
    CaError,
    CertificateExpired,
    CertificateNameMismatch,
    CertificateNotFound,
    CertificateRevoked,
    CertificateStore,
    CertificateUntrusted,
    Purpose,
    SipAddress,
    build_crl,
    build_root,
    generate_key,
)

from .conftest import NOW


def test_find_by_any_spelling(pki) -> None:  # type: ignore[no-untyped-def]
    assert pki.store.find("Alice <sips:alice@ATLANTA.example>;tag=1") == pki.alice.cert
    assert pki.store.find(SipAddress(None, "atlanta.example")) == pki.domain.cert
    with pytest.raises(CertificateNotFound):
        pki.store.find("sip:nobody@atlanta.example")


def test_valid_chain_for_smime(pki) -> None:  # type: ignore[no-untyped-def]
    chain = pki.store.validate(
        pki.alice.cert, purpose=Purpose.SMIME, now=NOW, address="sip:alice@atlanta.example"
    )
    assert chain.leaf == pki.alice.cert
    assert chain.chain[-1] == pki.ca_cert
    assert chain.addresses == {SipAddress("alice", "atlanta.example")}


def test_domain_for_tls_and_not_for_smime(pki) -> None:  # type: ignore[no-untyped-def]
    for purpose in (Purpose.TLS_SERVER, Purpose.TLS_CLIENT):
        pki.store.validate(pki.domain.cert, purpose=purpose, now=NOW, address="atlanta.example")
    with pytest.raises(CertificateUntrusted, match="no trusted chain"):
        pki.store.validate(pki.domain.cert, purpose=Purpose.SMIME, now=NOW)
    with pytest.raises(CertificateUntrusted):
        pki.store.validate(pki.alice.cert, purpose=Purpose.TLS_SERVER, now=NOW)


@pytest.mark.parametrize("offset", [dt.timedelta(days=366), -dt.timedelta(days=1)])
def test_expired_or_not_yet_valid(pki, offset: dt.timedelta) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CertificateExpired) as info:
        pki.store.validate(pki.alice.cert, purpose=Purpose.SMIME, now=NOW + offset)
    assert info.value.reason_code == "expired"


def test_untrusted_issuer_with_the_same_name(pki) -> None:  # type: ignore[no-untyped-def]
    # Mallory's CA is also called "Test CA": only the key makes the difference.
    with pytest.raises(CertificateUntrusted) as info:
        pki.store.validate(pki.mallory.cert, purpose=Purpose.SMIME, now=NOW)
    assert info.value.reason_code == "untrusted"


def test_name_mismatch(pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CertificateNameMismatch, match=r"not sip:bob@biloxi\.example") as info:
        pki.store.validate(
            pki.alice.cert, purpose=Purpose.SMIME, now=NOW, address="sip:bob@biloxi.example"
        )
    assert info.value.reason_code == "name-mismatch"


def test_revoked_only_from_the_revocation_time(pki) -> None:  # type: ignore[no-untyped-def]
    when = NOW + dt.timedelta(hours=1)
    crl = build_crl(pki.ca_cert, pki.ca_key, [(pki.bob.cert.serial_number, when)], now=NOW)
    store = CertificateStore([pki.ca_cert], crls=[crl])
    store.validate(pki.bob.cert, purpose=Purpose.SMIME, now=NOW)
    with pytest.raises(CertificateRevoked) as info:
        store.validate(pki.bob.cert, purpose=Purpose.SMIME, now=when + dt.timedelta(seconds=1))
    assert info.value.reason_code == "revoked"
    store.validate(pki.alice.cert, purpose=Purpose.SMIME, now=when + dt.timedelta(seconds=1))


def test_crl_signed_by_someone_else_proves_nothing(pki) -> None:  # type: ignore[no-untyped-def]
    evil_key = generate_key()
    evil_root = build_root(evil_key, "Test CA", NOW)  # same issuer name
    forged = build_crl(evil_root, evil_key, [(pki.bob.cert.serial_number, NOW)], now=NOW)
    store = CertificateStore([pki.ca_cert], crls=[forged])
    store.validate(pki.bob.cert, purpose=Purpose.SMIME, now=NOW + dt.timedelta(seconds=1))


def test_store_needs_an_anchor() -> None:
    with pytest.raises(CaError):
        CertificateStore([])
