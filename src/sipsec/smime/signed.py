"""CMS SignedData: sign and verify (RFC 5652 §5, RFC 8551 §2).

Signing writes the signed attributes S/MIME requires (content type, message
digest, signing time; RFC 5652 §5.3, RFC 8551 §2.5) and includes the signer's
certificate and chain so that the receiver needs only a trust anchor.
Verification checks the cryptography only — message digest and signature —
and returns the signer's certificate; whether that certificate is *trusted*
is the store's question (:mod:`sipsec.ca.store`), asked by :mod:`.body`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import warnings
from dataclasses import dataclass

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupported
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning

from sipsec.ca import PrivateKey

from . import _der as der
from ._asn1 import (
    content_info,
    digest_algorithm,
    guarded,
    matches_issuer_serial,
    octets,
    subject_key_id,
)
from .errors import BadSignature, MalformedBody, UnsupportedAlgorithm

__all__ = ["SignedContent", "sign", "verify"]


@dataclass(frozen=True)
class SignedContent:
    """What a verified SignedData vouches for."""

    content: bytes
    signer: x509.Certificate
    certificates: list[x509.Certificate]
    signing_time: dt.datetime | None


def _digest(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


# RFC 5652 §11 attribute types, RFC 5754 / RFC 4055 / RFC 5758 algorithms.
_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
# RFC 5754 §2: SHA-2 identifiers are generated with absent parameters.
_SHA256 = der.seq(der.oid("2.16.840.1.101.3.4.2.1"))
# RFC 4055 §5: sha256WithRSAEncryption with NULL parameters; RFC 5758 §3.2:
# ecdsa-with-SHA256 with absent parameters.
_SHA256_RSA = der.seq(der.oid("1.2.840.113549.1.1.11"), der.NULL)
_SHA256_ECDSA = der.seq(der.oid("1.2.840.10045.4.3.2"))


def sign(
    content: bytes,
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    now: dt.datetime,
    chain: list[x509.Certificate] | None = None,
    detached: bool = True,
) -> bytes:
    """DER ContentInfo(SignedData) over ``content`` with SHA-256."""
    digest = _digest(content, hashes.SHA256())
    signed_attrs = der.set_of(
        der.seq(der.oid(_ATTR_CONTENT_TYPE), der.set_of(der.oid(_DATA))),
        der.seq(der.oid(_ATTR_SIGNING_TIME), der.set_of(der.utc_time(now))),
        der.seq(der.oid(_ATTR_MESSAGE_DIGEST), der.set_of(der.octets(digest))),
    )
    # §5.4: the signature covers the DER of the attributes as a SET OF, not
    # as the [0] IMPLICIT field they are carried in.
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        sig_alg = _SHA256_RSA
    else:
        signature = key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        sig_alg = _SHA256_ECDSA
    signer_info = der.seq(
        der.integer(1),  # v1: the sid is issuerAndSerialNumber (§5.3)
        der.seq(cert.issuer.public_bytes(), der.integer(cert.serial_number)),
        _SHA256,
        der.implicit(0, signed_attrs),
        sig_alg,
        der.octets(signature),
    )
    encap = (
        der.seq(der.oid(_DATA))
        if detached
        else der.seq(der.oid(_DATA), der.explicit(0, der.octets(content)))
    )
    certs = b"".join(c.public_bytes(Encoding.DER) for c in [cert, *(chain or [])])
    signed_data = der.seq(
        der.integer(1),  # §5.1: v1 for id-data content and only X.509 certificates
        der.set_of(_SHA256),
        encap,
        der.tlv(0xA0, certs),
        der.set_of(signer_info),
    )
    return der.seq(der.oid(_SIGNED_DATA), der.explicit(0, signed_data))


def verify(der: bytes, detached_content: bytes | None = None) -> SignedContent:
    """Check a SignedData's digest and signature; return the content and signer.

    ``detached_content`` is the first part of a multipart/signed; without
    it the content must be encapsulated.  Raises :class:`MalformedBody`,
    :class:`BadSignature` or :class:`UnsupportedAlgorithm`.
    """
    _, signed_data = content_info(der, {"signed_data"})
    with guarded("CMS SignedData"):
        encap = signed_data["encap_content_info"]
        inner = encap["content"]
        encapsulated = None if isinstance(inner, core.Void) else inner.native
        if detached_content is not None:
            content = detached_content
        elif isinstance(encapsulated, bytes):
            content = encapsulated
        else:
            raise MalformedBody("SignedData carries no content and none was given")
        certs: list[x509.Certificate] = []
        for choice in signed_data["certificates"] or []:
            if choice.name == "certificate":
                certs.append(_load_certificate(choice.chosen.dump()))
        infos = list(signed_data["signer_infos"])
        if len(infos) != 1:
            raise MalformedBody(f"expected one SignerInfo, found {len(infos)}")
        info = infos[0]
        signer = _find_signer(info["sid"], certs)
        algorithm = digest_algorithm(info["digest_algorithm"]["algorithm"].native)
        content_digest = _digest(content, algorithm)
        signing_time: dt.datetime | None = None
        attrs = info["signed_attrs"]
        if isinstance(attrs, core.Void) or len(attrs) == 0:
            signed_bytes = content
        else:
            seen: dict[str, object] = {}
            for attr in attrs:
                values = list(attr["values"])
                if len(values) != 1:
                    raise MalformedBody("a signed attribute must have exactly one value")
                seen[str(attr["type"].native)] = values[0].native
            digest = seen.get("message_digest")
            if not isinstance(digest, bytes):
                raise MalformedBody("signed attributes lack the message digest")
            if seen.get("content_type") != encap["content_type"].native:
                raise BadSignature("signed content type differs from the content's")
            if not hmac.compare_digest(digest, content_digest):
                raise BadSignature("message digest does not match the signed content")
            when = seen.get("signing_time")
            signing_time = when if isinstance(when, dt.datetime) else None
            # §5.4: re-tag the [0] IMPLICIT attributes as the SET OF they were signed as.
            raw = attrs.dump()
            signed_bytes = b"\x31" + raw[1:]
        signature = octets(info["signature"])
        sig_alg = info["signature_algorithm"]
        _check_signature(signer, sig_alg, algorithm, signature, signed_bytes)
    return SignedContent(content, signer, certs, signing_time)


def _load_certificate(data: bytes) -> x509.Certificate:
    # cryptography only *warns* about some RFC 5280 violations (a negative
    # serial number); in a signature from the network they are corruption.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        try:
            return x509.load_der_x509_certificate(data)
        except (ValueError, x509.InvalidVersion, CryptographyDeprecationWarning):
            raise MalformedBody("SignedData holds a corrupt certificate") from None


def _find_signer(sid: cms.SignerIdentifier, certs: list[x509.Certificate]) -> x509.Certificate:
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            if matches_issuer_serial(sid.chosen, cert):
                return cert
        elif sid.chosen.native == subject_key_id(cert):
            return cert
    raise BadSignature("the signer's certificate is not in the SignedData")


def _check_signature(
    signer: x509.Certificate,
    sig_alg: algos.SignedDigestAlgorithm,
    digest: hashes.HashAlgorithm,
    signature: bytes,
    data: bytes,
) -> None:
    try:
        public_key = signer.public_key()
    except (ValueError, CryptographyUnsupported):
        raise UnsupportedAlgorithm("the signer's public key is of an unsupported kind") from None
    kind = sig_alg.signature_algo
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        elif kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            params = sig_alg["parameters"]
            pss_hash = digest_algorithm(params["hash_algorithm"]["algorithm"].native)
            mgf_hash = digest_algorithm(
                params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            )
            salt = int(params["salt_length"].native)
            public_key.verify(signature, data, padding.PSS(padding.MGF1(mgf_hash), salt), pss_hash)
        elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(digest))
        else:
            raise UnsupportedAlgorithm(f"signature algorithm {kind} with this signer key")
    except InvalidSignature:
        raise BadSignature("signature does not verify with the signer's key") from None
