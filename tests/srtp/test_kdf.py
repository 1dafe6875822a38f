"""Key derivation (RFC 3711 §4.3, Appendix B.3; RFC 6188 §7.2, §7.4) and the AES-CM
keystream (RFC 3711 Appendix B.2; RFC 6188 §7.1, §7.3)."""

from __future__ import annotations

from typing import Any

import pytest

from sipsec.srtp.crypto import ctr_xor
from sipsec.srtp.kdf import SessionKeys, derive, ecb_encryptor
from sipsec.srtp.profiles import PROFILES


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(
    "case", ["RFC3711_B3_AES_128", "RFC6188_7_2_AES_256", "RFC6188_7_4_AES_192"]
)
def test_key_derivation_vectors(vectors: dict[str, Any], case: str) -> None:
    v = next(x for x in vectors["key_derivation"] if x["id"] == case)
    key, salt = _h(v["master_key"]), _h(v["master_salt"])
    assert v["key_derivation_rate"] == 0
    assert derive(key, salt, 0x00, 0, len(key)) == _h(v["cipher_key"])
    assert derive(key, salt, 0x02, 0, 14) == _h(v["cipher_salt"])
    auth = _h(v["auth_key"])
    assert derive(key, salt, 0x01, 0, len(auth)) == auth


def test_rfc3711_b3_prf_inputs(vectors: dict[str, Any]) -> None:
    """B.3 prints the AES-CM input blocks: label at octet 7, the IV's low 16 bits zero."""
    v = vectors["key_derivation"][0]
    key = _h(v["master_key"])
    ecb = ecb_encryptor(key)
    assert ecb.update(_h(v["cipher_key_aes_cm_input"])) == _h(v["cipher_key"])
    full = ecb.update(_h(v["cipher_salt_aes_cm_input"]))
    assert full == _h(v["cipher_salt_full_aes_output"])


def test_session_keys_split_by_label() -> None:
    """SRTP (labels 0-2) and SRTCP (3-5) keys differ (§4.3.2)."""
    key, salt = bytes(range(16)), bytes(range(14))
    assert derive(key, salt, 0, 0, 16) != derive(key, salt, 3, 0, 16)
    assert derive(key, salt, 1, 0, 20) != derive(key, salt, 4, 0, 20)
    # r enters the low 48 bits: a different epoch, a different key (§4.3.1).
    assert derive(key, salt, 0, 1, 16) != derive(key, salt, 0, 0, 16)


@pytest.mark.parametrize(
    "case", ["RFC3711_B2_AES_128_CM", "RFC6188_7_1_AES_256_CM", "RFC6188_7_3_AES_192_CM"]
)
def test_aes_cm_keystream(vectors: dict[str, Any], case: str) -> None:
    v = next(x for x in vectors["aes_cm_keystream"] if x["id"] == case)
    ecb = ecb_encryptor(_h(v["session_key"]))
    iv = int.from_bytes(_h(v["counter_block_0"]), "big")
    # XOR with zeros is the keystream itself: 0xFF02 blocks cover every printed block.
    stream = ctr_xor(ecb, iv, bytes(16 * 0xFF02))
    for block in v["keystream_blocks"]:
        j = int(block["block_index"], 16)
        assert stream[16 * j : 16 * j + 16] == _h(block["keystream"]), block["block_index"]


def test_session_keys_repr_hides_keys() -> None:
    keys = SessionKeys.derive(PROFILES["AES_CM_128_HMAC_SHA1_80"], bytes(16), bytes(14), 0, 0)
    assert repr(keys) == "SessionKeys(<redacted>)"


def test_gcm_salt_is_padded_like_libsrtp() -> None:
    """A 96-bit master salt is padded on the right to the 112 bits the PRF XORs."""
    key = bytes(range(16))
    salt12 = bytes(range(12))
    assert derive(key, salt12, 0, 0, 16) == derive(key, salt12 + b"\x00\x00", 0, 0, 16)
