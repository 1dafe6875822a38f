"""Shared helpers for reading CMS with asn1crypto (RFC 5652).

asn1crypto parses lazily: a corrupt length or tag surfaces on first access
of a field, as one of several built-in exceptions.  Every access to
untrusted structure goes through :func:`guarded`, which turns those into
:class:`MalformedBody` so that no other exception escapes for any bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .errors import MalformedBody, UnsupportedAlgorithm

__all__ = [
    "ASN1_ERRORS",
    "content_info",
    "digest_algorithm",
    "guarded",
    "matches_issuer_serial",
]

T = TypeVar("T")

# What asn1crypto raises for bad input (found by the Hypothesis suite;
# AttributeError comes from asn1crypto 1.5 reading a corrupt ObjectDescriptor).
ASN1_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    AttributeError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
)

_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@contextmanager
def guarded(what: str) -> Iterator[None]:
    try:
        yield
    except ASN1_ERRORS as exc:
        raise MalformedBody(f"{what} is malformed or truncated ({type(exc).__name__})") from None


def content_info(der: bytes, expected: set[str]) -> tuple[str, Any]:
    """Load a ContentInfo and return (content type name, parsed content)."""
    with guarded("CMS ContentInfo"):
        info = cms.ContentInfo.load(der, strict=True)
        kind = info["content_type"].native
        if kind not in expected:
            raise UnsupportedAlgorithm(f"CMS content type {kind} where {sorted(expected)} expected")
        # The content is parsed lazily; callers read it inside guarded() too.
        return str(kind), info["content"]


def digest_algorithm(name: str) -> hashes.HashAlgorithm:
    factory = _DIGESTS.get(name)
    if factory is None:
        raise UnsupportedAlgorithm(f"digest algorithm {name} is not supported")
    return factory()


def matches_issuer_serial(ias: cms.IssuerAndSerialNumber, cert: x509.Certificate) -> bool:
    # Names compare by DER: we issued (or loaded) the certificate, and CMS
    # writers copy the issuer field verbatim (RFC 5652 §10.2.4).
    return bool(
        ias["serial_number"].native == cert.serial_number
        and ias["issuer"].dump() == cert.issuer.public_bytes()
    )


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.digest


def octets(value: core.OctetString) -> bytes:
    data = value.native
    if not isinstance(data, bytes):
        raise MalformedBody("expected an OCTET STRING")
    return data
