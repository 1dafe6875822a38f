"""A small SIP-aware certificate authority and certificate store (RFC 5280, RFC 5922).

- :mod:`~sipsec.ca.names`: SIP addresses as certificates carry them.
- :mod:`~sipsec.ca.keys`: key generation and 0600 PEM files.
- :mod:`~sipsec.ca.builder`: root, user and domain certificates, CRLs (pure).
- :mod:`~sipsec.ca.authority`: the CA directory behind ``sipsec ca``.
- :mod:`~sipsec.ca.store`: lookup by SIP address and chain validation for a purpose.
"""

from __future__ import annotations

from .authority import CertificateAuthority, IssuedRecord
from .builder import build_crl, build_domain, build_root, build_user
from .errors import (
    CaError,
    CertificateExpired,
    CertificateNameMismatch,
    CertificateNotFound,
    CertificateRevoked,
    CertificateUntrusted,
    CertificateValidationError,
)
from .keys import (
    KEY_KINDS,
    KeyKind,
    PrivateKey,
    generate_key,
    load_certificates,
    load_private_key,
    write_certificates,
    write_private_key,
)
from .names import SipAddress, certificate_addresses, parse_address
from .store import CertificateStore, Purpose, ValidatedChain

__all__ = [
    "KEY_KINDS",
    "CaError",
    "CertificateAuthority",
    "CertificateExpired",
    "CertificateNameMismatch",
    "CertificateNotFound",
    "CertificateRevoked",
    "CertificateStore",
    "CertificateUntrusted",
    "CertificateValidationError",
    "IssuedRecord",
    "KeyKind",
    "PrivateKey",
    "Purpose",
    "SipAddress",
    "ValidatedChain",
    "build_crl",
    "build_domain",
    "build_root",
    "build_user",
    "certificate_addresses",
    "generate_key",
    "load_certificates",
    "load_private_key",
    "parse_address",
    "write_certificates",
    "write_private_key",
]
