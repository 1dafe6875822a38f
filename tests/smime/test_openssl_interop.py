"""``openssl cms`` and ``openssl smime`` (OpenSSL 3.0) as the reference peer, both ways.

Matrix (what both sides support):

- signatures: RSA PKCS#1 v1.5 and ECDSA P-256 with SHA-256, multipart/signed
  and opaque signed-data, cms and smime (PKCS#7) commands;
- encryption with ``openssl cms``: AES-128/256-CBC and AES-128/256-GCM
  (AuthEnvelopedData), to RSA with OAEP and with PKCS#1 v1.5, and to EC
  (RFC 5753 ECDH);
- encryption with ``openssl smime``: PKCS#7 knows only RSA key transport and
  no AuthEnvelopedData, so RSA PKCS#1 v1.5 with CBC.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sipsec.smime import (
    MimeEntity,
    UnsupportedAlgorithm,
    decrypt_entity,
    encrypt_entity,
    open_body,
    sign_and_encrypt,
    sign_entity,
    verify_entity,
)

from .conftest import NOW

pytestmark = pytest.mark.interop

SDP = MimeEntity(
    [("Content-Type", "application/sdp")],
    b"v=0\r\no=bob 2808844564 2808844564 IN IP4 192.0.2.201\r\ns=-\r\nc=IN IP4 192.0.2.201\r\n"
    b"t=0 0\r\nm=audio 3456 RTP/SAVP 0\r\n"
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    b"inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32\r\n",
)
OPENSSL_CIPHER = {
    "aes128-cbc": "-aes-128-cbc",
    "aes256-cbc": "-aes-256-cbc",
    "aes128-gcm": "-aes-128-gcm",
    "aes256-gcm": "-aes-256-gcm",
}
# (party, rsa padding) pairs: RSA with both key transports, EC with ECDH.
RECIPIENTS = [("alice", "oaep"), ("alice", "pkcs1v15"), ("bob", "ecdh")]


def openssl(*args: str, data: bytes = b"") -> bytes:
    result = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# -- openssl reads what we write ------------------------------------------------


@pytest.mark.parametrize("tool", ["cms", "smime"])
@pytest.mark.parametrize("who", ["alice", "bob"])
@pytest.mark.parametrize("opaque", [False, True])
def test_openssl_verifies_our_signature(pki, tmp_path, tool, who, opaque) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    body = sign_entity(SDP, party.cert, party.key, now=NOW, opaque=opaque, transfer="base64")
    # openssl reads a whole message: our entity's headers are its headers.
    path = _write(tmp_path, "signed.eml", bytes(body))
    # openssl's multipart reader re-assembles the first part line by line; only
    # in text mode (no -binary) does it hash the canonical CRLF form we signed.
    binary = ["-binary"] if opaque else []
    out = openssl(
        tool,
        "-verify",
        "-in",
        path,
        "-CAfile",
        str(pki.ca_path),
        "-purpose",
        "smimesign",
        "-attime",
        str(int(NOW.timestamp())),
        *binary,
    )
    assert out == bytes(SDP)


@pytest.mark.parametrize("cipher", list(OPENSSL_CIPHER))
@pytest.mark.parametrize(("who", "padding"), RECIPIENTS)
def test_openssl_cms_decrypts_ours(pki, tmp_path, cipher, who, padding) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    body = encrypt_entity(
        SDP,
        [party.cert],
        cipher=cipher,
        rsa_padding="oaep" if padding == "ecdh" else padding,
        transfer="base64",
    )
    path = _write(tmp_path, "enc.eml", bytes(body))
    out = openssl(
        "cms",
        "-decrypt",
        "-in",
        path,
        "-recip",
        str(party.cert_path),
        "-inkey",
        str(party.key_path),
        "-binary",
    )
    assert out == bytes(SDP)


def test_openssl_smime_decrypts_ours(pki, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = encrypt_entity(SDP, [pki.alice.cert], rsa_padding="pkcs1v15", transfer="base64")
    path = _write(tmp_path, "enc.eml", bytes(body))
    out = openssl(
        "smime",
        "-decrypt",
        "-in",
        path,
        "-recip",
        str(pki.alice.cert_path),
        "-inkey",
        str(pki.alice.key_path),
        "-binary",
    )
    assert out == bytes(SDP)


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_openssl_opens_our_signed_and_encrypted_body(pki, tmp_path, who) -> None:  # type: ignore[no-untyped-def]
    recipient = getattr(pki, who)
    body = sign_and_encrypt(
        SDP,
        pki.carol.cert,
        pki.carol.key,
        [recipient.cert],
        now=NOW,
        cipher="aes256-gcm",
        transfer="base64",
    )
    inner = openssl(
        "cms",
        "-verify",
        "-in",
        _write(tmp_path, "se.eml", bytes(body)),
        "-CAfile",
        str(pki.ca_path),
        "-attime",
        str(int(NOW.timestamp())),
    )
    out = openssl(
        "cms",
        "-decrypt",
        "-in",
        _write(tmp_path, "inner.eml", inner),
        "-recip",
        str(recipient.cert_path),
        "-inkey",
        str(recipient.key_path),
        "-binary",
    )
    assert out == bytes(SDP)


# -- we read what openssl writes ------------------------------------------------


@pytest.mark.parametrize("tool", ["cms", "smime"])
@pytest.mark.parametrize("who", ["alice", "bob"])
@pytest.mark.parametrize("mode", ["detached", "opaque", "text"])
def test_we_verify_openssl_signatures(pki, tmp_path, tool, who, mode) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    content = bytes(SDP)
    flags = ["-binary"]
    if mode == "opaque":
        flags.append("-nodetach")
    elif mode == "text":
        # Without -binary openssl signs the CRLF-canonical form of LF input
        # and writes it with LF line ends: the mail-tool case.
        content, flags = content.replace(b"\r\n", b"\n"), []
    out = openssl(
        tool,
        "-sign",
        "-in",
        _write(tmp_path, "sdp.mime", content),
        "-signer",
        str(party.cert_path),
        "-inkey",
        str(party.key_path),
        "-md",
        "sha256",
        *flags,
    )
    verified = verify_entity(
        MimeEntity.parse(out), pki.store, now=NOW, from_address=f"sip:{party.name}"
    )
    assert verified.signer == party.cert
    assert verified.content.content_type()[0] == "application/sdp"
    assert verified.content.body.replace(b"\r\n", b"\n") == SDP.body.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("cipher", list(OPENSSL_CIPHER))
@pytest.mark.parametrize(("who", "padding"), RECIPIENTS)
def test_we_decrypt_openssl_cms(pki, tmp_path, cipher, who, padding) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    keyopts = []
    if padding == "oaep":
        keyopts = ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"]
    out = openssl(
        "cms",
        "-encrypt",
        "-binary",
        OPENSSL_CIPHER[cipher],
        "-in",
        _write(tmp_path, "sdp.mime", bytes(SDP)),
        "-recip",
        str(party.cert_path),
        *keyopts,
    )
    entity = MimeEntity.parse(out)
    assert bytes(decrypt_entity(entity, party.cert, party.key)) == bytes(SDP)


def test_we_decrypt_openssl_smime_and_default_oaep(pki, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "sdp.mime", bytes(SDP))
    out = openssl(
        "smime", "-encrypt", "-binary", "-aes-256-cbc", "-in", path, str(pki.alice.cert_path)
    )
    assert bytes(decrypt_entity(MimeEntity.parse(out), pki.alice.cert, pki.alice.key)) == bytes(SDP)
    # OAEP with its SHA-1 defaults (RFC 8017 parameters absent).
    out = openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes-128-cbc",
        "-in",
        path,
        "-recip",
        str(pki.alice.cert_path),
        "-keyopt",
        "rsa_padding_mode:oaep",
    )
    assert bytes(decrypt_entity(MimeEntity.parse(out), pki.alice.cert, pki.alice.key)) == bytes(SDP)
    # openssl's default content cipher is 3DES, which RFC 8551 §2.7 demotes: a
    # typed 493, not a crash.
    out = openssl("cms", "-encrypt", "-binary", "-in", path, str(pki.alice.cert_path))
    with pytest.raises(UnsupportedAlgorithm, match="tripledes") as info:
        decrypt_entity(MimeEntity.parse(out), pki.alice.cert, pki.alice.key)
    assert info.value.status == 493


def test_we_open_openssl_encrypt_then_sign(pki, tmp_path) -> None:  # type: ignore[no-untyped-def]
    enveloped = openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes-128-cbc",
        "-in",
        _write(tmp_path, "sdp.mime", bytes(SDP)),
        "-recip",
        str(pki.bob.cert_path),
    )
    signed = openssl(
        "cms",
        "-sign",
        "-binary",
        "-in",
        _write(tmp_path, "env.eml", enveloped),
        "-signer",
        str(pki.alice.cert_path),
        "-inkey",
        str(pki.alice.key_path),
    )
    opened = open_body(
        MimeEntity.parse(signed),
        store=pki.store,
        now=NOW,
        from_address="sip:alice@atlanta.example",
        cert=pki.bob.cert,
        key=pki.bob.key,
    )
    assert bytes(opened.content) == bytes(SDP)
    assert opened.signer == pki.alice.cert and opened.encrypted


def test_we_verify_openssl_pss_and_key_identifiers(pki, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # RSASSA-PSS signatures (RFC 4056) and a signer named by subjectKeyIdentifier
    # (RFC 5652 §5.3, SignerInfo v3) rather than issuer and serial number.
    path = _write(tmp_path, "sdp.mime", bytes(SDP))
    out = openssl(
        "cms",
        "-sign",
        "-binary",
        "-keyid",
        "-in",
        path,
        "-signer",
        str(pki.alice.cert_path),
        "-inkey",
        str(pki.alice.key_path),
        "-keyopt",
        "rsa_padding_mode:pss",
    )
    verified = verify_entity(
        MimeEntity.parse(out), pki.store, now=NOW, from_address="sip:alice@atlanta.example"
    )
    assert verified.signer == pki.alice.cert


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_we_decrypt_openssl_recipient_by_key_identifier(pki, tmp_path, who) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    out = openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-aes-128-cbc",
        "-keyid",
        "-in",
        _write(tmp_path, "sdp.mime", bytes(SDP)),
        "-recip",
        str(party.cert_path),
    )
    assert bytes(decrypt_entity(MimeEntity.parse(out), party.cert, party.key)) == bytes(SDP)


@pytest.mark.parametrize("cipher", ["aes128-cbc", "aes256-gcm"])
def test_openssl_decrypts_for_each_of_several_recipients(pki, tmp_path, cipher) -> None:  # type: ignore[no-untyped-def]
    # One RSA (ktri) and one EC (kari) recipient in the same EnvelopedData.
    body = encrypt_entity(SDP, [pki.alice.cert, pki.bob.cert], cipher=cipher, transfer="base64")
    path = _write(tmp_path, "enc.eml", bytes(body))
    for party in (pki.alice, pki.bob):
        out = openssl(
            "cms",
            "-decrypt",
            "-in",
            path,
            "-recip",
            str(party.cert_path),
            "-inkey",
            str(party.key_path),
            "-binary",
        )
        assert out == bytes(SDP)
