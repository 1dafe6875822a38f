"""No padding oracle on the S/MIME body that carries the SRTP key.

The attack (Vaudenay 2002; EFAIL 2018 for S/MIME): capture Alice's signed
and encrypted INVITE body, strip the signature, change one octet of the
second-to-last AES-CBC block, send it to Bob as a new offer and read his
answer. "Bad padding" against "decrypted, but not signed" tells, for each
of the 256 values, whether the padding came out right — and so, octet by
octet, the plaintext: the SDP with the key.

With ``require_signature=True`` every such variant must get one and the same
answer (type, status, reason), whatever the decryption did.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sipsec.smime import (
    MimeEntity,
    SmimeError,
    encrypt_entity,
    open_body,
    sign_and_encrypt,
)

from .._pki import NOW  # the shared certificates are valid then
from .._pki import Pki as SharedPki

SDP = b"v=0\r\ns=-\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + (
    b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\n"
)


@pytest.fixture(scope="module")
def pki(pki: SharedPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Alice and Bob with RSA-2048 keys (RSA key transport, as this test has
    always had them), issued locally by the shared root with the same helper."""
    local = pki.authority.into(tmp_path_factory.mktemp("rsa"))
    out: dict[str, object] = {"store": local.store()}
    for name, aor in (("alice", "sip:alice@atlanta.example"), ("bob", "sip:bob@biloxi.example")):
        creds = local.user(aor, kind="rsa-2048")
        out[name] = creds.certificate
        out[name + "_key"] = creds.private_key
    return out


def _open(pki: dict[str, object], der: bytes, *, require: bool) -> tuple[str, int, str] | None:
    ctype = "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
    entity = MimeEntity([("Content-Type", ctype), ("Content-Transfer-Encoding", "binary")], der)
    try:
        open_body(
            entity, store=pki["store"], now=NOW, from_address="sip:alice@atlanta.example",  # type: ignore[arg-type]
            cert=pki["bob"], key=pki["bob_key"], require_signature=require,  # type: ignore[arg-type]
        )  # fmt: skip
    except SmimeError as exc:
        return type(exc).__name__, exc.status, exc.reason
    return None


def _outcomes(pki: dict[str, object], *, require: bool) -> set[tuple[str, int, str] | None]:
    plain = MimeEntity([("Content-Type", "application/sdp")], SDP)
    der = encrypt_entity(plain, [pki["bob"]], cipher="aes128-cbc").decoded_body()  # type: ignore[list-item]
    # The CBC ciphertext ends the DER: octet -17 is the last of the
    # second-to-last block, which XORs straight into the padding octet.
    seen = {_open(pki, der, require=require)}
    for value in range(256):
        forged = bytearray(der)
        forged[-17] ^= value
        seen.add(_open(pki, bytes(forged), require=require))
    return seen


def test_without_the_requirement_the_oracle_is_there(pki: dict[str, object]) -> None:
    """Proof the probe is a real one: an API that decrypts unsigned content
    answers differently by padding, so the requirement below is what helps."""
    assert len(_outcomes(pki, require=False)) >= 2


def test_one_answer_for_every_forged_padding(pki: dict[str, object]) -> None:
    seen = _outcomes(pki, require=True)
    assert len(seen) == 1, seen
    (only,) = seen
    assert only is not None and only[0] == "SignerUntrusted" and only[1] == 403


def test_a_genuine_signed_and_encrypted_body_still_opens(pki: dict[str, object]) -> None:
    plain = MimeEntity([("Content-Type", "application/sdp")], SDP)
    body = sign_and_encrypt(plain, pki["alice"], pki["alice_key"], [pki["bob"]], now=NOW)  # type: ignore[arg-type]
    opened = open_body(
        body, store=pki["store"], now=NOW, from_address="sip:alice@atlanta.example",  # type: ignore[arg-type]
        cert=pki["bob"], key=pki["bob_key"], require_signature=True,  # type: ignore[arg-type]
    )  # fmt: skip
    assert opened.encrypted and opened.signer == pki["alice"]
    assert opened.content.decoded_body() == SDP


def test_the_ua_opens_offers_with_the_requirement() -> None:
    source = (Path(__file__).resolve().parents[2] / "src/sipsec/ua/media_offer.py").read_text()
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open_body"
    ]
    assert calls
    assert all(any(k.arg == "require_signature" for k in call.keywords) for call in calls)
