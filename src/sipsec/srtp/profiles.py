"""The protection profiles (crypto suites) and their parameters.

Names are the RFC 4568 / IANA SDES names; lengths are those of RFC 3711 §8.2,
RFC 6188 §3–5 and RFC 7714 §12. ``NULL_HMAC_SHA1_*`` is a debugging suite
(libsrtp's ``null_cipher_hmac_sha1_80``): authenticated, never encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sipsec.srtp.errors import SrtpConfigError

__all__ = ["PROFILES", "Cipher", "Profile", "get_profile"]


class Cipher(Enum):
    """How the payload is transformed."""

    AES_CM = "aes-cm"  # RFC 3711 §4.1.1 counter mode, HMAC-SHA1 tag (§4.2.1)
    AES_GCM = "aes-gcm"  # RFC 7714 AEAD: the tag is part of the ciphertext
    NULL = "null"  # RFC 3711 §4.1.3 NULL cipher, HMAC-SHA1 tag


@dataclass(frozen=True, slots=True)
class Profile:
    """One suite: master key/salt lengths, session key lengths and tag lengths."""

    name: str
    cipher: Cipher
    key_len: int  # master and session encryption key, octets
    salt_len: int  # master and session salt, octets (14 for AES-CM, 12 for GCM)
    rtp_tag_len: int
    rtcp_tag_len: int
    auth_key_len: int  # HMAC-SHA1 session key, 0 for AEAD

    @property
    def master_len(self) -> int:
        """Length of ``key`` as given to :class:`SrtpContext`: master key || master salt."""
        return self.key_len + self.salt_len

    @property
    def aead(self) -> bool:
        return self.cipher is Cipher.AES_GCM


def _cm(name: str, key_len: int, tag_len: int) -> Profile:
    # RFC 4568 §6.2 and RFC 6188 §4: the _32 suites keep an 80-bit SRTCP tag.
    return Profile(name, Cipher.AES_CM, key_len, 14, tag_len, 10, 20)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _cm("AES_CM_128_HMAC_SHA1_80", 16, 10),
        _cm("AES_CM_128_HMAC_SHA1_32", 16, 4),
        _cm("AES_192_CM_HMAC_SHA1_80", 24, 10),
        _cm("AES_192_CM_HMAC_SHA1_32", 24, 4),
        _cm("AES_256_CM_HMAC_SHA1_80", 32, 10),
        _cm("AES_256_CM_HMAC_SHA1_32", 32, 4),
        Profile("AEAD_AES_128_GCM", Cipher.AES_GCM, 16, 12, 16, 16, 0),
        Profile("AEAD_AES_256_GCM", Cipher.AES_GCM, 32, 12, 16, 16, 0),
        # Debugging only: the key derivation of AES_CM_128, no confidentiality.
        Profile("NULL_HMAC_SHA1_80", Cipher.NULL, 16, 14, 10, 10, 20),
        Profile("NULL_HMAC_SHA1_32", Cipher.NULL, 16, 14, 4, 10, 20),
    )
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``, or :class:`SrtpConfigError`."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise SrtpConfigError(f"unknown SRTP profile {name!r}") from None
