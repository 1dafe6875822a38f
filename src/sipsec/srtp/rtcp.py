"""SRTCP packet transforms (RFC 3711 §3.4, RFC 7714 §9, §17).

An SRTCP packet is the RTCP compound packet with everything after the first
8 octets (header and sender SSRC) optionally encrypted, then the 32-bit word
``E || SRTCP index``, the optional MKI and the tag. With AES-GCM the tag is
part of the ciphertext and the trailer is ``E || index`` then MKI.

These functions are stateless; :class:`~sipsec.srtp.context.SrtpContext`
owns the indices and the replay lists.
"""

from __future__ import annotations

from hmac import compare_digest

from cryptography.exceptions import InvalidTag

from sipsec.srtp.crypto import ctr_xor, hmac_sha1
from sipsec.srtp.errors import SrtpAuthError, SrtpMalformedError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.profiles import Cipher, Profile
from sipsec.srtp.rtp import MAX_PACKET

__all__ = ["E_BIT", "open_rtcp", "parse_rtcp", "parse_srtcp", "seal_rtcp"]

E_BIT = 0x80000000
_GCM_TAG = 16


def parse_rtcp(rtcp: bytes) -> int:
    """Check the fixed part of an RTCP packet (RFC 3550 §6.4) and return its SSRC."""
    if not 8 <= len(rtcp) <= MAX_PACKET:
        raise SrtpMalformedError(f"RTCP packet of {len(rtcp)} octets is too short or too long")
    if rtcp[0] >> 6 != 2:
        raise SrtpMalformedError(f"RTCP version {rtcp[0] >> 6} is not 2")
    return int.from_bytes(rtcp[4:8], "big")


def parse_srtcp(profile: Profile, srtcp: bytes, mki_len: int) -> tuple[int, int, bool, bytes]:
    """(SSRC, SRTCP index, E flag, MKI) of an SRTCP packet, before any check of its tag."""
    tag_len = 0 if profile.aead else profile.rtcp_tag_len
    aead_tag = _GCM_TAG if profile.aead else 0
    trailer = 4 + mki_len + tag_len
    if len(srtcp) < 8 + aead_tag + trailer:
        raise SrtpMalformedError(f"SRTCP packet of {len(srtcp)} octets is too short")
    ssrc = parse_rtcp(srtcp)
    end = len(srtcp) - tag_len - mki_len
    word = int.from_bytes(srtcp[end - 4 : end], "big")
    return ssrc, word & 0x7FFFFFFF, bool(word & E_BIT), srtcp[end : end + mki_len]


def seal_rtcp(  # noqa: PLR0917 - hot path, positional on purpose
    profile: Profile,
    keys: SessionKeys,
    rtcp: bytes,
    ssrc: int,
    index: int,
    encrypt: bool,
    mki: bytes,
) -> bytes:
    """Protect one RTCP packet with SRTCP index ``index``."""
    encrypt = encrypt and profile.cipher is not Cipher.NULL
    word = ((E_BIT if encrypt else 0) | index).to_bytes(4, "big")
    head = rtcp[:8]
    if keys.aead is not None:
        # RFC 7714 §9.1: IV = 0x0000 || SSRC || 0x0000 || 0 || SRTCP index, XOR salt.
        iv = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12, "big")
        if encrypt:
            return head + keys.aead.encrypt(iv, rtcp[8:], head + word) + word + mki
        # §9.2 without confidentiality: the whole packet is AAD, the ciphertext is the tag.
        return rtcp + keys.aead.encrypt(iv, b"", rtcp + word) + word + mki
    assert keys.inner is not None and keys.outer is not None
    body = rtcp[8:]
    if encrypt:
        assert keys.ecb is not None
        body = ctr_xor(keys.ecb, keys.salt ^ (ssrc << 64) ^ (index << 16), body)
    m = head + body + word
    return m + mki + hmac_sha1(keys.inner, keys.outer, m)[: profile.rtcp_tag_len]


def open_rtcp(  # noqa: PLR0917 - hot path, positional on purpose
    profile: Profile,
    keys: SessionKeys,
    srtcp: bytes,
    ssrc: int,
    index: int,
    encrypted: bool,
    mki_len: int,
) -> bytes:
    """Verify and decrypt one SRTCP packet already split by :func:`parse_srtcp`."""
    if keys.aead is not None:
        end = len(srtcp) - mki_len - 4
        word = srtcp[end : end + 4]
        iv = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12, "big")
        head = srtcp[:8]
        try:
            if encrypted:
                return head + keys.aead.decrypt(iv, srtcp[8:end], head + word)
            body_end = end - _GCM_TAG
            keys.aead.decrypt(iv, srtcp[body_end:end], srtcp[:body_end] + word)
        except InvalidTag:
            raise SrtpAuthError("SRTCP authentication tag does not verify") from None
        return srtcp[:body_end]
    assert keys.inner is not None and keys.outer is not None
    tag_len = profile.rtcp_tag_len
    tag_at = len(srtcp) - tag_len
    m = srtcp[: tag_at - mki_len]
    if not compare_digest(hmac_sha1(keys.inner, keys.outer, m)[:tag_len], srtcp[tag_at:]):
        raise SrtpAuthError("SRTCP authentication tag does not verify")
    body = m[8:-4]
    if encrypted and keys.ecb is not None:
        body = ctr_xor(keys.ecb, keys.salt ^ (ssrc << 64) ^ (index << 16), body)
    return m[:8] + body
