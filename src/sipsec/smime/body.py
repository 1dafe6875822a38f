"""S/MIME bodies for SIP: MIME entities in, MIME entities out (RFC 3261 §23.4, RFC 8551 §3).

- signing makes multipart/signed with a detached application/pkcs7-signature
  (§23.4.1 example, RFC 1847), or opaque application/pkcs7-mime;
  smime-type=signed-data;
- encrypting makes application/pkcs7-mime; smime-type=enveloped-data (or
  authEnveloped-data for AES-GCM, RFC 8551 §3.2.2);
- sign and encrypt is the §23.4.3 shape: the signature around the enveloped
  body, so a proxy can check who sent it without reading it;
- verifying checks signature, chain (:class:`sipsec.ca.CertificateStore`) and
  that the signer's subjectAltName is the From address (§23.4.1); decrypting
  answers 493 when the body is not for us (§23.2).

Every S/MIME part carries ``Content-Disposition: attachment; handling=required``
(RFC 3261 §20.11, RFC 3204): a UAS that cannot process it must refuse the
request rather than ignore the body.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from sipsec.ca import (
    CertificateExpired,
    CertificateNameMismatch,
    CertificateRevoked,
    CertificateStore,
    CertificateValidationError,
    PrivateKey,
    Purpose,
    SipAddress,
)

from . import enveloped, signed
from .errors import (
    BadSignature,
    FromMismatch,
    MalformedBody,
    NotForUs,
    SignerExpired,
    SignerRevoked,
    SignerUntrusted,
    SmimeError,
    UnsupportedBody,
)
from .mime import (
    MimeEntity,
    build_multipart,
    canonical_crlf,
    format_params,
    parse_multipart,
)

__all__ = [
    "Opened",
    "Transfer",
    "Verified",
    "decrypt_entity",
    "encrypt_entity",
    "open_body",
    "sign_and_encrypt",
    "sign_entity",
    "verify_entity",
]

Transfer = Literal["binary", "base64"]
_PKCS7_MIME = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
_PKCS7_SIG = {"application/pkcs7-signature", "application/x-pkcs7-signature"}
_MAX_LAYERS = 4  # sign(encrypt(sign(…))) deeper than this is an attack, not a call


@dataclass(frozen=True)
class Verified:
    content: MimeEntity
    signer: x509.Certificate
    chain: list[x509.Certificate]


@dataclass(frozen=True)
class Opened:
    """The innermost entity, who signed it (if anyone) and whether it was encrypted."""

    content: MimeEntity
    signer: x509.Certificate | None
    encrypted: bool


def _canonical(entity: MimeEntity) -> bytes:
    # RFC 8551 §3.1.1: text is signed in canonical CRLF form; SDP is text
    # (RFC 4566 §5 lines end in CRLF).  Other bodies are left exactly as is.
    media, _ = entity.content_type()
    if media.startswith("text/") or media == "application/sdp":
        entity = MimeEntity(entity.headers, canonical_crlf(entity.body))
    return bytes(entity)


def _pkcs7_part(der: bytes, content_type: str, filename: str, transfer: Transfer) -> MimeEntity:
    if transfer == "base64":
        text = base64.b64encode(der)
        body = b"\r\n".join(text[i : i + 64] for i in range(0, len(text), 64)) + b"\r\n"
    else:
        body = der
    return MimeEntity(
        [
            ("Content-Type", content_type),
            ("Content-Transfer-Encoding", transfer),
            ("Content-Disposition", f"attachment; handling=required; filename={filename}"),
        ],
        body,
    )


def sign_entity(
    entity: MimeEntity,
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    now: dt.datetime,
    chain: list[x509.Certificate] | None = None,
    opaque: bool = False,
    transfer: Transfer = "binary",
) -> MimeEntity:
    """multipart/signed (default) or opaque signed-data around ``entity``."""
    content = _canonical(entity)
    if opaque:
        der = signed.sign(content, cert, key, now=now, chain=chain, detached=False)
        ctype = "application/pkcs7-mime; smime-type=signed-data; name=smime.p7m"
        return _pkcs7_part(der, ctype, "smime.p7m", transfer)
    der = signed.sign(content, cert, key, now=now, chain=chain, detached=True)
    signature = _pkcs7_part(
        der, "application/pkcs7-signature; name=smime.p7s", "smime.p7s", transfer
    )
    boundary = "sipsec-" + secrets.token_hex(12)
    ctype = format_params(
        "multipart/signed",
        {"protocol": "application/pkcs7-signature", "micalg": "sha-256", "boundary": boundary},
    )
    return MimeEntity(
        [("Content-Type", ctype)], build_multipart([content, bytes(signature)], boundary)
    )


def encrypt_entity(
    entity: MimeEntity,
    recipients: list[x509.Certificate],
    *,
    cipher: enveloped.ContentCipher = "aes128-cbc",
    rsa_padding: str = "oaep",
    transfer: Transfer = "binary",
) -> MimeEntity:
    """application/pkcs7-mime around ``entity`` for every certificate in ``recipients``."""
    der = enveloped.encrypt(_canonical(entity), recipients, cipher=cipher, rsa_padding=rsa_padding)
    kind = "authEnveloped-data" if enveloped.is_authenticated(cipher) else "enveloped-data"
    ctype = f"application/pkcs7-mime; smime-type={kind}; name=smime.p7m"
    return _pkcs7_part(der, ctype, "smime.p7m", transfer)


def sign_and_encrypt(
    entity: MimeEntity,
    cert: x509.Certificate,
    key: PrivateKey,
    recipients: list[x509.Certificate],
    *,
    now: dt.datetime,
    cipher: enveloped.ContentCipher = "aes128-cbc",
    rsa_padding: str = "oaep",
    transfer: Transfer = "binary",
) -> MimeEntity:
    """§23.4.3: encrypt for the recipients, then sign the enveloped entity."""
    inner = encrypt_entity(
        entity, recipients, cipher=cipher, rsa_padding=rsa_padding, transfer=transfer
    )
    return sign_entity(inner, cert, key, now=now, transfer=transfer)


def verify_entity(
    entity: MimeEntity,
    store: CertificateStore,
    *,
    now: dt.datetime,
    from_address: str | SipAddress | None,
) -> Verified:
    """Signature, chain to an anchor of ``store``, and the signer's SAN equal
    to ``from_address`` (§23.4.1).  Returns the signed entity.

    ``from_address`` has no default on purpose: a UA passes the From of the
    request; only a debugging tool may pass ``None`` to skip the identity check.
    """
    media, params = entity.content_type()
    if media == "multipart/signed":
        protocol = params.get("protocol", "").lower()
        if protocol not in _PKCS7_SIG:
            raise UnsupportedBody(f"multipart/signed with protocol {protocol!r}")
        parts = parse_multipart(entity.body, params.get("boundary", ""))
        if len(parts) != 2:
            raise MalformedBody(f"multipart/signed has {len(parts)} parts, not 2")
        sig_entity = MimeEntity.parse(parts[1])
        if sig_entity.content_type()[0] not in _PKCS7_SIG:
            raise MalformedBody("second part of multipart/signed is not a pkcs7-signature")
        der = sig_entity.decoded_body()
        try:
            result = signed.verify(der, parts[0])
        except BadSignature:
            # Mail tools may hand us the part with bare LF; the signature
            # was made over canonical CRLF text (RFC 8551 §3.1.1).
            canonical = canonical_crlf(parts[0])
            if canonical == parts[0]:
                raise
            result = signed.verify(der, canonical)
    elif media in _PKCS7_MIME and params.get("smime-type", "").lower() == "signed-data":
        result = signed.verify(entity.decoded_body())
    else:
        raise UnsupportedBody(f"{media} is not a signed S/MIME body")
    intermediates = [c for c in result.certificates if c != result.signer]
    try:
        validated = store.validate(
            result.signer, intermediates, purpose=Purpose.SMIME, now=now, address=from_address
        )
    except CertificateValidationError as exc:
        raise _signer_error(exc) from None
    return Verified(MimeEntity.parse(result.content), result.signer, validated.chain)


def _signer_error(exc: CertificateValidationError) -> SignerUntrusted:
    if isinstance(exc, CertificateExpired):
        return SignerExpired(f"signer certificate expired: {exc.reason}")
    if isinstance(exc, CertificateRevoked):
        return SignerRevoked(f"signer certificate revoked: {exc.reason}")
    if isinstance(exc, CertificateNameMismatch):
        return FromMismatch(f"signer is not the From address: {exc.reason}")
    return SignerUntrusted(f"signer not trusted: {exc.reason}")


def decrypt_entity(entity: MimeEntity, cert: x509.Certificate, key: PrivateKey) -> MimeEntity:
    """The entity inside application/pkcs7-mime enveloped-data or authEnveloped-data."""
    media, params = entity.content_type()
    kind = params.get("smime-type", "").lower()
    if media not in _PKCS7_MIME or kind not in {"enveloped-data", "authenveloped-data", ""}:
        raise UnsupportedBody(f"{media} ({kind or 'no smime-type'}) is not an encrypted body")
    return MimeEntity.parse(enveloped.decrypt(entity.decoded_body(), cert, key))


def _layer(entity: MimeEntity) -> str:
    media, params = entity.content_type()
    if media == "multipart/signed":
        return "signed"
    if media in _PKCS7_MIME:
        kind = params.get("smime-type", "").lower()
        return "signed" if kind == "signed-data" else "enveloped"
    return "plain"


def open_body(
    entity: MimeEntity,
    *,
    store: CertificateStore,
    now: dt.datetime,
    from_address: str | SipAddress | None,
    cert: x509.Certificate | None = None,
    key: PrivateKey | None = None,
    require_signature: bool = False,
) -> Opened:
    """Peel every S/MIME layer: verify signatures, decrypt envelopes.

    With several signatures the innermost decides the signer (it is the one
    over the content); every one of them must verify.

    ``require_signature`` (RFC 3261 §23.4.3: a UA taking keys from the body
    must know who sent it): an unsigned result is refused, and an envelope
    met *before* any verified signature is opened blind — whatever fails
    inside it (RSA or CBC padding, MIME, the inner signature) and a missing
    signature are one :class:`SignerUntrusted`. Otherwise "bad padding"
    (493) against "decrypted but unsigned" (403) is a padding oracle: strip
    the signature from a captured body, resend it, and read the SRTP key
    one octet at a time from the answers (Vaudenay 2002, EFAIL 2018).
    """
    signer: x509.Certificate | None = None
    encrypted = blind = False
    try:
        for _ in range(_MAX_LAYERS):
            layer = _layer(entity)
            if layer == "plain":
                if require_signature and signer is None:
                    raise _unsigned()
                return Opened(entity, signer, encrypted)
            if layer == "signed":
                verified = verify_entity(entity, store, now=now, from_address=from_address)
                entity, signer = verified.content, verified.signer
            else:
                if cert is None or key is None:
                    raise UnsupportedBody("an encrypted body arrived but we hold no key to open it")
                blind = blind or (require_signature and signer is None)
                entity, encrypted = decrypt_entity(entity, cert, key), True
        raise MalformedBody(f"more than {_MAX_LAYERS} nested S/MIME layers")
    except NotForUs:
        raise  # decided from the recipient identifiers alone, before any decryption
    except SmimeError:
        if blind:
            raise _unsigned() from None
        raise


def _unsigned() -> SignerUntrusted:
    return SignerUntrusted("the body must be signed by its sender (RFC 3261 §23.4.3)")
