"""RecipientInfo: how the content-encryption key reaches each recipient (RFC 5652 §6.2).

- RSA key transport (KeyTransRecipientInfo): RSAES-OAEP (RFC 8017, RFC 4055;
  SHA-256 when we send, any SHA-1/2 when we receive) or PKCS#1 v1.5 for
  older peers (RFC 8551 §2.3).
- EC key agreement (KeyAgreeRecipientInfo, RFC 5753 §3.1): ephemeral-static
  ECDH, the X9.63 KDF over ECC-CMS-SharedInfo, and AES key wrap (RFC 3394).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from sipsec.ca import PrivateKey

from . import _der as der
from ._asn1 import digest_algorithm, matches_issuer_serial, subject_key_id
from .errors import DecryptionFailed, MalformedBody, UnsupportedAlgorithm

__all__ = ["RSA_PADDINGS", "unwrap_key", "wrap_key"]

RSA_PADDINGS = ("oaep", "pkcs1v15")

# RFC 5753 §7.1.4 dhSinglePass-stdDH-*kdf-scheme: the KDF hash of each scheme.
_ECDH_SCHEMES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.3.133.16.840.63.0.2": hashes.SHA1,
    "1.3.132.1.11.0": hashes.SHA224,
    "1.3.132.1.11.1": hashes.SHA256,
    "1.3.132.1.11.2": hashes.SHA384,
    "1.3.132.1.11.3": hashes.SHA512,
}
_ECDH_SHA256 = "1.3.132.1.11.1"
_WRAP_BY_OID = {
    "2.16.840.1.101.3.4.1.5": 16,  # id-aes128-wrap (RFC 3394)
    "2.16.840.1.101.3.4.1.25": 24,
    "2.16.840.1.101.3.4.1.45": 32,
}


def _kek(
    shared: bytes, key_info_der: bytes, ukm: bytes | None, size: int, kdf: hashes.HashAlgorithm
) -> bytes:
    # RFC 5753 §7.2 ECC-CMS-SharedInfo: keyInfo is the key wrap algorithm
    # exactly as the KeyAgreeRecipientInfo carries it.
    info = der.seq(
        key_info_der,
        *([der.explicit(0, der.octets(ukm))] if ukm is not None else []),
        der.explicit(2, der.octets(struct.pack(">I", size * 8))),
    )
    return X963KDF(kdf, size, info).derive(shared)


_RSA_OAEP_SHA256 = der.seq(
    der.oid("1.2.840.113549.1.1.7"),
    der.seq(  # RFC 4055 §4.1 RSAES-OAEP-params: SHA-256, MGF1 with SHA-256
        der.explicit(0, der.seq(der.oid("2.16.840.1.101.3.4.2.1"), der.NULL)),
        der.explicit(
            1,
            der.seq(
                der.oid("1.2.840.113549.1.1.8"),
                der.seq(der.oid("2.16.840.1.101.3.4.2.1"), der.NULL),
            ),
        ),
    ),
)
_RSA_PKCS1V15 = der.seq(der.oid("1.2.840.113549.1.1.1"), der.NULL)
_EC_PUBLIC_KEY = der.seq(der.oid("1.2.840.10045.2.1"))  # RFC 5753 §3.1.1: no parameters
_WRAP_OID_BY_SIZE = {
    16: "2.16.840.1.101.3.4.1.5",
    24: "2.16.840.1.101.3.4.1.25",
    32: "2.16.840.1.101.3.4.1.45",
}


def wrap_key(cek: bytes, cert: x509.Certificate, rsa_padding: str = "oaep") -> bytes:
    """The DER RecipientInfo that gives ``cek`` to the holder of ``cert``'s key."""
    public_key = cert.public_key()
    rid = der.seq(cert.issuer.public_bytes(), der.integer(cert.serial_number))
    if isinstance(public_key, rsa.RSAPublicKey):
        if rsa_padding == "oaep":
            oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
            encrypted, alg = public_key.encrypt(cek, oaep), _RSA_OAEP_SHA256
        elif rsa_padding == "pkcs1v15":
            encrypted, alg = public_key.encrypt(cek, padding.PKCS1v15()), _RSA_PKCS1V15
        else:
            raise ValueError(f"RSA padding must be one of {RSA_PADDINGS}")
        # §6.2.1 KeyTransRecipientInfo, v0 with issuerAndSerialNumber.
        return der.seq(der.integer(0), rid, alg, der.octets(encrypted))
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        ephemeral = ec.generate_private_key(public_key.curve)
        shared = ephemeral.exchange(ec.ECDH(), public_key)
        wrap = der.seq(der.oid(_WRAP_OID_BY_SIZE[len(cek)]))  # RFC 3565 §2.3.2: no parameters
        kek = _kek(shared, wrap, None, len(cek), hashes.SHA256())
        point = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        originator_key = der.seq(_EC_PUBLIC_KEY, der.bit_string(point))
        kari = der.seq(
            der.integer(3),  # §6.2.2: always v3
            der.explicit(0, der.implicit(1, originator_key)),  # originatorKey [1]
            der.seq(der.oid(_ECDH_SHA256), wrap),
            der.seq(der.seq(rid, der.octets(keywrap.aes_key_wrap(kek, cek)))),
        )
        return der.implicit(1, kari)  # RecipientInfo: kari [1]
    raise ValueError("recipient certificates must hold an RSA or EC key")


def unwrap_key(infos: cms.RecipientInfos, cert: x509.Certificate, key: PrivateKey) -> bytes | None:
    """The content-encryption key from the RecipientInfo addressed to ``cert``;
    ``None`` when none is (the caller answers 493 "not for us")."""
    ski = subject_key_id(cert)
    for info in infos:
        if info.name == "ktri":
            rid = info.chosen["rid"]
            if _rid_matches(rid, cert, ski) and isinstance(key, rsa.RSAPrivateKey):
                return _ktri_decrypt(info.chosen, key)
        elif info.name == "kari" and isinstance(key, ec.EllipticCurvePrivateKey):
            for rek in info.chosen["recipient_encrypted_keys"]:
                if _rid_matches(rek["rid"], cert, ski):
                    return _kari_decrypt(info.chosen, bytes(rek["encrypted_key"].native), key)
    return None


def _rid_matches(rid: core.Choice, cert: x509.Certificate, ski: bytes | None) -> bool:
    if rid.name == "issuer_and_serial_number":
        return matches_issuer_serial(rid.chosen, cert)
    if rid.name == "subject_key_identifier":
        return ski is not None and rid.chosen.native == ski
    if rid.name == "r_key_id":
        return ski is not None and rid.chosen["subject_key_identifier"].native == ski
    return False


def _ktri_decrypt(ktri: cms.KeyTransRecipientInfo, key: rsa.RSAPrivateKey) -> bytes:
    alg = ktri["key_encryption_algorithm"]
    name = alg["algorithm"].native
    pad: padding.AsymmetricPadding
    if name == "rsaes_pkcs1v15":
        pad = padding.PKCS1v15()
    elif name == "rsaes_oaep":
        params = alg["parameters"]
        label = params["p_source_algorithm"]["parameters"].native or None
        pad = padding.OAEP(
            padding.MGF1(
                digest_algorithm(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            ),
            digest_algorithm(params["hash_algorithm"]["algorithm"].native),
            label,
        )
    else:
        raise UnsupportedAlgorithm(f"key transport algorithm {name} is not supported")
    try:
        return key.decrypt(bytes(ktri["encrypted_key"].native), pad)
    except ValueError:
        raise DecryptionFailed("the content key does not decrypt with our key") from None


def _kari_decrypt(
    kari: cms.KeyAgreeRecipientInfo, wrapped: bytes, key: ec.EllipticCurvePrivateKey
) -> bytes:
    alg = kari["key_encryption_algorithm"]
    scheme = alg["algorithm"].dotted
    kdf = _ECDH_SCHEMES.get(scheme)
    if kdf is None:
        raise UnsupportedAlgorithm(f"key agreement scheme {scheme} is not supported")
    wrap_der = alg["parameters"].dump()
    wrap_alg = cms.KeyEncryptionAlgorithm.load(wrap_der)
    size = _WRAP_BY_OID.get(wrap_alg["algorithm"].dotted)
    if size is None:
        raise UnsupportedAlgorithm(f"key wrap {wrap_alg['algorithm'].dotted} is not supported")
    originator = kari["originator"]
    if originator.name != "originator_key":
        raise UnsupportedAlgorithm("only ephemeral-static ECDH (originatorKey) is supported")
    point = bytes(originator.chosen["public_key"].native)
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, point)
    except ValueError:
        raise MalformedBody("the originator's EC public key is not on our curve") from None
    shared = key.exchange(ec.ECDH(), peer)
    ukm_field = kari["ukm"]
    ukm = None if isinstance(ukm_field, core.Void) else bytes(ukm_field.native)
    kek = _kek(shared, wrap_der, ukm, size, kdf())
    try:
        return keywrap.aes_key_unwrap(kek, wrapped)
    except (keywrap.InvalidUnwrap, ValueError):
        raise DecryptionFailed("the content key does not unwrap with our key") from None
