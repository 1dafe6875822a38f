"""The test suite's one PKI, made with sipsec's own CA (:mod:`sipsec.ca`).

:func:`shared` builds it once per test session and the top-level
``conftest.py`` offers it as the ``pki`` fixture:

- a root CA (``ca.pem``), issued at :data:`NOW`;
- domain certificates for ``atlanta.example`` and ``biloxi.example``: SAN
  ``DNS:host`` and ``URI:sip:host``, EKU serverAuth and clientAuth, so that
  the same certificate serves a proxy's TLS server and its side of mutual TLS
  (RFC 5922 §7.1, §7.3);
- user certificates for ``alice@atlanta.example`` and ``bob@biloxi.example``:
  SAN ``URI:sip:user@host`` and ``rfc822Name user@host``, EKU
  emailProtection, as :mod:`sipsec.smime` looks its peers up
  (RFC 3261 §23.4.1, RFC 8551 §3.1).

Every certificate is also a pair of PEM files (key 0600) in the session's
temp directory, for the ``sipsec`` command and the peers (openssl, Kamailio,
baresip). More users and domains come from :meth:`Authority.user` and
:meth:`Authority.domain` on demand, issued by the same root. A test that needs
a deliberately different certificate (expired, for another name, from a CA
nobody trusts, a shape sipsec.ca refuses to issue) builds it locally with the
same helpers and their parameters, never by hand.
"""

from __future__ import annotations

import atexit
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sipsec.ca import (
    CertificateStore,
    KeyKind,
    PrivateKey,
    build_domain,
    build_root,
    build_user,
    generate_key,
    parse_address,
    write_certificates,
    write_private_key,
)
from sipsec.transport.tls import TlsSettings

__all__ = ["NOW", "Authority", "Credentials", "Pki", "shared"]

# The clock every shared certificate is issued at: the real time when the
# session started, since TLS peers (ssl, Kamailio, baresip) check with the real
# clock. Sans-IO tests that pass ``now`` explicitly use this same instant.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)

# How a certificate gets signed once its key exists: ``(key, now) -> certificate``.
_Signer = Callable[[PrivateKey, dt.datetime], x509.Certificate]


@dataclass(frozen=True)
class Credentials:
    """A certificate and its private key, in memory and as PEM files."""

    name: str
    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    cert: Path  # PEM certificate
    key: Path  # PEM PKCS#8 key, mode 0600

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _label(label: str | None, name: str, now: dt.datetime | None, days: int) -> str:
    """The file name and cache key of a certificate: ``name`` for the usual one;
    one issued at another time or for another lifetime must be named, or it
    would be mistaken for the usual one."""
    if label is not None:
        return label
    if now is not None or days != 365:
        raise ValueError(f"a certificate for {name} with its own dates needs a label")
    return name


@dataclass
class Authority:
    """A root CA and the certificates it issued, written into ``directory``.

    Issued certificates are kept by label: asking twice for the same one
    returns the same certificate and files.
    """

    directory: Path
    root: x509.Certificate
    root_key: PrivateKey = field(repr=False)
    now: dt.datetime = NOW
    issued: dict[str, Credentials] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls, directory: Path, common_name: str = "sipsec test root", *, now: dt.datetime = NOW
    ) -> Authority:
        directory.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        authority = cls(directory, build_root(key, common_name, now), key, now)
        write_certificates(authority.ca, [authority.root])
        return authority

    @property
    def ca(self) -> Path:
        """The root as a PEM file: the trust anchors of a TLS peer."""
        return self.directory / "ca.pem"

    def into(self, directory: Path) -> Authority:
        """The same root, issuing into ``directory``: a test's own certificates
        stay out of the shared directory and its cache."""
        directory.mkdir(parents=True, exist_ok=True)
        return Authority(directory, self.root, self.root_key, self.now)

    def domain(
        self,
        name: str,
        *,
        label: str | None = None,
        now: dt.datetime | None = None,
        days: int = 365,
    ) -> Credentials:
        """A proxy's certificate for the SIP domain ``name`` (RFC 5922 §7.1)."""
        address = parse_address(name)

        def sign(key: PrivateKey, at: dt.datetime) -> x509.Certificate:
            return build_domain(
                self.root, self.root_key, key.public_key(), address, now=at, days=days
            )

        return self._issue(_label(label, address.name, now, days), sign, now)

    def user(
        self,
        aor: str,
        *,
        label: str | None = None,
        now: dt.datetime | None = None,
        days: int = 365,
        kind: KeyKind = "ec-p256",
    ) -> Credentials:
        """A user's S/MIME certificate for ``sip:user@host`` (RFC 3261 §23.4.1)."""
        address = parse_address(aor)

        def sign(key: PrivateKey, at: dt.datetime) -> x509.Certificate:
            return build_user(
                self.root, self.root_key, key.public_key(), address, now=at, days=days
            )

        name = address.name if kind == "ec-p256" else f"{address.name}-{kind}"
        return self._issue(_label(label, name, now, days), sign, now, kind)

    def custom(
        self,
        label: str,
        names: Sequence[x509.GeneralName],
        *,
        common_name: str,
        usages: Sequence[x509.ObjectIdentifier] = (
            ExtendedKeyUsageOID.SERVER_AUTH,
            ExtendedKeyUsageOID.CLIENT_AUTH,
        ),
        days: int = 30,
    ) -> Credentials:
        """A leaf of a shape sipsec.ca refuses to issue (DNS-only, wildcard, no
        SAN at all, a URI for another domain): only the tests of the peer
        checks need one. ``names`` empty means no subjectAltName extension."""

        def sign(key: PrivateKey, at: dt.datetime) -> x509.Certificate:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
            builder = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(self.root.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(at - dt.timedelta(days=1))
                .not_valid_after(at + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
            )
            if names:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName(list(names)), critical=False
                )
            return builder.sign(self.root_key, hashes.SHA256())

        return self._issue(label, sign, None)

    def store(self, *known: Credentials) -> CertificateStore:
        """A store that trusts this root and knows ``known`` by their addresses."""
        return CertificateStore([self.root], [c.certificate for c in known])

    def settings(self, who: Credentials | None = None, **options: object) -> TlsSettings:
        """TLS settings that trust this root, with ``who``'s certificate and key."""
        return TlsSettings(
            self.ca,
            None if who is None else who.cert,
            None if who is None else who.key,
            **options,  # type: ignore[arg-type]
        )

    def _issue(
        self,
        label: str,
        sign: _Signer,
        now: dt.datetime | None,
        kind: KeyKind = "ec-p256",
    ) -> Credentials:
        known = self.issued.get(label)
        if known is not None:
            return known
        key = generate_key(kind)
        certificate = sign(key, self.now if now is None else now)
        cert_path, key_path = self.directory / f"{label}.pem", self.directory / f"{label}.key"
        write_certificates(cert_path, [certificate])
        write_private_key(key_path, key)
        credentials = Credentials(label, certificate, key, cert_path, key_path)
        self.issued[label] = credentials
        return credentials


@dataclass(frozen=True)
class Pki:
    """The shared PKI: the root and the four parties of the RFC 3261 trapezoid."""

    authority: Authority
    atlanta: Credentials  # domain atlanta.example
    biloxi: Credentials  # domain biloxi.example
    alice: Credentials  # user sip:alice@atlanta.example
    bob: Credentials  # user sip:bob@biloxi.example

    @property
    def ca(self) -> Path:
        return self.authority.ca

    @property
    def directory(self) -> Path:
        return self.authority.directory

    @property
    def root(self) -> x509.Certificate:
        return self.authority.root

    @property
    def now(self) -> dt.datetime:
        return self.authority.now

    def domain(self, name: str) -> Credentials:
        return self.authority.domain(name)

    def user(self, aor: str) -> Credentials:
        return self.authority.user(aor)

    def store(self, *known: Credentials) -> CertificateStore:
        """Trusts the root; knows ``known`` (Alice and Bob when none are named)."""
        return self.authority.store(*(known or (self.alice, self.bob)))

    def settings(self, who: Credentials | None = None, **options: object) -> TlsSettings:
        return self.authority.settings(who, **options)


def build(directory: Path) -> Pki:
    """A fresh PKI of the shared shape in ``directory``."""
    authority = Authority.create(directory)
    return Pki(
        authority,
        atlanta=authority.domain("atlanta.example"),
        biloxi=authority.domain("biloxi.example"),
        alice=authority.user("sip:alice@atlanta.example"),
        bob=authority.user("sip:bob@biloxi.example"),
    )


_shared: list[Pki] = []


def shared(directory: Path | None = None) -> Pki:
    """The session's PKI, built on first use in ``directory`` (the ``pki``
    fixture passes a pytest temp directory; code outside fixtures may call it
    bare, and gets a temp directory removed at exit)."""
    if not _shared:
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="sipsec-pki-"))
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _shared.append(build(directory))
    return _shared[0]
