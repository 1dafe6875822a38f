"""S/MIME bodies as SIP carries them (RFC 3261 §23.4), and the answer to each failure."""

from __future__ import annotations

import datetime as dt

import pytest

from sipsec.ca import CertificateStore, build_crl
from sipsec.smime import (
    BadSignature,
    FromMismatch,
    MalformedBody,
    MimeEntity,
    NotForUs,
    SignerExpired,
    SignerRevoked,
    SignerUntrusted,
    UnsupportedBody,
    decrypt_entity,
    encrypt_entity,
    open_body,
    sign_and_encrypt,
    sign_entity,
    verify_entity,
)
from sipsec.smime.mime import parse_multipart

from .conftest import NOW

SDP = MimeEntity(
    [("Content-Type", "application/sdp")],
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\nm=audio 49172 RTP/SAVP 0\r\n"
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    b"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n",
)
ALICE = "sip:alice@atlanta.example"


@pytest.mark.parametrize("transfer", ["binary", "base64"])
@pytest.mark.parametrize("opaque", [False, True])
def test_sign_and_verify(pki, transfer, opaque: bool) -> None:  # type: ignore[no-untyped-def]
    body = sign_entity(
        SDP, pki.alice.cert, pki.alice.key, now=NOW, opaque=opaque, transfer=transfer
    )
    media, params = body.content_type()
    if opaque:
        assert (media, params["smime-type"]) == ("application/pkcs7-mime", "signed-data")
    else:
        assert media == "multipart/signed"
        assert params["protocol"] == "application/pkcs7-signature"
        assert params["micalg"] == "sha-256"
        first, second = parse_multipart(body.body, params["boundary"])
        assert first == bytes(SDP)  # the signed bytes are the entity itself
        sig = MimeEntity.parse(second)
        assert sig.get("Content-Disposition") == "attachment; handling=required; filename=smime.p7s"
        assert sig.get("Content-Transfer-Encoding") == transfer
    verified = verify_entity(MimeEntity.parse(bytes(body)), pki.store, now=NOW, from_address=ALICE)
    assert bytes(verified.content) == bytes(SDP)
    assert verified.signer == pki.alice.cert
    assert verified.chain[-1] == pki.ca_cert


def test_text_is_signed_in_canonical_form(pki) -> None:  # type: ignore[no-untyped-def]
    lf = MimeEntity([("Content-Type", "application/sdp")], b"v=0\ns=-\n")
    body = sign_entity(lf, pki.bob.cert, pki.bob.key, now=NOW)
    verified = verify_entity(body, pki.store, now=NOW, from_address=None)
    assert verified.content.body == b"v=0\r\ns=-\r\n"


def test_lf_mangled_part_still_verifies(pki) -> None:  # type: ignore[no-untyped-def]
    # A mail tool turned CRLF into LF in the signed part; the signature covers
    # the canonical form (RFC 8551 §3.1.1), so it must still verify.
    body = sign_entity(SDP, pki.bob.cert, pki.bob.key, now=NOW, transfer="base64")
    mangled = bytes(body).replace(b"\r\n", b"\n")
    assert (
        verify_entity(MimeEntity.parse(mangled), pki.store, now=NOW, from_address=None).signer
        == pki.bob.cert
    )


def test_changed_sdp_is_a_bad_signature(pki) -> None:  # type: ignore[no-untyped-def]
    body = sign_entity(SDP, pki.alice.cert, pki.alice.key, now=NOW)
    evil = MimeEntity(body.headers, body.body.replace(b"192.0.2.101", b"203.0.113.66"))
    with pytest.raises(BadSignature) as info:
        verify_entity(evil, pki.store, now=NOW, from_address=None)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("now", "from_address", "error", "code"),
    [
        (NOW + dt.timedelta(days=400), ALICE, SignerExpired, "expired"),
        (NOW, "sip:bob@biloxi.example", FromMismatch, "from-mismatch"),
    ],
)
def test_signer_refused(pki, now, from_address, error, code) -> None:  # type: ignore[no-untyped-def]
    body = sign_entity(SDP, pki.alice.cert, pki.alice.key, now=NOW)
    with pytest.raises(error) as info:
        verify_entity(body, pki.store, now=now, from_address=from_address)
    assert (info.value.status, info.value.reason_code) == (403, code)


def test_untrusted_signer_claiming_alice(pki) -> None:  # type: ignore[no-untyped-def]
    body = sign_entity(SDP, pki.mallory.cert, pki.mallory.key, now=NOW)
    with pytest.raises(SignerUntrusted) as info:
        verify_entity(body, pki.store, now=NOW, from_address=ALICE)
    assert info.value.reason_code == "untrusted"


def test_revoked_signer(pki) -> None:  # type: ignore[no-untyped-def]
    crl = build_crl(pki.ca_cert, pki.ca_key, [(pki.alice.cert.serial_number, NOW)], now=NOW)
    store = CertificateStore([pki.ca_cert], crls=[crl])
    body = sign_entity(SDP, pki.alice.cert, pki.alice.key, now=NOW)
    with pytest.raises(SignerRevoked) as info:
        verify_entity(body, store, now=NOW + dt.timedelta(minutes=1), from_address=ALICE)
    assert info.value.reason_code == "revoked"


def test_domain_certificate_cannot_sign_bodies(pki) -> None:  # type: ignore[no-untyped-def]
    body = sign_entity(SDP, pki.domain.cert, pki.domain.key, now=NOW)
    with pytest.raises(SignerUntrusted):
        verify_entity(body, pki.store, now=NOW, from_address=None)


@pytest.mark.parametrize("cipher", ["aes128-cbc", "aes256-gcm"])
def test_encrypt_and_decrypt(pki, cipher) -> None:  # type: ignore[no-untyped-def]
    body = encrypt_entity(SDP, [pki.bob.cert, pki.alice.cert], cipher=cipher)
    media, params = body.content_type()
    assert media == "application/pkcs7-mime"
    assert params["smime-type"] == ("authEnveloped-data" if "gcm" in cipher else "enveloped-data")
    assert body.get("Content-Disposition") == "attachment; handling=required; filename=smime.p7m"
    assert b"inline:" not in bytes(body)
    assert bytes(decrypt_entity(body, pki.bob.cert, pki.bob.key)) == bytes(SDP)
    with pytest.raises(NotForUs) as info:
        decrypt_entity(body, pki.carol.cert, pki.carol.key)
    assert info.value.status == 493


def test_sign_and_encrypt_then_open(pki) -> None:  # type: ignore[no-untyped-def]
    # §23.4.3: the signature is around the enveloped body.
    body = sign_and_encrypt(SDP, pki.alice.cert, pki.alice.key, [pki.bob.cert], now=NOW)
    assert body.content_type()[0] == "multipart/signed"
    # A proxy can check who signed without being able to read the SDP.
    outer = verify_entity(body, pki.store, now=NOW, from_address=ALICE)
    assert outer.content.content_type()[1]["smime-type"] == "enveloped-data"
    opened = open_body(
        MimeEntity.parse(bytes(body)),
        store=pki.store,
        now=NOW,
        from_address=ALICE,
        cert=pki.bob.cert,
        key=pki.bob.key,
    )
    assert bytes(opened.content) == bytes(SDP)
    assert opened.signer == pki.alice.cert and opened.encrypted
    with pytest.raises(UnsupportedBody, match="no key"):
        open_body(body, store=pki.store, now=NOW, from_address=ALICE)
    plain = open_body(SDP, store=pki.store, now=NOW, from_address=ALICE)
    assert plain.content is SDP and plain.signer is None and not plain.encrypted


def test_too_many_layers(pki) -> None:  # type: ignore[no-untyped-def]
    body = SDP
    for _ in range(5):
        body = sign_entity(body, pki.bob.cert, pki.bob.key, now=NOW)
    with pytest.raises(MalformedBody, match="nested"):
        open_body(body, store=pki.store, now=NOW, from_address=None)


@pytest.mark.parametrize(
    "entity",
    [
        MimeEntity([("Content-Type", "application/sdp")], b"v=0\r\n"),
        MimeEntity(
            [("Content-Type", "multipart/signed; protocol=application/pgp-signature; boundary=b")],
            b"",
        ),
    ],
)
def test_not_smime(pki, entity) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedBody) as info:
        verify_entity(entity, pki.store, now=NOW, from_address=None)
    assert info.value.status == 415
    with pytest.raises(UnsupportedBody):
        decrypt_entity(entity, pki.bob.cert, pki.bob.key)


def test_multipart_signed_shape_errors(pki) -> None:  # type: ignore[no-untyped-def]
    ctype = "multipart/signed; protocol=application/pkcs7-signature; boundary=b"
    one = MimeEntity([("Content-Type", ctype)], b"--b\r\nA: b\r\n\r\nx\r\n--b--\r\n")
    with pytest.raises(MalformedBody, match="1 parts"):
        verify_entity(one, pki.store, now=NOW, from_address=None)
    wrong = MimeEntity(
        [("Content-Type", ctype)],
        b"--b\r\nA: b\r\n\r\nx\r\n--b\r\nContent-Type: text/plain\r\n\r\ny\r\n--b--\r\n",
    )
    with pytest.raises(MalformedBody, match="not a pkcs7-signature"):
        verify_entity(wrong, pki.store, now=NOW, from_address=None)
