"""The per-packet transforms: AES counter-mode keystream and the HMAC-SHA1 tag.

The keystream of §4.1.1 is ``AES_k(IV) || AES_k(IV + 1) || …``. Because the
IV's low 16 bits are zero (§4.1.1: ``(k_s·2^16) XOR (SSRC·2^64) XOR (i·2^16)``),
block ``j`` of a packet is ``IV | j``: all counter blocks of a packet are one
``bytes.join`` of its 14-octet prefix, and those of a whole batch are
encrypted in one AES-ECB call. The XOR is done on Python integers, which is a single C loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import hashlib

    from cryptography.hazmat.primitives.ciphers import CipherContext

__all__ = ["counter_blocks", "ctr_xor", "hmac_sha1", "suffixes"]

# For n blocks: the separators that turn a 14-octet IV prefix into n counter
# blocks with one ``bytes.join``: prefix.join([b"", 0000, 0001, …]).
_SUFFIXES: dict[int, list[bytes]] = {}
_CACHED = 4096  # 64 KiB: any UDP datagram


def suffixes(blocks: int) -> list[bytes]:
    """Separators for :func:`counter_blocks`: ``[b"", 0x0000, …, blocks - 1]``."""
    table = _SUFFIXES.get(blocks)
    if table is None:
        table = [b"", *(j.to_bytes(2, "big") for j in range(blocks))]
        if blocks <= _CACHED:
            _SUFFIXES[blocks] = table
    return table


def counter_blocks(iv: int, n: int) -> bytes:
    """The counter blocks covering ``n`` octets, IV first (low 16 bits of ``iv`` are zero)."""
    blocks = (n + 15) >> 4
    return (iv >> 16).to_bytes(14, "big").join(suffixes(blocks)) if blocks else b""


def ctr_xor(ecb: CipherContext, iv: int, data: bytes) -> bytes:
    """``data`` XOR the AES-CM keystream starting at counter block ``iv``."""
    n = len(data)
    if n == 0:
        return b""
    keystream = ecb.update(counter_blocks(iv, n))
    if n & 15:
        keystream = keystream[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")


def hmac_sha1(inner: hashlib._Hash, outer: hashlib._Hash, msg: bytes) -> bytes:
    """HMAC-SHA1 (RFC 2104) from the precomputed pad states; the full 20 octets."""
    h = inner.copy()
    h.update(msg)
    o = outer.copy()
    o.update(h.digest())
    return o.digest()
