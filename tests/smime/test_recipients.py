"""RecipientInfo: RSA key transport and RFC 5753 ECDH key agreement, edge by edge."""

from __future__ import annotations

import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sipsec.smime import MalformedBody, MimeEntity, UnsupportedAlgorithm, decrypt_entity
from sipsec.smime import _der as der
from sipsec.smime.enveloped import decrypt
from sipsec.smime.recipients import _kek, wrap_key

CONTENT = b"Content-Type: application/sdp\r\n\r\nv=0\r\n"
WRAP128 = der.seq(der.oid("2.16.840.1.101.3.4.1.5"))


def _kari_message(pki, *, scheme: str, ukm: bytes | None, point: bytes | None = None) -> bytes:  # type: ignore[no-untyped-def]
    """An EnvelopedData for Bob built by hand, so that every KARI field can vary."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cek, iv = os.urandom(16), os.urandom(16)
    bob_pub = pki.bob.cert.public_key()
    eph = ec.generate_private_key(ec.SECP256R1())
    kdf = {"1.3.132.1.11.1": hashes.SHA256(), "1.3.132.1.11.2": hashes.SHA384()}.get(
        scheme, hashes.SHA256()
    )
    kek = _kek(eph.exchange(ec.ECDH(), bob_pub), WRAP128, ukm, 16, kdf)
    if point is None:
        point = eph.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    rid = der.seq(pki.bob.cert.issuer.public_bytes(), der.integer(pki.bob.cert.serial_number))
    kari = der.seq(
        der.integer(3),
        der.explicit(
            0,
            der.implicit(1, der.seq(der.seq(der.oid("1.2.840.10045.2.1")), der.bit_string(point))),
        ),
        *([der.explicit(1, der.octets(ukm))] if ukm is not None else []),
        der.seq(der.oid(scheme), WRAP128),
        der.seq(der.seq(rid, der.octets(keywrap.aes_key_wrap(kek, cek)))),
    )
    padded = CONTENT + bytes([16 - len(CONTENT) % 16]) * (16 - len(CONTENT) % 16)
    enc = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    body = der.seq(
        der.integer(2),
        der.set_of(der.implicit(1, kari)),
        der.seq(
            der.oid("1.2.840.113549.1.7.1"),
            der.seq(der.oid("2.16.840.1.101.3.4.1.2"), der.octets(iv)),
            der.implicit(0, der.octets(ciphertext)),
        ),
    )
    return der.seq(der.oid("1.2.840.113549.1.7.3"), der.explicit(0, body))


@pytest.mark.parametrize("scheme", ["1.3.132.1.11.1", "1.3.132.1.11.2"])
@pytest.mark.parametrize("ukm", [None, b"user keying material"])
def test_kari_variants(pki, scheme: str, ukm: bytes | None) -> None:  # type: ignore[no-untyped-def]
    # RFC 5753 §7.2: the ukm goes into the KDF's SharedInfo as entityUInfo.
    message = _kari_message(pki, scheme=scheme, ukm=ukm)
    assert decrypt(message, pki.bob.cert, pki.bob.key) == CONTENT


def test_unknown_kdf_scheme(pki) -> None:  # type: ignore[no-untyped-def]
    message = _kari_message(pki, scheme="1.3.132.1.14.1", ukm=None)  # cofactor DH: not ours
    with pytest.raises(UnsupportedAlgorithm, match="key agreement scheme"):
        decrypt(message, pki.bob.cert, pki.bob.key)


def test_originator_point_off_the_curve(pki) -> None:  # type: ignore[no-untyped-def]
    message = _kari_message(pki, scheme="1.3.132.1.11.1", ukm=None, point=b"\x04" + b"\x01" * 64)
    with pytest.raises(MalformedBody, match="not on our curve"):
        decrypt(message, pki.bob.cert, pki.bob.key)


def test_wrap_key_refuses_other_keys(pki) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sipsec.ca import CaError, build_user, parse_address

    key = ed25519.Ed25519PrivateKey.generate()
    start = pki.ca_cert.not_valid_before_utc
    with pytest.raises(CaError, match="only RSA and EC"):
        build_user(
            pki.ca_cert, pki.ca_key, key.public_key(), parse_address("sip:e@d.example"), now=start
        )
    # A certificate made elsewhere with an Ed25519 key cannot be encrypted to.
    cert = (
        x509.CertificateBuilder()
        .subject_name(pki.ca_cert.subject)
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .sign(pki.ca_key, hashes.SHA256())
    )
    with pytest.raises(ValueError, match="RSA or EC"):
        wrap_key(os.urandom(16), cert)
    with pytest.raises(ValueError, match="padding"):
        wrap_key(os.urandom(16), pki.alice.cert, "raw")


@pytest.mark.interop
@pytest.mark.parametrize("md", ["sha256", "sha384", "sha512"])
def test_openssl_kdf_digests(pki, tmp_path, md: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").write_bytes(CONTENT)
    result = subprocess.run(
        [
            "openssl",
            "cms",
            "-encrypt",
            "-binary",
            "-aes-256-gcm",
            "-in",
            str(tmp_path / "in"),
            "-recip",
            str(pki.bob.cert_path),
            "-keyopt",
            f"ecdh_kdf_md:{md}",
        ],
        capture_output=True,
        check=True,
    )
    assert (
        bytes(decrypt_entity(MimeEntity.parse(result.stdout), pki.bob.cert, pki.bob.key)) == CONTENT
    )
