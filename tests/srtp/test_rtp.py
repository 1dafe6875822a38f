"""SRTP packet transforms against RFC 7714 §16 (AEAD_AES_*_GCM, given as session keys)."""

from __future__ import annotations

from typing import Any

import pytest

from sipsec.srtp import SrtpAuthError, SrtpMalformedError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.profiles import PROFILES
from sipsec.srtp.rtp import as_bytes, open_rtp, parse_rtp, seal_rtp


def _keys(v: dict[str, Any]) -> SessionKeys:
    profile = PROFILES[v["profile"]]
    return SessionKeys(
        profile, bytes.fromhex(v["session_key"]), bytes.fromhex(v["session_salt"]), b""
    )


@pytest.mark.parametrize("which", [0, 1], ids=["16.1_AES_128_GCM", "16.2_AES_256_GCM"])
def test_rfc7714_section16_srtp(vectors: dict[str, Any], which: int) -> None:
    v = vectors["aead_aes_gcm_srtp"][which]
    keys = _keys(v)
    rtp, srtp = bytes.fromhex(v["rtp_packet"]), bytes.fromhex(v["srtp_packet"])
    ssrc = int(v["ssrc"], 16)
    index = (int(v["rollover_counter"], 16) << 16) | int(v["sequence_number"], 16)
    assert seal_rtp(keys, rtp, 12, ssrc, index, b"", 16) == srtp  # §16.x.1 encrypt
    assert open_rtp(keys, srtp, 12, ssrc, index, 0, 16) == rtp  # §16.x.2 decrypt
    forged = srtp[:-1] + bytes([srtp[-1] ^ 1])
    with pytest.raises(SrtpAuthError):
        open_rtp(keys, forged, 12, ssrc, index, 0, 16)
    # The ROC is in the IV: the wrong one fails.
    with pytest.raises(SrtpAuthError):
        open_rtp(keys, srtp, 12, ssrc, index + (1 << 16), 0, 16)


def test_parse_rtp_csrc_and_extension() -> None:
    # V=2, X=1, CC=2: 12 + 8 CSRC + 4 extension header + 2 words.
    header = bytes([0x92, 0x00, 0x12, 0x34]) + bytes(4) + bytes.fromhex("cafebabe")
    packet = header + bytes(8) + bytes.fromhex("bede0002") + bytes(8) + b"payload"
    assert parse_rtp(packet, 0) == (12 + 8 + 4 + 8, 0xCAFEBABE, 0x1234)
    with pytest.raises(SrtpMalformedError):
        parse_rtp(packet[:30], 0)  # extension words cut off
    with pytest.raises(SrtpMalformedError):
        parse_rtp(packet[:22], 0)  # extension header cut off
    with pytest.raises(SrtpMalformedError):
        parse_rtp(header[:11], 0)
    with pytest.raises(SrtpMalformedError, match="version"):
        parse_rtp(bytes([0x40]) + packet[1:], 0)


def test_as_bytes() -> None:
    assert as_bytes(bytearray(b"ab")) == b"ab"
    assert as_bytes(memoryview(b"ab")) == b"ab"
    with pytest.raises(SrtpMalformedError):
        as_bytes("ab")
