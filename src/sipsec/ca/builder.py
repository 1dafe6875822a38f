"""Certificates and CRLs as pure functions of keys, names and ``now`` (RFC 5280).

- the root: a self-signed CA, keyCertSign and cRLSign only;
- a user: subjectAltName ``URI:sip:user@host`` (RFC 3261 §23.4.1) and
  ``rfc822Name user@host`` (RFC 8551 §3.1 for S/MIME), EKU emailProtection;
- a domain: ``DNS:host`` and ``URI:sip:host`` (RFC 5922 §7.1, §7.3), EKU
  serverAuth and clientAuth (mutual TLS between proxies).

The directory-backed authority in :mod:`.authority` only stores what these
return; tests call them directly with a fixed clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import CaError
from .keys import PrivateKey
from .names import SipAddress

__all__ = ["build_crl", "build_domain", "build_root", "build_user"]

# Backdating by a minute tolerates peers whose clock is slightly behind ours.
_BACKDATE = dt.timedelta(minutes=1)


def _key_usage(public_key: CertificatePublicKeyTypes) -> x509.KeyUsage:
    # RSA keys transport content keys (keyEncipherment); EC keys agree on them
    # (keyAgreement, RFC 5753 §7).  Both sign.
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=is_rsa,
        data_encipherment=False,
        key_agreement=isinstance(public_key, ec.EllipticCurvePublicKey),
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def build_root(
    key: PrivateKey, common_name: str, now: dt.datetime, days: int = 3650
) -> x509.Certificate:
    """A self-signed trust anchor."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return builder.sign(key, hashes.SHA256())


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    public_key: CertificatePublicKeyTypes,
    *,
    common_name: str,
    names: list[x509.GeneralName],
    usages: list[x509.ObjectIdentifier],
    now: dt.datetime,
    days: int,
) -> x509.Certificate:
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CaError("only RSA and EC subject keys are supported")
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(public_key), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(ca_key, hashes.SHA256())


def build_user(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    public_key: CertificatePublicKeyTypes,
    address: SipAddress,
    *,
    now: dt.datetime,
    days: int = 365,
) -> x509.Certificate:
    """A user's S/MIME certificate for ``sip:user@host``."""
    if address.is_domain:
        raise CaError(f"{address.uri} is a domain, not a user")
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(address.uri),
        x509.RFC822Name(address.name),
    ]
    usages = [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _leaf(
        ca_cert,
        ca_key,
        public_key,
        common_name=address.name,
        names=names,
        usages=usages,
        now=now,
        days=days,
    )


def build_domain(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    public_key: CertificatePublicKeyTypes,
    address: SipAddress,
    *,
    now: dt.datetime,
    days: int = 365,
) -> x509.Certificate:
    """A proxy's certificate for the SIP domain ``host`` (RFC 5922 §7.1)."""
    if not address.is_domain:
        raise CaError(f"{address.uri} names a user, not a domain")
    names: list[x509.GeneralName] = [
        x509.DNSName(address.host),
        x509.UniformResourceIdentifier(address.uri),
    ]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _leaf(
        ca_cert,
        ca_key,
        public_key,
        common_name=address.host,
        names=names,
        usages=usages,
        now=now,
        days=days,
    )


def build_crl(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[tuple[int, dt.datetime]],
    *,
    now: dt.datetime,
    next_update: dt.timedelta = dt.timedelta(days=7),
    number: int = 1,
) -> x509.CertificateRevocationList:
    """A CRL (RFC 5280 §5) listing ``(serial, revocation time)`` pairs."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca_key, hashes.SHA256())
