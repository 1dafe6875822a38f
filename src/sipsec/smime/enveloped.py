"""CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) with AES.

Content encryption: AES-128-CBC and AES-256-CBC (RFC 3565; the MUST of RFC
8551 §2.7 is AES-128-CBC) in EnvelopedData, and AES-GCM (RFC 5084) in
AuthEnvelopedData — the stronger option, since CBC alone does not detect a
changed ciphertext.  The key reaches each recipient through
:mod:`.recipients`.
"""

from __future__ import annotations

import hmac
import os
from typing import Literal

from asn1crypto import cms, core
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipsec.ca import PrivateKey

from . import _der as der
from ._asn1 import content_info, guarded, octets
from .errors import DecryptionFailed, MalformedBody, NotForUs, UnsupportedAlgorithm
from .recipients import unwrap_key, wrap_key

__all__ = ["CIPHERS", "ContentCipher", "decrypt", "encrypt", "is_authenticated"]

ContentCipher = Literal["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"]
CIPHERS: tuple[ContentCipher, ...] = ("aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm")

_CBC_OIDS = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}
_GCM_OIDS = {
    "2.16.840.1.101.3.4.1.6": 16,  # id-aes128-GCM (RFC 5084 §3.2)
    "2.16.840.1.101.3.4.1.26": 24,
    "2.16.840.1.101.3.4.1.46": 32,
}
_GCM_NAMES = {16: "2.16.840.1.101.3.4.1.6", 32: "2.16.840.1.101.3.4.1.46"}
_CBC_NAMES = {16: "2.16.840.1.101.3.4.1.2", 32: "2.16.840.1.101.3.4.1.42"}  # RFC 3565 §4.1
_DATA = "1.2.840.113549.1.7.1"
_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"  # RFC 5083 §1.1


class GcmParameters(core.Sequence):  # type: ignore[misc]
    """RFC 5084 §3.2 GCMParameters."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


def is_authenticated(cipher: ContentCipher) -> bool:
    return cipher.endswith("-gcm")


def encrypt(
    content: bytes,
    recipients: list[x509.Certificate],
    *,
    cipher: ContentCipher = "aes128-cbc",
    rsa_padding: str = "oaep",
) -> bytes:
    """DER ContentInfo: EnvelopedData for CBC, AuthEnvelopedData for GCM."""
    if not recipients:
        raise ValueError("encrypting needs at least one recipient certificate")
    if cipher not in CIPHERS:
        raise ValueError(f"cipher must be one of {CIPHERS}")
    size = 32 if cipher.startswith("aes256") else 16
    cek = os.urandom(size)
    infos = der.set_of(*(wrap_key(cek, cert, rsa_padding) for cert in recipients))
    if is_authenticated(cipher):
        nonce = os.urandom(12)  # RFC 5084 §3.2: 12 octets recommended
        sealed = AESGCM(cek).encrypt(nonce, content, None)
        algorithm = der.seq(der.oid(_GCM_NAMES[size]), der.seq(der.octets(nonce), der.integer(16)))
        auth_env = der.seq(
            der.integer(0),  # RFC 5083 §2.1: always v0
            infos,
            _encrypted_content_info(algorithm, sealed[:-16]),
            der.octets(sealed[-16:]),  # the mac: the full 16-octet GCM tag
        )
        return der.seq(der.oid(_AUTH_ENVELOPED_DATA), der.explicit(0, auth_env))
    iv = os.urandom(16)
    pad = 16 - len(content) % 16
    encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(content + bytes([pad]) * pad) + encryptor.finalize()
    # §6.1: version 2 as soon as one RecipientInfo is not v0 (kari is v3).
    all_ktri = all(_is_rsa(c) for c in recipients)
    enveloped = der.seq(
        der.integer(0 if all_ktri else 2),
        infos,
        _encrypted_content_info(der.seq(der.oid(_CBC_NAMES[size]), der.octets(iv)), ciphertext),
    )
    return der.seq(der.oid(_ENVELOPED_DATA), der.explicit(0, enveloped))


def _encrypted_content_info(algorithm: bytes, ciphertext: bytes) -> bytes:
    # §6.1 EncryptedContentInfo: encryptedContent is [0] IMPLICIT OCTET STRING.
    return der.seq(der.oid(_DATA), algorithm, der.implicit(0, der.octets(ciphertext)))


def _is_rsa(cert: x509.Certificate) -> bool:
    return isinstance(cert.public_key(), rsa.RSAPublicKey)


def decrypt(der: bytes, cert: x509.Certificate, key: PrivateKey) -> bytes:
    """The plaintext of an (Auth)EnvelopedData addressed to ``cert``.

    Raises :class:`MalformedBody` (400), :class:`NotForUs`,
    :class:`DecryptionFailed` or :class:`UnsupportedAlgorithm` (493).
    """
    kind, data = content_info(der, {"enveloped_data", "authenticated_enveloped_data"})
    with guarded("CMS EnvelopedData"):
        authenticated = kind == "authenticated_enveloped_data"
        eci = data["auth_encrypted_content_info" if authenticated else "encrypted_content_info"]
        alg = eci["content_encryption_algorithm"]
        encrypted = eci["encrypted_content"]
        if isinstance(encrypted, core.Void):
            raise MalformedBody("EnvelopedData without encrypted content (detached is unsupported)")
        ciphertext = octets(encrypted)
        cek = unwrap_key(data["recipient_infos"], cert, key)
        if cek is None:
            raise NotForUs(
                f"no recipient is {cert.subject.rfc4514_string()} (serial {cert.serial_number:x})"
            )
        if authenticated:
            return _gcm_open(alg, cek, ciphertext, octets(data["mac"]), data["auth_attrs"])
        return _cbc_open(alg, cek, ciphertext)


def _gcm_open(
    alg: cms.EncryptionAlgorithm,
    cek: bytes,
    ciphertext: bytes,
    mac: bytes,
    auth_attrs: cms.CMSAttributes | core.Void,
) -> bytes:
    size = _GCM_OIDS.get(alg["algorithm"].dotted)
    if size is None:
        raise UnsupportedAlgorithm(f"content cipher {alg['algorithm'].dotted} is not supported")
    params = GcmParameters.load(alg["parameters"].dump())
    nonce = octets(params["aes_nonce"])
    icv_len = int(params["aes_icvlen"].native)
    if len(cek) != size or icv_len not in (12, 13, 14, 15, 16) or len(mac) != icv_len:
        raise DecryptionFailed("AES-GCM key or tag length does not match its parameters")
    if not 1 <= len(nonce) <= 64:
        raise MalformedBody("AES-GCM nonce length out of range")
    # RFC 5083 §2.2: authenticated attributes are the AAD (DER, as a SET OF).
    aad = b"" if isinstance(auth_attrs, core.Void) else b"\x31" + auth_attrs.dump()[1:]
    if icv_len != 16:
        # cryptography's AESGCM only takes full tags: verify through the
        # streaming API with a truncated tag instead.
        decryptor = Cipher(
            algorithms.AES(cek), modes.GCM(nonce, mac, min_tag_length=icv_len)
        ).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag:
            raise DecryptionFailed("AES-GCM tag does not verify") from None
    try:
        return AESGCM(cek).decrypt(nonce, ciphertext + mac, aad or None)
    except InvalidTag:
        raise DecryptionFailed("AES-GCM tag does not verify") from None


def _cbc_open(alg: cms.EncryptionAlgorithm, cek: bytes, ciphertext: bytes) -> bytes:
    name = alg["algorithm"].native
    size = _CBC_OIDS.get(name)
    if size is None:
        raise UnsupportedAlgorithm(f"content cipher {name} is not supported")
    iv = octets(alg["parameters"])
    if len(cek) != size or len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise DecryptionFailed("AES-CBC key, IV or ciphertext length is wrong")
    decryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    # One error for every padding fault, and a constant-time comparison, so
    # that the answer tells an attacker as little as possible.
    expected = bytes([pad]) * pad if 1 <= pad <= 16 else b"\x00"
    if not hmac.compare_digest(padded[-len(expected) :], expected) or not 1 <= pad <= 16:
        raise DecryptionFailed("content does not decrypt (bad padding: wrong key or corrupted)")
    return padded[:-pad]
