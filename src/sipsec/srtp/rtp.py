"""SRTP packet transforms (RFC 3711 §3.1, §4.1.1, §4.2.1; RFC 7714 §8).

An SRTP packet is the RTP header (with CSRCs and any header extension) in
the clear, the encrypted payload, the optional MKI and the tag. The tag is
HMAC-SHA1 over header || encrypted payload || ROC; with AES-GCM the header is
the AAD and the tag ends the ciphertext, before the MKI.

These functions are stateless; the context owns the indices.
"""

from __future__ import annotations

from hmac import compare_digest
from struct import Struct

from cryptography.exceptions import InvalidTag

from sipsec.srtp.crypto import ctr_xor, hmac_sha1
from sipsec.srtp.errors import SrtpAuthError, SrtpMalformedError
from sipsec.srtp.kdf import SessionKeys

__all__ = [
    "MAX_PACKET",
    "as_bytes",
    "cm_iv",
    "gcm_iv",
    "open_rtp",
    "parse_rtp",
    "roc_bytes",
    "seal_rtp",
    "verify_rtp",
]

_FIXED = Struct("!BxHxxxxI")  # first octet, sequence number, SSRC (RFC 3550 §5.1)
# Nothing larger fits in a UDP datagram; it also keeps a packet within the
# 2^16 keystream blocks one AES-CM IV may produce (§4.1.1).
MAX_PACKET = 0xFFFF


def as_bytes(packet: object) -> bytes:
    """``packet`` as ``bytes``; anything but bytes, bytearray or memoryview is refused."""
    if isinstance(packet, bytes):
        return packet
    if isinstance(packet, bytearray | memoryview):
        return bytes(packet)
    raise SrtpMalformedError(f"a packet must be bytes, not {type(packet).__name__}")


def parse_rtp(packet: bytes, trailer: int) -> tuple[int, int, int]:
    """(header length, SSRC, sequence number); ``trailer`` octets must follow the header."""
    n = len(packet)
    if n < 12 + trailer or n > MAX_PACKET:
        raise SrtpMalformedError(f"RTP packet of {n} octets is too short or too long")
    first, seq, ssrc = _FIXED.unpack_from(packet)
    if first & 0xC0 != 0x80:
        raise SrtpMalformedError(f"RTP version {first >> 6} is not 2")
    hlen = 12 + ((first & 0x0F) << 2)
    if first & 0x10:
        # RFC 3550 §5.3.1: 16-bit profile word, 16-bit length in 32-bit words.
        if n < hlen + 4 + trailer:
            raise SrtpMalformedError("RTP header extension is truncated")
        hlen += 4 + (((packet[hlen + 2] << 8) | packet[hlen + 3]) << 2)
    if n < hlen + trailer:
        raise SrtpMalformedError("RTP header (CSRC list or extension) is truncated")
    return hlen, ssrc, seq


def cm_iv(keys: SessionKeys, ssrc: int, index: int) -> int:
    """§4.1.1: IV = (k_s·2^16) XOR (SSRC·2^64) XOR (i·2^16)."""
    return keys.salt ^ (ssrc << 64) ^ (index << 16)


def gcm_iv(keys: SessionKeys, ssrc: int, index: int) -> bytes:
    """RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt."""
    return (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12, "big")


def roc_bytes(index: int) -> bytes:
    """The ROC appended to the authenticated portion (§4.2)."""
    return ((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big")


def seal_rtp(  # noqa: PLR0917 - hot path, positional on purpose
    keys: SessionKeys, rtp: bytes, hlen: int, ssrc: int, index: int, mki: bytes, tag_len: int
) -> bytes:
    """Protect one RTP packet whose index is ``index``."""
    header = rtp[:hlen]
    if keys.aead is not None:
        return header + keys.aead.encrypt(gcm_iv(keys, ssrc, index), rtp[hlen:], header) + mki
    assert keys.inner is not None and keys.outer is not None
    if keys.ecb is not None:
        m = header + ctr_xor(keys.ecb, cm_iv(keys, ssrc, index), rtp[hlen:])
    else:
        m = rtp
    return m + mki + hmac_sha1(keys.inner, keys.outer, m + roc_bytes(index))[:tag_len]


def verify_rtp(keys: SessionKeys, srtp: bytes, index: int, mki_len: int, tag_len: int) -> bytes:
    """Check the HMAC tag (§3.3 step 5) and return the authenticated portion."""
    assert keys.inner is not None and keys.outer is not None
    tag_at = len(srtp) - tag_len
    m = srtp[: tag_at - mki_len]
    if not compare_digest(
        hmac_sha1(keys.inner, keys.outer, m + roc_bytes(index))[:tag_len], srtp[tag_at:]
    ):
        raise SrtpAuthError("SRTP authentication tag does not verify")
    return m


def open_rtp(  # noqa: PLR0917 - hot path, positional on purpose
    keys: SessionKeys, srtp: bytes, hlen: int, ssrc: int, index: int, mki_len: int, tag_len: int
) -> bytes:
    """Verify and decrypt one SRTP packet whose index is ``index``."""
    if keys.aead is not None:
        header = srtp[:hlen]
        try:
            payload = keys.aead.decrypt(
                gcm_iv(keys, ssrc, index), srtp[hlen : len(srtp) - mki_len], header
            )
        except InvalidTag:
            raise SrtpAuthError("SRTP authentication tag does not verify") from None
        return header + payload
    m = verify_rtp(keys, srtp, index, mki_len, tag_len)
    if keys.ecb is None:
        return m
    return m[:hlen] + ctr_xor(keys.ecb, cm_iv(keys, ssrc, index), m[hlen:])
