"""The per-packet stages the SRTP hot paths share (RFC 3711, RFC 3550 §5.1).

Header parse (RFC 3550 §5.1), index estimate and replay list (RFC 3711
Appendix A, §3.3.2, the rules of :mod:`sipsec.srtp.replay` written inline)
and tag check (§4.2.1, RFC 7714), for the derive-once case (key derivation
rate 0).  :mod:`sipsec.srtp.single` and :mod:`sipsec.srtp.batch` are built
from these, so one packet and a batch of packets get exactly the same
verdicts.
"""

from __future__ import annotations

from hmac import compare_digest
from struct import Struct

from cryptography.exceptions import InvalidTag

from sipsec.srtp.crypto import _SUFFIXES, suffixes
from sipsec.srtp.errors import SrtpAuthError, SrtpError, SrtpMalformedError, SrtpUnknownMkiError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow, estimate_index
from sipsec.srtp.rtp import MAX_PACKET, as_bytes

__all__ = [
    "MEDIAN",
    "PAD",
    "Result",
    "counter_blocks_of",
    "rx_commit",
    "rx_stage",
    "tx_stage",
    "unpack_fixed",
    "xor_pieces",
]

_FIXED = Struct("!BxHxxxxI")
unpack_fixed = _FIXED.unpack_from
_from = int.from_bytes
# Zero padding that brings a payload to whole 16-octet blocks, by length mod 16.
PAD = [bytes((16 - r) & 15) for r in range(16)]
MEDIAN = 1 << 15
# What a batch returns per packet: the result, or the error that packet raised.
Result = bytes | SrtpError


def xor_pieces(pieces: list[bytes], keystream: bytes) -> bytes:
    """The block-padded ``pieces`` XOR ``keystream``, as one integer operation.

    The byte order does not matter to XOR; little-endian converts fastest.
    """
    return (_from(b"".join(pieces), "little") ^ _from(keystream, "little")).to_bytes(
        len(keystream), "little"
    )


def _header_length(packet: bytes, first: int, trailer: int) -> int:
    """Length of header, CSRCs and extension; checks all of it is there."""
    n = len(packet)
    if first & 0xC0 != 0x80:
        raise SrtpMalformedError(f"RTP version {first >> 6} is not 2")
    hlen = 12 + ((first & 0x0F) << 2)
    if first & 0x10:
        if n < hlen + 4 + trailer:
            raise SrtpMalformedError("RTP header extension is truncated")
        hlen += 4 + (((packet[hlen + 2] << 8) | packet[hlen + 3]) << 2)
    if n < hlen + trailer:
        raise SrtpMalformedError("RTP header (CSRC list or extension) is truncated")
    return hlen


def tx_stage(
    rtp: object, master: MasterKey, streams: dict[int, ReplayWindow], window: int, repeat: bool
) -> tuple[bytes, int, int, int]:
    """Parse, choose and record the index of an outgoing packet: (rtp, hlen, ssrc, index)."""
    if type(rtp) is not bytes:
        rtp = as_bytes(rtp)
    if not 12 <= len(rtp) <= MAX_PACKET:
        raise SrtpMalformedError(f"RTP packet of {len(rtp)} octets is too short or too long")
    first, seq, ssrc = unpack_fixed(rtp)
    hlen = 12 if first == 0x80 else _header_length(rtp, first, 0)
    if master.rtp_count >= master.rtp_limit:
        master.check_rtp()
    stream = streams.get(ssrc)
    if stream is None:
        stream = streams[ssrc] = ReplayWindow(window)
    highest = stream.highest
    index = seq if highest <= MEDIAN else estimate_index(highest, seq)
    delta = index - highest
    if delta > 0:
        stream.mask = ((stream.mask << delta) | 1) & stream.full
        stream.highest = index
    else:
        # libsrtp refuses to protect an index twice (it would reuse keystream)
        # unless allow_repeat_tx; an index behind the window is refused always.
        if not repeat or -delta >= stream.size:
            stream.check(index)
        stream.mask |= 1 << -delta
    master.rtp_count += 1
    return rtp, hlen, ssrc, index


def rx_stage(  # noqa: PLR0917 - hot path, positional on purpose
    srtp: object,
    keys_by_mki: dict[bytes, MasterKey],
    mki_len: int,
    streams: dict[int, ReplayWindow],
    tag_len: int,
    aead: bool,
) -> tuple[bytes, MasterKey, SessionKeys, int, int, int, ReplayWindow | None]:
    """Parse, find the key, check index and tag of an incoming packet; records nothing.

    Returns (authenticated portion — already decrypted with GCM —, master key,
    session keys, header length, SSRC, index, stream or None when new).
    """
    if type(srtp) is not bytes:
        srtp = as_bytes(srtp)
    n = len(srtp)
    trailer = mki_len + tag_len  # with GCM, tag_len is the 16 octets ending the ciphertext
    if n < 12 + trailer or n > MAX_PACKET:
        raise SrtpMalformedError(f"SRTP packet of {n} octets is too short or too long")
    first, seq, ssrc = unpack_fixed(srtp)
    hlen = 12 if first == 0x80 else _header_length(srtp, first, trailer)
    if mki_len:
        # §3.1: the MKI precedes the tag; RFC 7714 §8: it follows the ciphertext.
        mki_end = n if aead else n - tag_len
        found = keys_by_mki.get(srtp[mki_end - mki_len : mki_end])
        if found is None:
            raise SrtpUnknownMkiError(f"unknown MKI {srtp[mki_end - mki_len : mki_end].hex()}")
        master = found
    else:
        master = keys_by_mki[b""]
    if master.rtp_count >= master.rtp_limit:
        master.check_rtp()
    stream = streams.get(ssrc)
    if stream is None:
        index = seq  # a new stream starts at index 0, ROC 0 (libsrtp's rdbx)
    else:
        highest = stream.highest
        index = seq if highest <= MEDIAN else estimate_index(highest, seq)
        if index <= highest:
            stream.check(index)
    keys = master.rtp
    assert keys is not None
    if keys.aead is not None:
        header = srtp[:hlen]
        iv = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12, "big")
        try:
            m = header + keys.aead.decrypt(iv, srtp[hlen : n - mki_len], header)
        except InvalidTag:
            raise SrtpAuthError("SRTP authentication tag does not verify") from None
    else:
        assert keys.inner is not None and keys.outer is not None
        tag_at = n - tag_len
        m = srtp[: tag_at - mki_len]
        h = keys.inner.copy()
        h.update(m)
        h.update(((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big"))
        o = keys.outer.copy()
        o.update(h.digest())
        if not compare_digest(o.digest()[:tag_len], srtp[tag_at:]):
            raise SrtpAuthError("SRTP authentication tag does not verify")
    return m, master, keys, hlen, ssrc, index, stream


def rx_commit(  # noqa: PLR0917 - hot path, positional on purpose
    streams: dict[int, ReplayWindow],
    window: int,
    master: MasterKey,
    ssrc: int,
    index: int,
    stream: ReplayWindow | None,
) -> None:
    """Record an authenticated packet — now, and only now (§3.3.2)."""
    if stream is None:
        stream = streams[ssrc] = ReplayWindow(window)
    delta = index - stream.highest
    if delta > 0:
        stream.mask = ((stream.mask << delta) | 1) & stream.full
        stream.highest = index
    else:
        stream.mask |= 1 << -delta
    master.rtp_count += 1


def counter_blocks_of(prefix: int, n: int) -> bytes:
    blocks = (n + 15) >> 4
    return prefix.to_bytes(14, "big").join(_SUFFIXES.get(blocks) or suffixes(blocks))
