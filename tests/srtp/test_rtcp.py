"""SRTCP transforms against RFC 7714 §17 (encrypted and authenticated-only)."""

from __future__ import annotations

from typing import Any

import pytest

from sipsec.srtp import SrtpAuthError, SrtpMalformedError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.profiles import PROFILES
from sipsec.srtp.rtcp import open_rtcp, parse_rtcp, parse_srtcp, seal_rtcp


@pytest.mark.parametrize("which", [0, 1, 2, 3], ids=["17.1", "17.2", "17.3", "17.4"])
def test_rfc7714_section17_srtcp(vectors: dict[str, Any], which: int) -> None:
    v = vectors["aead_aes_gcm_srtcp"][which]
    profile = PROFILES[v["profile"]]
    keys = SessionKeys(
        profile, bytes.fromhex(v["session_key"]), bytes.fromhex(v["session_salt"]), b""
    )
    rtcp, srtcp = bytes.fromhex(v["rtcp_packet"]), bytes.fromhex(v["srtcp_packet"])
    ssrc, index = int(v["ssrc"], 16), int(v["srtcp_index"], 16)
    assert seal_rtcp(profile, keys, rtcp, ssrc, index, v["e_flag"], b"") == srtcp
    assert parse_srtcp(profile, srtcp, 0) == (ssrc, index, v["e_flag"], b"")
    assert open_rtcp(profile, keys, srtcp, ssrc, index, v["e_flag"], 0) == rtcp
    forged = bytearray(srtcp)
    forged[10] ^= 0x80
    with pytest.raises(SrtpAuthError):
        open_rtcp(profile, keys, bytes(forged), ssrc, index, v["e_flag"], 0)


def test_parse_rtcp_refuses_garbage() -> None:
    with pytest.raises(SrtpMalformedError):
        parse_rtcp(b"\x80\xc8\x00")
    with pytest.raises(SrtpMalformedError, match="version"):
        parse_rtcp(b"\x01\xc8\x00\x01abcd")
    with pytest.raises(SrtpMalformedError):
        parse_srtcp(PROFILES["AES_CM_128_HMAC_SHA1_80"], bytes(21), 0)
