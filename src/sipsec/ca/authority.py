"""The CA directory: ``ca.pem`` + ``ca.key``, ``NAME.pem`` + ``NAME.key`` per
subject, ``crl.pem`` and ``index.json`` (what was issued and revoked).

The file layout is a contract with scripts (``sipsec ca …``): NAME is
``alice@atlanta.example`` for users and ``atlanta.example`` for domains.
Certificates themselves come from the pure functions of :mod:`.builder`;
this class only chooses serials' fates and writes files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .builder import build_crl, build_domain, build_root, build_user
from .errors import CaError
from .keys import (
    KeyKind,
    PrivateKey,
    generate_key,
    load_certificates,
    load_private_key,
    write_certificates,
    write_private_key,
)
from .names import SipAddress, parse_address

__all__ = ["CertificateAuthority", "IssuedRecord", "read_index"]


@dataclass
class IssuedRecord:
    """One line of ``index.json``."""

    name: str
    kind: str  # "user" or "domain"
    serial: int
    not_after: str
    revoked_at: str | None = None


class CertificateAuthority:
    """A CA whose state lives in one directory."""

    def __init__(self, directory: Path, cert: x509.Certificate, key: PrivateKey) -> None:
        self.directory = directory
        self.cert = cert
        self._key = key

    def __repr__(self) -> str:  # never the key
        return (
            f"CertificateAuthority({str(self.directory)!r}, {self.cert.subject.rfc4514_string()!r})"
        )

    @classmethod
    def init(
        cls,
        directory: Path,
        *,
        now: dt.datetime,
        key_kind: KeyKind = "ec-p256",
        passphrase: bytes | None = None,
        common_name: str = "sipsec CA",
        days: int = 3650,
    ) -> CertificateAuthority:
        """Create the root key and self-signed certificate; refuse to overwrite one."""
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / "ca.pem").exists():
            raise CaError(f"{directory}/ca.pem exists: this directory already holds a CA")
        key = generate_key(key_kind)
        cert = build_root(key, common_name, now, days)
        write_private_key(directory / "ca.key", key, passphrase)
        write_certificates(directory / "ca.pem", [cert])
        ca = cls(directory, cert, key)
        ca._save_index([])
        return ca

    @classmethod
    def open(cls, directory: Path, passphrase: bytes | None = None) -> CertificateAuthority:
        if not (directory / "ca.pem").exists():
            raise CaError(f"{directory} holds no CA (run `sipsec ca init --dir {directory}`)")
        cert = load_certificates(directory / "ca.pem")[0]
        key = load_private_key(directory / "ca.key", passphrase)
        if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise CaError(f"{directory}/ca.key does not belong to ca.pem")
        return cls(directory, cert, key)

    # -- issuing ---------------------------------------------------------

    def issue(
        self,
        subject: str,
        *,
        now: dt.datetime,
        domain: bool = False,
        key_kind: KeyKind = "ec-p256",
        passphrase: bytes | None = None,
        days: int = 365,
    ) -> tuple[x509.Certificate, Path]:
        """Issue a user (``sip:alice@atlanta.example``) or domain certificate.

        Writes ``NAME.pem`` and ``NAME.key`` (0600) and returns the certificate
        and the path of its PEM file.
        """
        address = parse_address(subject)
        # RFC 3261 lets a user part contain "/"; as a file name it would
        # leave the CA directory.
        if "/" in address.name or address.name.startswith("."):
            raise CaError(f"{subject!r} cannot name a file in the CA directory")
        if domain != address.is_domain:
            what = "a domain name" if domain else "a user address (sip:user@host)"
            raise CaError(f"{subject!r} is not {what}")
        key = generate_key(key_kind)
        build = build_domain if domain else build_user
        cert = build(self.cert, self._key, key.public_key(), address, now=now, days=days)
        cert_path = self.directory / f"{address.name}.pem"
        write_private_key(self.directory / f"{address.name}.key", key, passphrase)
        write_certificates(cert_path, [cert])
        records = [r for r in self.records() if r.name != address.name or r.revoked_at]
        records.append(
            IssuedRecord(
                address.name,
                "domain" if domain else "user",
                cert.serial_number,
                cert.not_valid_after_utc.isoformat(),
            )
        )
        self._save_index(records)
        return cert, cert_path

    # -- revocation (RFC 5280 §5) -----------------------------------------

    def revoke(self, name: str, *, now: dt.datetime) -> IssuedRecord:
        """Mark the current certificate of ``name`` revoked and rewrite the CRL."""
        wanted: SipAddress = parse_address(name)
        records = self.records()
        live = [r for r in records if r.name == wanted.name and r.revoked_at is None]
        if not live:
            raise CaError(f"no unrevoked certificate named {wanted.name}")
        for record in live:
            record.revoked_at = now.isoformat()
        self._save_index(records)
        self.write_crl(now=now)
        return live[-1]

    def write_crl(self, *, now: dt.datetime) -> x509.CertificateRevocationList:
        records = self.records()
        revoked = [
            (r.serial, dt.datetime.fromisoformat(r.revoked_at)) for r in records if r.revoked_at
        ]
        number = sum(1 for r in records if r.revoked_at) + 1
        crl = build_crl(self.cert, self._key, revoked, now=now, number=number)
        (self.directory / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return crl

    # -- index -------------------------------------------------------------

    def records(self) -> list[IssuedRecord]:
        return read_index(self.directory)

    def _save_index(self, records: list[IssuedRecord]) -> None:
        path = self.directory / "index.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in records], indent=1) + "\n", "utf-8")
        tmp.replace(path)


def read_index(directory: Path) -> list[IssuedRecord]:
    """What ``index.json`` says was issued (and revoked), oldest first."""
    path = directory / "index.json"
    try:
        raw = json.loads(path.read_text("utf-8"))
        return [IssuedRecord(**item) for item in raw]
    except FileNotFoundError:
        if not (directory / "ca.pem").exists():
            raise CaError(f"{directory} holds no CA") from None
        return []
    except (ValueError, TypeError) as exc:
        raise CaError(f"{path} is damaged: {exc}") from None
