"""Session keys: the key derivation of RFC 3711 §4.3 and the ciphers they key.

A :class:`SessionKeys` holds everything one packet needs, built once per
(master key, direction, key-derivation epoch) and reused for every packet:
an AES-ECB context that turns counter blocks into keystream (§4.1.1), the
HMAC-SHA1 inner and outer hash states (§4.2.1), or an ``AESGCM`` object
(RFC 7714).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipsec.srtp.profiles import Cipher, Profile

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import CipherContext

__all__ = ["LABEL_RTCP", "LABEL_RTP", "SessionKeys", "derive", "ecb_encryptor"]

# §4.3.2: labels 0x00-0x02 key SRTP, 0x03-0x05 key SRTCP (encryption, auth, salt).
LABEL_RTP = 0x00
LABEL_RTCP = 0x03


def ecb_encryptor(key: bytes) -> CipherContext:
    """A reusable AES-ECB context; ECB keeps no state between ``update`` calls."""
    return _Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - CTR keystream


def derive(master_key: bytes, master_salt: bytes, label: int, r: int, length: int) -> bytes:
    """The AES-CM PRF of §4.3.1 (and RFC 6188 §3 for 192/256-bit keys).

    ``x = (label || r) XOR master_salt`` right-aligned in 112 bits, and the
    output is the keystream of AES-CM keyed by the master key with IV ``x·2^16``.
    The 96-bit GCM master salt is padded with two zero octets on the right
    before the XOR, exactly as libsrtp feeds it to the same PRF.
    """
    salt = master_salt.ljust(14, b"\x00")
    x = int.from_bytes(salt, "big") ^ ((label << 48) | r)
    iv = x << 16
    blocks = (length + 15) // 16
    counters = b"".join((iv + i).to_bytes(16, "big") for i in range(blocks))
    return ecb_encryptor(master_key).update(counters)[:length]


class SessionKeys:
    """Derived keys for one direction (SRTP or SRTCP) and one epoch ``r``.

    ``salt`` is the session salt as an integer, already shifted into place:
    for AES-CM it is ``k_s · 2^16`` (§4.1.1), for GCM the 96-bit salt that is
    XORed into the nonce (RFC 7714 §8.1).
    """

    __slots__ = ("aead", "ecb", "inner", "outer", "salt", "spread")

    def __init__(self, profile: Profile, enc_key: bytes, salt: bytes, auth_key: bytes) -> None:
        self.ecb: CipherContext | None = None
        self.aead: AESGCM | None = None
        # (SSRC, blocks in a batch) -> the IV's fixed part repeated in every
        # counter block of a batch; see uniform.py.
        self.spread: dict[tuple[int, int], int] = {}
        self.inner: hashlib._Hash | None = None
        self.outer: hashlib._Hash | None = None
        if profile.cipher is Cipher.AES_GCM:
            self.aead = AESGCM(enc_key)
            self.salt = int.from_bytes(salt, "big")
            return
        if profile.cipher is Cipher.AES_CM:
            self.ecb = ecb_encryptor(enc_key)
        self.salt = int.from_bytes(salt, "big") << 16
        # RFC 2104 HMAC with the pads hashed once: each packet copies two states.
        padded = auth_key.ljust(64, b"\x00")
        self.inner = hashlib.sha1(bytes(b ^ 0x36 for b in padded))  # noqa: S324 - RFC 3711 §4.2.1
        self.outer = hashlib.sha1(bytes(b ^ 0x5C for b in padded))  # noqa: S324 - RFC 3711 §4.2.1

    @classmethod
    def derive(
        cls, profile: Profile, master_key: bytes, master_salt: bytes, label: int, r: int
    ) -> SessionKeys:
        """Session keys for ``label`` (SRTP 0x00 or SRTCP 0x03) and epoch ``r`` (§4.3.1)."""
        return cls(
            profile,
            derive(master_key, master_salt, label, r, profile.key_len),
            derive(master_key, master_salt, label + 2, r, profile.salt_len),
            derive(master_key, master_salt, label + 1, r, profile.auth_key_len),
        )

    def __repr__(self) -> str:
        return "SessionKeys(<redacted>)"
