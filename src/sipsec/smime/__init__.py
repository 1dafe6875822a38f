"""S/MIME bodies for SIP (RFC 3261 §23, RFC 3853, RFC 5652, RFC 8551), sans-IO.

- :mod:`~sipsec.smime.mime`: the MIME entity codec (headers, empty line, body).
- :mod:`~sipsec.smime.signed`: CMS SignedData, sign and verify.
- :mod:`~sipsec.smime.recipients`: RSA key transport (OAEP, PKCS#1 v1.5) and
  ECDH key agreement (RFC 5753).
- :mod:`~sipsec.smime.enveloped`: EnvelopedData (AES-CBC), AuthEnvelopedData (AES-GCM).
- :mod:`~sipsec.smime.body`: multipart/signed, pkcs7-mime, sign+encrypt, verify, decrypt.
- :mod:`~sipsec.smime.errors`: typed failures carrying the SIP status to answer.
"""

from __future__ import annotations

from .body import (
    Opened,
    Transfer,
    Verified,
    decrypt_entity,
    encrypt_entity,
    open_body,
    sign_and_encrypt,
    sign_entity,
    verify_entity,
)
from .enveloped import CIPHERS, ContentCipher
from .errors import (
    BadSignature,
    DecryptionFailed,
    FromMismatch,
    MalformedBody,
    NotForUs,
    SignerExpired,
    SignerRevoked,
    SignerUntrusted,
    SmimeError,
    UnsupportedAlgorithm,
    UnsupportedBody,
)
from .mime import MimeEntity
from .recipients import RSA_PADDINGS
from .signed import SignedContent

__all__ = [
    "CIPHERS",
    "RSA_PADDINGS",
    "BadSignature",
    "ContentCipher",
    "DecryptionFailed",
    "FromMismatch",
    "MalformedBody",
    "MimeEntity",
    "NotForUs",
    "Opened",
    "SignedContent",
    "SignerExpired",
    "SignerRevoked",
    "SignerUntrusted",
    "SmimeError",
    "Transfer",
    "UnsupportedAlgorithm",
    "UnsupportedBody",
    "Verified",
    "decrypt_entity",
    "encrypt_entity",
    "open_body",
    "sign_and_encrypt",
    "sign_entity",
    "verify_entity",
]
