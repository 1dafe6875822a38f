"""A small PKI built once per session with a fixed clock: a CA, Alice (RSA-2048),
Bob (P-256), Carol (RSA-3072 — a third party), a domain certificate, and a
stranger CA that nobody trusts.  PEM copies sit in a directory for openssl."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sipsec.ca import (
    CertificateStore,
    PrivateKey,
    build_domain,
    build_root,
    build_user,
    generate_key,
    parse_address,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Party:
    name: str
    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca_cert: x509.Certificate
    ca_key: PrivateKey
    ca_path: Path
    alice: Party  # RSA-2048
    bob: Party  # EC P-256
    carol: Party  # RSA-3072
    domain: Party  # EC, serverAuth/clientAuth only
    mallory: Party  # issued by a CA nobody trusts, claims Alice's address
    store: CertificateStore


def _write(directory: Path, name: str, cert: x509.Certificate, key: PrivateKey) -> Party:
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Party(name, cert, key, cert_path, key_path)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = generate_key("ec-p256")
    ca_cert = build_root(ca_key, "Test CA", NOW)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def user(address: str, kind: str, issuer: tuple[x509.Certificate, PrivateKey]) -> Party:
        key = generate_key(kind)  # type: ignore[arg-type]
        addr = parse_address(address)
        cert = build_user(issuer[0], issuer[1], key.public_key(), addr, now=NOW)
        return _write(directory, addr.name if issuer[0] is ca_cert else "mallory", cert, key)

    alice = user("sip:alice@atlanta.example", "rsa-2048", (ca_cert, ca_key))
    bob = user("sip:bob@biloxi.example", "ec-p256", (ca_cert, ca_key))
    carol = user("sip:carol@chicago.example", "rsa-3072", (ca_cert, ca_key))
    dkey = generate_key("ec-p256")
    dcert = build_domain(
        ca_cert, ca_key, dkey.public_key(), parse_address("atlanta.example"), now=NOW
    )
    domain = _write(directory, "atlanta.example", dcert, dkey)
    evil_key = generate_key("ec-p256")
    evil_root = build_root(evil_key, "Test CA", NOW)  # same name, different key
    mallory = user("sip:alice@atlanta.example", "ec-p256", (evil_root, evil_key))
    store = CertificateStore([ca_cert], [alice.cert, bob.cert, carol.cert, dcert])
    return Pki(directory, ca_cert, ca_key, ca_path, alice, bob, carol, domain, mallory, store)
