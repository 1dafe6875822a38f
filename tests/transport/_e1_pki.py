"""Certificates for the TLS tests, made with sipsec.ca (plus a few odd ones
sipsec.ca refuses to issue: DNS-only, wildcard, no SAN, URI for another
domain), written as PEM files in a temp directory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sipsec.ca import PrivateKey, build_domain, build_root, build_user, generate_key, parse_address
from sipsec.transport.tls import TlsSettings

NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Creds:
    cert: Path
    key: Path
    der: bytes


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: Path  # trusted root
    atlanta: Creds
    biloxi: Creds
    alice: Creds  # user certificate sip:alice@atlanta.example
    expired: Creds  # biloxi.example, expired yesterday
    stranger: Creds  # biloxi.example, issued by an untrusted root
    dns_only: Creds  # only dNSName biloxi.example
    wildcard: Creds  # dNSName *.example
    uri_other: Creds  # URI sip:other.example + dNSName biloxi.example (URI wins)
    no_san: Creds  # CN biloxi.example only

    def settings(self, who: Creds | None = None, **options: object) -> TlsSettings:
        return TlsSettings(
            self.ca,
            None if who is None else who.cert,
            None if who is None else who.key,
            **options,  # type: ignore[arg-type]
        )


def _odd(
    ca: x509.Certificate, ca_key: PrivateKey, names: list[x509.GeneralName], cn: str
) -> tuple[x509.Certificate, PrivateKey]:
    key = generate_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(directory: Path, name: str, cert: x509.Certificate, key: PrivateKey) -> Creds:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Creds(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))


def make_pki(directory: Path) -> Pki:
    root_key = generate_key()
    root = build_root(root_key, "sipsec test root", NOW)
    other_key = generate_key()
    other = build_root(other_key, "nobody trusts me", NOW)
    ca = directory / "ca.pem"
    ca.write_bytes(root.public_bytes(serialization.Encoding.PEM))

    def domain(
        label: str,
        name: str,
        *,
        issuer: x509.Certificate = root,
        issuer_key: PrivateKey = root_key,
        now: dt.datetime = NOW,
        days: int = 30,
    ) -> Creds:
        key = generate_key()
        address = parse_address(name)
        cert = build_domain(issuer, issuer_key, key.public_key(), address, now=now, days=days)
        return _write(directory, label, cert, key)

    alice_key = generate_key()
    alice = build_user(
        root, root_key, alice_key.public_key(), parse_address("alice@atlanta.example"), now=NOW
    )

    def odd(name: str, names: list[x509.GeneralName], cn: str = "biloxi.example") -> Creds:
        cert, key = _odd(root, root_key, names, cn)
        return _write(directory, name, cert, key)

    return Pki(
        directory=directory,
        ca=ca,
        atlanta=domain("atlanta", "atlanta.example"),
        biloxi=domain("biloxi", "biloxi.example"),
        alice=_write(directory, "alice", alice, alice_key),
        expired=domain("expired", "biloxi.example", now=NOW - dt.timedelta(days=10), days=2),
        stranger=domain("stranger", "biloxi.example", issuer=other, issuer_key=other_key),
        dns_only=odd("dns-only", [x509.DNSName("biloxi.example")]),
        wildcard=odd("wildcard", [x509.DNSName("*.example")]),
        uri_other=odd(
            "uri-other",
            [x509.UniformResourceIdentifier("sip:other.example"), x509.DNSName("biloxi.example")],
        ),
        no_san=odd("no-san", []),
    )
