"""EnvelopedData and AuthEnvelopedData: every cipher, every key transport, every failure."""

from __future__ import annotations

import pytest
from asn1crypto import cms

from sipsec.smime import CIPHERS, DecryptionFailed, NotForUs, UnsupportedAlgorithm
from sipsec.smime.enveloped import decrypt, encrypt

CONTENT = (
    b"Content-Type: application/sdp\r\n\r\nv=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"
)


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize(
    ("who", "padding"),
    [("alice", "oaep"), ("alice", "pkcs1v15"), ("bob", "oaep"), ("carol", "oaep")],
)
def test_round_trip(pki, cipher, who: str, padding: str) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    der = encrypt(CONTENT, [party.cert], cipher=cipher, rsa_padding=padding)
    assert CONTENT not in der
    assert decrypt(der, party.cert, party.key) == CONTENT
    kind = cms.ContentInfo.load(der)["content_type"].native
    assert kind == ("authenticated_enveloped_data" if "gcm" in cipher else "enveloped_data")


def test_recipient_info_shapes(pki) -> None:  # type: ignore[no-untyped-def]
    der = encrypt(CONTENT, [pki.alice.cert, pki.bob.cert])
    data = cms.ContentInfo.load(der)["content"]
    assert data["version"].native == "v2"  # RFC 5652 §6.1: a kari is v3
    infos = list(data["recipient_infos"])
    assert [i.name for i in infos] == ["ktri", "kari"]
    oaep = infos[0].chosen["key_encryption_algorithm"]
    assert oaep["algorithm"].native == "rsaes_oaep"
    assert oaep["parameters"]["hash_algorithm"]["algorithm"].native == "sha256"
    kari = infos[1].chosen
    assert kari["key_encryption_algorithm"]["algorithm"].dotted == "1.3.132.1.11.1"  # RFC 5753
    assert kari["originator"].name == "originator_key"
    # Both recipients can open it.
    assert decrypt(der, pki.alice.cert, pki.alice.key) == CONTENT
    assert decrypt(der, pki.bob.cert, pki.bob.key) == CONTENT
    only_rsa = encrypt(CONTENT, [pki.alice.cert])
    assert cms.ContentInfo.load(only_rsa)["content"]["version"].native == "v0"


def test_not_for_us(pki) -> None:  # type: ignore[no-untyped-def]
    der = encrypt(CONTENT, [pki.alice.cert, pki.bob.cert])
    with pytest.raises(NotForUs) as info:
        decrypt(der, pki.carol.cert, pki.carol.key)
    assert info.value.status == 493


def test_our_certificate_with_a_foreign_key(pki) -> None:  # type: ignore[no-untyped-def]
    # The recipient entry names us, but the key is not the one it was made for.
    from sipsec.ca import generate_key

    der = encrypt(CONTENT, [pki.bob.cert], cipher="aes256-gcm")
    with pytest.raises(DecryptionFailed) as info:
        decrypt(der, pki.bob.cert, generate_key("ec-p256"))
    assert info.value.status == 493


@pytest.mark.parametrize("cipher", CIPHERS)
def test_changed_ciphertext(pki, cipher) -> None:  # type: ignore[no-untyped-def]
    der = bytearray(encrypt(CONTENT, [pki.bob.cert], cipher=cipher))
    # GCM: the tag (last field) or the ciphertext changes; CBC: the last block's
    # padding breaks.  Both are 493, never garbage handed on.
    der[-1 if "cbc" in cipher else -20] ^= 0x80
    with pytest.raises(DecryptionFailed):
        decrypt(bytes(der), pki.bob.cert, pki.bob.key)


def test_unknown_content_cipher(pki) -> None:  # type: ignore[no-untyped-def]
    info = cms.ContentInfo.load(encrypt(CONTENT, [pki.alice.cert]))
    info["content"]["encrypted_content_info"]["content_encryption_algorithm"] = {
        "algorithm": "des",
        "parameters": b"\x00" * 8,
    }
    with pytest.raises(UnsupportedAlgorithm):
        decrypt(info.dump(force=True), pki.alice.cert, pki.alice.key)


def test_bad_arguments(pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="recipient"):
        encrypt(CONTENT, [])
    with pytest.raises(ValueError, match="cipher"):
        encrypt(CONTENT, [pki.alice.cert], cipher="rc4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="padding"):
        encrypt(CONTENT, [pki.alice.cert], rsa_padding="none")


@pytest.mark.parametrize("icv_len", [12, 16])
def test_gcm_tag_lengths_rfc_5084(pki, icv_len: int) -> None:  # type: ignore[no-untyped-def]
    # RFC 5084 §3.2 allows 12..16-octet tags; a sender may truncate the tag.
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from sipsec.smime import _der as der
    from sipsec.smime.recipients import wrap_key

    cek, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(cek).encrypt(nonce, CONTENT, None)
    ciphertext, tag = sealed[:-16], sealed[-16:][:icv_len]
    algorithm = der.seq(
        der.oid("2.16.840.1.101.3.4.1.6"), der.seq(der.octets(nonce), der.integer(icv_len))
    )
    body = der.seq(
        der.integer(0),
        der.set_of(wrap_key(cek, pki.bob.cert)),
        der.seq(
            der.oid("1.2.840.113549.1.7.1"), algorithm, der.implicit(0, der.octets(ciphertext))
        ),
        der.octets(tag),
    )
    message = der.seq(der.oid("1.2.840.113549.1.9.16.1.23"), der.explicit(0, body))
    assert decrypt(message, pki.bob.cert, pki.bob.key) == CONTENT
    bad = message[:-1] + bytes([message[-1] ^ 1])
    with pytest.raises(DecryptionFailed, match="does not decrypt"):
        decrypt(bad, pki.bob.cert, pki.bob.key)
