"""One SRTP packet at a time: the path ``protect``/``unprotect`` take (RFC 3711 §3.3).

:func:`protect_one` and :func:`unprotect_one` first try the packet a media
stream sends 50 times a second — a plain 12-octet header, the next index of
a stream already seen, no MKI on receive — with the stage rules written
inline (a function call and a tuple less per packet); anything else takes
the stage functions of :mod:`sipsec.srtp.stages`.  :mod:`sipsec.srtp.lane`
goes one step further for AES-CM with one SSRC each way.
``tests/srtp/test_batch.py`` holds all of them against each other.
"""

from __future__ import annotations

from hmac import compare_digest

from cryptography.exceptions import InvalidTag

from sipsec.srtp.crypto import _SUFFIXES, suffixes
from sipsec.srtp.errors import SrtpAuthError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow, estimate_index
from sipsec.srtp.rtp import MAX_PACKET, seal_rtp
from sipsec.srtp.stages import MEDIAN, rx_commit, rx_stage, tx_stage, unpack_fixed

__all__ = ["decrypt_cm", "protect_one", "unprotect_one"]

_unpack = unpack_fixed
_from = int.from_bytes
_MEDIAN = MEDIAN


def protect_one(  # noqa: PLR0917 - hot path, positional on purpose
    rtp: object,
    master: MasterKey,
    streams: dict[int, ReplayWindow],
    window: int,
    repeat: bool,
    tag_len: int,
) -> bytes:
    """Protect one packet under ``master``."""
    hlen = 0
    # The packet a media sender sends 50 times a second: a plain header, the
    # next index of a known stream. tx_stage's rules, inline; all else there.
    if (
        type(rtp) is bytes
        and 12 < len(rtp) <= MAX_PACKET
        and rtp[0] == 0x80
        and master.rtp_count < master.rtp_limit
    ):
        packet = rtp
        _, seq, ssrc = _unpack(rtp)
        stream = streams.get(ssrc)
        if stream is not None:
            highest = stream.highest
            index = seq if highest <= _MEDIAN else estimate_index(highest, seq)
            delta = index - highest
            if delta > 0:
                stream.mask = ((stream.mask << delta) | 1) & stream.full
                stream.highest = index
                master.rtp_count += 1
                hlen = 12
    if not hlen:
        packet, hlen, ssrc, index = tx_stage(rtp, master, streams, window, repeat)
    rtp = packet
    keys = master.rtp
    assert keys is not None
    ecb, aead = keys.ecb, keys.aead
    if aead is not None:
        # RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; AAD = header.
        header = rtp[:hlen]
        iv = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12, "big")
        return header + aead.encrypt(iv, rtp[hlen:], header) + master.mki
    if ecb is None:
        return seal_rtp(keys, rtp, hlen, ssrc, index, master.mki, tag_len)
    n = len(rtp) - hlen
    blocks = (n + 15) >> 4
    prefix = ((keys.salt >> 16) ^ (ssrc << 48) ^ index).to_bytes(14, "big")
    keystream = ecb.update(prefix.join(_SUFFIXES.get(blocks) or suffixes(blocks)))
    if n & 15:
        keystream = keystream[:n]
    m = rtp[:hlen] + (_from(rtp[hlen:], "little") ^ _from(keystream, "little")).to_bytes(
        n, "little"
    )
    assert keys.inner is not None and keys.outer is not None
    h = keys.inner.copy()
    h.update(m)
    h.update(((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big"))
    o = keys.outer.copy()
    o.update(h.digest())
    return m + master.mki + o.digest()[:tag_len]


def unprotect_one(  # noqa: PLR0917 - hot path, positional on purpose
    srtp: object,
    keys_by_mki: dict[bytes, MasterKey],
    mki_len: int,
    streams: dict[int, ReplayWindow],
    window: int,
    tag_len: int,
    aead: bool,
) -> bytes:
    """Verify, record and decrypt one packet."""
    if not mki_len and type(srtp) is bytes and srtp[:1] == b"\x80":
        # A plain header, the next index of a known stream: the rules of
        # rx_stage and rx_commit inline; everything else goes there.
        n = len(srtp)
        master = keys_by_mki[b""]
        keys = master.rtp
        _, seq, ssrc = _unpack(srtp) if 12 + tag_len < n <= MAX_PACKET else (0, 0, -1)
        stream = streams.get(ssrc)
        if stream is not None and keys is not None and master.rtp_count < master.rtp_limit:
            highest = stream.highest
            index = seq if highest <= _MEDIAN else estimate_index(highest, seq)
            delta = index - highest
            if delta > 0 and keys.aead is not None:
                header = srtp[:12]
                iv = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12, "big")
                try:
                    m = header + keys.aead.decrypt(iv, srtp[12:], header)
                except InvalidTag:
                    raise SrtpAuthError("SRTP authentication tag does not verify") from None
                stream.mask = ((stream.mask << delta) | 1) & stream.full
                stream.highest = index
                master.rtp_count += 1
                return m
            if delta > 0 and keys.ecb is not None:
                assert keys.inner is not None and keys.outer is not None
                tag_at = n - tag_len
                m = srtp[:tag_at]
                h = keys.inner.copy()
                h.update(m)
                h.update(((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big"))
                o = keys.outer.copy()
                o.update(h.digest())
                if not compare_digest(o.digest()[:tag_len], srtp[tag_at:]):
                    raise SrtpAuthError("SRTP authentication tag does not verify")
                stream.mask = ((stream.mask << delta) | 1) & stream.full
                stream.highest = index
                master.rtp_count += 1
                return decrypt_cm(keys, m, 12, ssrc, index)
    m, master, keys, hlen, ssrc, index, stream = rx_stage(
        srtp, keys_by_mki, mki_len, streams, tag_len, aead
    )
    rx_commit(streams, window, master, ssrc, index, stream)
    if keys.ecb is None:
        return m
    return decrypt_cm(keys, m, hlen, ssrc, index)


def decrypt_cm(keys: SessionKeys, m: bytes, hlen: int, ssrc: int, index: int) -> bytes:
    """The authenticated portion ``m`` with its payload decrypted (§4.1.1)."""
    ecb = keys.ecb
    assert ecb is not None
    n = len(m) - hlen
    blocks = (n + 15) >> 4
    prefix = ((keys.salt >> 16) ^ (ssrc << 48) ^ index).to_bytes(14, "big")
    keystream = ecb.update(prefix.join(_SUFFIXES.get(blocks) or suffixes(blocks)))
    if n & 15:
        keystream = keystream[:n]
    return m[:hlen] + (_from(m[hlen:], "little") ^ _from(keystream, "little")).to_bytes(n, "little")
