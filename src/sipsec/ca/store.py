"""A certificate store: trust anchors, known certificates, CRLs.

Chains are built and checked by cryptography's RFC 5280 path validation
(``cryptography.x509.verification``): its client verifier with the web-PKI
CA policy, and an end-entity policy whose extended key usage check is ours,
so that a purpose other than TLS client (S/MIME's emailProtection, RFC 8551
§4.4.4) can be demanded.  The library does not read CRLs and treats every
validation failure alike, so expiry (before path building, to name the cause)
and revocation (RFC 5280 §6.3, against the CRL the issuer signed) are
checked here.  Identity — "the SAN equals the From address" of RFC 3261
§23.4.1 — is compared on the canonical :class:`SipAddress`.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from .errors import (
    CaError,
    CertificateExpired,
    CertificateNameMismatch,
    CertificateNotFound,
    CertificateRevoked,
    CertificateUntrusted,
)
from .keys import load_certificates
from .names import SipAddress, certificate_addresses, parse_address

__all__ = ["CertificateStore", "Purpose", "ValidatedChain"]


class Purpose(enum.Enum):
    """What a certificate is about to be trusted for, as an EKU (RFC 5280 §4.2.1.12)."""

    SMIME = ExtendedKeyUsageOID.EMAIL_PROTECTION
    TLS_SERVER = ExtendedKeyUsageOID.SERVER_AUTH
    TLS_CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class ValidatedChain:
    """A leaf that chained to an anchor: the chain leaf first, and its SIP identities."""

    chain: list[x509.Certificate]
    addresses: frozenset[SipAddress]

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]


def _eku_check(purpose: Purpose) -> object:
    def check(_policy: Policy, _cert: x509.Certificate, ext: x509.ExtendedKeyUsage | None) -> None:
        # RFC 8551 §4.4.4: with an EKU present, the purpose (or anyExtendedKeyUsage)
        # must be listed.  An absent EKU means "any purpose" (RFC 5280 §4.2.1.12).
        if ext is None:
            return
        if purpose.value not in ext and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in ext:
            raise ValueError(f"extended key usage does not allow {purpose.name}")

    return check


class CertificateStore:
    """Trust anchors plus the certificates and CRLs we know of."""

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        certificates: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> None:
        self.anchors = list(anchors)
        if not self.anchors:
            raise CaError("a certificate store needs at least one trust anchor")
        self.certificates = list(certificates)
        self.crls = list(crls)
        self._policies: dict[Purpose, ExtensionPolicy] = {}

    @classmethod
    def from_directory(cls, directory: Path) -> CertificateStore:
        """A CA directory as written by :class:`CertificateAuthority`: ``ca.pem``
        is the anchor, every other ``*.pem`` a known certificate, ``crl.pem``
        the CRL."""
        anchors = load_certificates(directory / "ca.pem")
        certs: list[x509.Certificate] = []
        for path in sorted(directory.glob("*.pem")):
            if path.name not in {"ca.pem", "crl.pem"}:
                certs.extend(load_certificates(path))
        crls: list[x509.CertificateRevocationList] = []
        crl_path = directory / "crl.pem"
        if crl_path.exists():
            try:
                crls.append(x509.load_pem_x509_crl(crl_path.read_bytes()))
            except ValueError:
                raise CaError(f"{crl_path} is not a PEM CRL") from None
        return cls(anchors, certs, crls)

    def add_crl(self, crl: x509.CertificateRevocationList) -> None:
        self.crls.append(crl)

    def find(self, address: str | SipAddress) -> x509.Certificate:
        """The newest known certificate whose SAN names ``address``."""
        wanted = parse_address(address) if isinstance(address, str) else address
        matches = [c for c in self.certificates if wanted in certificate_addresses(c)]
        if not matches:
            raise CertificateNotFound(f"no certificate for {wanted.uri}")
        return max(matches, key=lambda c: c.not_valid_before_utc)

    def validate(
        self,
        leaf: x509.Certificate,
        intermediates: Iterable[x509.Certificate] = (),
        *,
        purpose: Purpose,
        now: dt.datetime,
        address: str | SipAddress | None = None,
    ) -> ValidatedChain:
        """Check ``leaf`` for ``purpose`` at ``now``; with ``address``, also its identity.

        Raises :class:`CertificateExpired`, :class:`CertificateRevoked`,
        :class:`CertificateUntrusted` or :class:`CertificateNameMismatch`.
        """
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise CertificateExpired(
                f"certificate of {leaf.subject.rfc4514_string()} is valid from "
                f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            )
        verifier = (
            PolicyBuilder()
            .store(Store(self.anchors))
            .time(now)
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=self._ee_policy(purpose),
            )
            .build_client_verifier()
        )
        try:
            verified = verifier.verify(leaf, list(intermediates))
        except VerificationError as exc:
            raise CertificateUntrusted(f"no trusted chain: {exc}") from None
        except ValueError as exc:  # a certificate the library cannot even parse
            raise CertificateUntrusted(f"unusable certificate: {exc}") from None
        chain = list(verified.chain)
        self._check_revocation(chain, now)
        addresses = frozenset(certificate_addresses(leaf))
        if address is not None:
            wanted = parse_address(address) if isinstance(address, str) else address
            if wanted not in addresses:
                names = ", ".join(sorted(a.uri for a in addresses)) or "no SIP URI"
                raise CertificateNameMismatch(
                    f"certificate is for {names}, not {wanted.uri} (RFC 3261 §23.4.1)"
                )
        return ValidatedChain(chain, addresses)

    def _ee_policy(self, purpose: Purpose) -> ExtensionPolicy:
        policy = self._policies.get(purpose)
        if policy is None:
            policy = ExtensionPolicy.webpki_defaults_ee().require_present(
                x509.ExtendedKeyUsage,
                Criticality.AGNOSTIC,
                _eku_check(purpose),  # type: ignore[arg-type]
            )
            self._policies[purpose] = policy
        return policy

    def _check_revocation(self, chain: list[x509.Certificate], now: dt.datetime) -> None:
        # Every certificate but the anchor, against every CRL its issuer signed.
        for cert, issuer in itertools.pairwise(chain):
            for crl in self.crls:
                if crl.issuer != issuer.subject:
                    continue
                if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                    continue  # forged or foreign: it proves nothing either way
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None and entry.revocation_date_utc <= now:
                    raise CertificateRevoked(
                        f"certificate {cert.serial_number:x} of "
                        f"{cert.subject.rfc4514_string()} was revoked on "
                        f"{entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC"
                    )
