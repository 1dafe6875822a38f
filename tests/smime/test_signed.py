"""CMS SignedData (RFC 5652 §5): our signatures verify, every change is caught."""

from __future__ import annotations

import pytest
from asn1crypto import cms

from sipsec.smime import BadSignature, MalformedBody, UnsupportedAlgorithm
from sipsec.smime.signed import sign, verify

from .conftest import NOW

CONTENT = b"Content-Type: application/sdp\r\n\r\nv=0\r\n"


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
@pytest.mark.parametrize("detached", [True, False])
def test_sign_verify(pki, who: str, detached: bool) -> None:  # type: ignore[no-untyped-def]
    party = getattr(pki, who)
    der = sign(CONTENT, party.cert, party.key, now=NOW, detached=detached)
    result = verify(der, CONTENT if detached else None)
    assert result.content == CONTENT
    assert result.signer == party.cert
    assert result.signing_time == NOW


def test_signed_attributes(pki) -> None:  # type: ignore[no-untyped-def]
    der = sign(CONTENT, pki.bob.cert, pki.bob.key, now=NOW, chain=[pki.ca_cert])
    info = cms.ContentInfo.load(der)["content"]
    attrs = {a["type"].native for a in info["signer_infos"][0]["signed_attrs"]}
    assert attrs == {"content_type", "message_digest", "signing_time"}
    assert len(info["certificates"]) == 2
    assert info["encap_content_info"]["content"].native is None  # detached


def test_changed_content_is_caught(pki) -> None:  # type: ignore[no-untyped-def]
    der = sign(CONTENT, pki.alice.cert, pki.alice.key, now=NOW)
    with pytest.raises(BadSignature, match="digest"):
        verify(der, CONTENT.replace(b"v=0", b"v=1"))


def test_changed_signature_is_caught(pki) -> None:  # type: ignore[no-untyped-def]
    der = bytearray(sign(CONTENT, pki.alice.cert, pki.alice.key, now=NOW))
    der[-5] ^= 0x01  # inside the RSA signature, the last field
    with pytest.raises(BadSignature, match="does not verify"):
        verify(bytes(der), CONTENT)


def test_signer_certificate_swapped(pki) -> None:  # type: ignore[no-untyped-def]
    # Replace the embedded certificate by Carol's: the sid no longer matches.
    der = sign(CONTENT, pki.alice.cert, pki.alice.key, now=NOW)
    info = cms.ContentInfo.load(der)
    from asn1crypto import x509 as ax509
    from cryptography.hazmat.primitives.serialization import Encoding

    info["content"]["certificates"] = [
        cms.CertificateChoices(
            {"certificate": ax509.Certificate.load(pki.carol.cert.public_bytes(Encoding.DER))}
        )
    ]
    with pytest.raises(BadSignature, match="not in the SignedData"):
        verify(info.dump(force=True), CONTENT)


def test_detached_signature_without_content(pki) -> None:  # type: ignore[no-untyped-def]
    der = sign(CONTENT, pki.bob.cert, pki.bob.key, now=NOW)
    with pytest.raises(MalformedBody, match="no content"):
        verify(der)


def test_wrong_content_type(pki) -> None:  # type: ignore[no-untyped-def]
    data = cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    with pytest.raises(UnsupportedAlgorithm):
        verify(data, CONTENT)
    with pytest.raises(MalformedBody):
        verify(b"\x30\x03\x02\x01", CONTENT)


def test_embedded_certificate_with_a_negative_serial(pki) -> None:  # type: ignore[no-untyped-def]
    # Found by Hypothesis: cryptography only warns about a negative serial
    # (RFC 5280 §4.1.2.2 forbids it); from the network it is corruption.
    der = bytearray(sign(CONTENT, pki.alice.cert, pki.alice.key, now=NOW))
    serial = pki.alice.cert.serial_number
    encoded = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    at = der.find(encoded)  # the first occurrence is inside the certificate
    der[at] |= 0x80
    with pytest.raises(MalformedBody, match="corrupt certificate"):
        verify(bytes(der), CONTENT)
