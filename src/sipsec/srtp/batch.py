"""Batches of SRTP packets: ``protect_many``/``unprotect_many`` (RFC 3711 §3.3, §4.1.1).

A batch gives exactly what packet-by-packet calls give: the per-packet
stages (:mod:`sipsec.srtp.stages`) are the same.  It differs only in how
AES-CM keystream is made: for the whole batch with one AES-ECB call per
session key (§4.1.1) and one integer XOR.  AES-GCM and the NULL cipher are
done packet by packet.  Only the key derivation rate 0 case comes here; the
general path is :mod:`sipsec.srtp.rtp`.  A batch of one consecutive stream
goes through :mod:`sipsec.srtp.uniform` first.
"""

from __future__ import annotations

from collections.abc import Iterable

from sipsec.srtp.crypto import _SUFFIXES, suffixes
from sipsec.srtp.errors import SrtpError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow
from sipsec.srtp.single import protect_one, unprotect_one
from sipsec.srtp.stages import (
    PAD,
    Result,
    counter_blocks_of,
    rx_commit,
    rx_stage,
    tx_stage,
    xor_pieces,
)

__all__ = ["protect_one", "protect_rtp", "unprotect_one", "unprotect_rtp"]


def protect_rtp(  # noqa: PLR0917 - hot path, positional on purpose
    packets: Iterable[object],
    master: MasterKey,
    streams: dict[int, ReplayWindow],
    window: int,
    repeat: bool,
    tag_len: int,
) -> list[Result]:
    """Protect ``packets`` under ``master``; errors in place."""
    keys = master.rtp
    assert keys is not None
    if keys.ecb is None:  # GCM or NULL: nothing to share between packets
        results: list[Result] = []
        for rtp in packets:
            try:
                results.append(protect_one(rtp, master, streams, window, repeat, tag_len))
            except SrtpError as exc:
                results.append(exc)
        return results
    inner, outer, salt, mki = keys.inner, keys.outer, keys.salt >> 16, master.mki
    assert inner is not None and outer is not None
    # Errors, or (rtp, header length, index) awaiting the batch's keystream.
    staged: list[tuple[bytes, int, int] | SrtpError] = []
    counters: list[bytes] = []
    plain: list[bytes] = []
    for rtp in packets:
        try:
            rtp, hlen, ssrc, index = tx_stage(rtp, master, streams, window, repeat)
        except SrtpError as exc:
            staged.append(exc)
            continue
        staged.append((rtp, hlen, index))
        n = len(rtp) - hlen
        blocks = (n + 15) >> 4
        counters.append(
            (salt ^ (ssrc << 48) ^ index)
            .to_bytes(14, "big")
            .join(_SUFFIXES.get(blocks) or suffixes(blocks))
        )
        plain.append(rtp[hlen:])
        plain.append(PAD[n & 15])
    mixed = xor_pieces(plain, keys.ecb.update(b"".join(counters)))
    out: list[Result] = []
    pos = 0
    for item in staged:
        if type(item) is not tuple:
            out.append(item)  # type: ignore[arg-type]
            continue
        rtp, hlen, index = item
        n = len(rtp) - hlen
        m = rtp[:hlen] + mixed[pos : pos + n]
        pos += (n + 15) & ~15
        h = inner.copy()
        h.update(m)
        h.update(((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big"))
        o = outer.copy()
        o.update(h.digest())
        out.append(m + mki + o.digest()[:tag_len])
    return out


def unprotect_rtp(  # noqa: PLR0917 - hot path, positional on purpose
    packets: Iterable[object],
    keys_by_mki: dict[bytes, MasterKey],
    mki_len: int,
    streams: dict[int, ReplayWindow],
    window: int,
    tag_len: int,
    aead: bool,
) -> list[Result]:
    """Verify, record and decrypt ``packets``; errors in place."""
    out: list[Result] = []
    # Per session key: keys, [(slot in out, header length, authenticated portion)],
    # counter blocks, padded ciphertexts.
    pending: dict[
        int, tuple[SessionKeys, list[tuple[int, int, bytes]], list[bytes], list[bytes]]
    ] = {}
    for srtp in packets:
        try:
            m, master, keys, hlen, ssrc, index, stream = rx_stage(
                srtp, keys_by_mki, mki_len, streams, tag_len, aead
            )
        except SrtpError as exc:
            out.append(exc)
            continue
        rx_commit(streams, window, master, ssrc, index, stream)
        if keys.ecb is None:  # GCM (already decrypted) or the NULL cipher
            out.append(m)
            continue
        group = pending.get(id(keys))
        if group is None:
            group = pending[id(keys)] = (keys, [], [], [])
        n = len(m) - hlen
        group[1].append((len(out), hlen, m))
        group[2].append(counter_blocks_of((keys.salt >> 16) ^ (ssrc << 48) ^ index, n))
        group[3].append(m[hlen:])
        group[3].append(PAD[n & 15])
        out.append(m)
    for keys, jobs, counters, cipher in pending.values():
        assert keys.ecb is not None
        mixed = xor_pieces(cipher, keys.ecb.update(b"".join(counters)))
        pos = 0
        for slot, hlen, m in jobs:
            n = len(m) - hlen
            out[slot] = m[:hlen] + mixed[pos : pos + n]
            pos += (n + 15) & ~15
    return out
