"""Errors of the certificate authority and the certificate store.

Validation failures are split by cause because the layer above answers each
differently (RFC 3261 §23.2: the user is told *why* a signer is not trusted).
"""

from __future__ import annotations

from sipsec.errors import SipsecError

__all__ = [
    "CaError",
    "CertificateExpired",
    "CertificateNameMismatch",
    "CertificateNotFound",
    "CertificateRevoked",
    "CertificateUntrusted",
    "CertificateValidationError",
]


class CaError(SipsecError):
    """The CA directory, a key file or an argument is unusable."""


class CertificateNotFound(CaError):
    """No certificate in the store belongs to the SIP address asked for."""


class CertificateValidationError(SipsecError):
    """A certificate may not be trusted for the purpose asked for."""

    reason_code = "untrusted"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CertificateExpired(CertificateValidationError):
    """The certificate is outside its validity period at the time checked."""

    reason_code = "expired"


class CertificateRevoked(CertificateValidationError):
    """The issuer's CRL lists the certificate's serial number."""

    reason_code = "revoked"


class CertificateUntrusted(CertificateValidationError):
    """No valid chain to a trust anchor for the purpose asked for."""

    reason_code = "untrusted"


class CertificateNameMismatch(CertificateValidationError):
    """The certificate is valid, but its subjectAltName is not the expected address."""

    reason_code = "name-mismatch"
