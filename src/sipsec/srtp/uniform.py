"""Whole-batch SRTP for the common media case: one SSRC, consecutive packets.

A G.711 or Opus sender emits packets of one SSRC with sequence numbers
n, n+1, n+2 … and (often) one size. For such a batch the index of every
packet follows from the first (RFC 3711 Appendix A: each step is +1, the ROC
carrying at the wrap), the replay list can be updated once, and everything but
HMAC-SHA1 becomes a handful of C-level operations on the whole batch:
``struct.iter_unpack`` splits headers, payloads and tags, the counter blocks
(§4.1.1) of all packets are one big-integer expression, AES-ECB and the XOR
run once. With AES-GCM only the per-packet bookkeeping is saved: each packet
is still one ``AESGCM`` call (RFC 7714 §8). When the batch is not like that —
or a tag fails — these functions return ``None`` *before changing any state*,
and the caller takes the packet-by-packet path of :mod:`sipsec.srtp.batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from hmac import compare_digest
from struct import Struct
from typing import cast

from cryptography.exceptions import InvalidTag

from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow, estimate_index
from sipsec.srtp.rtp import MAX_PACKET

__all__ = ["keystream_blocks", "protect_uniform", "unprotect_uniform"]

_MEDIAN = 1 << 15
MIN_BATCH = 8  # below this the checks cost more than they save
_STRUCTS: dict[str, Struct] = {}
# (packets, blocks per packet) -> (REP, BASE): REP repeats a 128-bit value in
# every block; BASE holds (p << 16 | j) in block j of packet p.
_TABLES: dict[tuple[int, int], tuple[int, int]] = {}
# Octet columns a uniform batch must show (see _shape): the first header octet
# of every packet, and the low and high octets of consecutive sequence numbers
# starting anywhere in 0..65535 (wrapping to 0 after 65535).
_MAX_COLUMN = 4096
_FIRST = b"\x80" * _MAX_COLUMN
_SEQ_LOW = bytes(range(256)) * ((0x10000 + _MAX_COLUMN) // 256)
_SEQ_HIGH = (b"".join(bytes((h,)) * 256 for h in range(256)) * 2)[: 0x10000 + _MAX_COLUMN]


def _struct(fmt: str) -> Struct:
    s = _STRUCTS.get(fmt)
    if s is None:
        if len(_STRUCTS) > 64:
            _STRUCTS.clear()
        s = _STRUCTS[fmt] = Struct(fmt)
    return s


def _tables(packets: int, blocks: int) -> tuple[int, int]:
    key = (packets, blocks)
    tables = _TABLES.get(key)
    if tables is None:
        total = packets * blocks
        rep = int.from_bytes((b"\x00" * 15 + b"\x01") * total, "big")
        base = b"".join(
            ((p << 16) | j).to_bytes(16, "big") for p in range(packets) for j in range(blocks)
        )
        if len(_TABLES) > 64:
            _TABLES.clear()
        tables = _TABLES[key] = (rep, int.from_bytes(base, "big"))
    return tables


def _shape(packets: Sequence[object], trailer: int) -> tuple[bytes, int, int, int] | None:
    """(joined packets, packet size, first sequence number, SSRC) if the batch is uniform.

    Uniform: all ``bytes`` of one size, plain 12-octet headers (V=2, no CSRC,
    no extension), one SSRC, consecutive sequence numbers. Checked with
    strided slices of the joined batch (one octet column per header field
    position) against precomputed columns, so no per-packet Python object is
    made.
    """
    count = len(packets)
    if count < MIN_BATCH or set(map(type, packets)) != {bytes}:
        return None
    blobs = cast("Sequence[bytes]", packets)
    size = len(blobs[0])
    if not 12 + trailer <= size <= MAX_PACKET or set(map(len, blobs)) != {size}:
        return None
    joined = b"".join(blobs)
    seq0 = (joined[2] << 8) | joined[3]
    ssrc = int.from_bytes(joined[8:12], "big")
    if count > _MAX_COLUMN:
        return _shape_long(joined, size, count, seq0, ssrc)
    if (
        joined[0::size] != _FIRST[:count]
        or joined[3::size] != _SEQ_LOW[seq0 : seq0 + count]
        or joined[2::size] != _SEQ_HIGH[seq0 : seq0 + count]
    ):
        return None
    for i in range(8, 12):
        if joined[i::size] != bytes((joined[i],)) * count:
            return None
    return joined, size, seq0, ssrc


def _shape_long(
    joined: bytes, size: int, count: int, seq0: int, ssrc: int
) -> tuple[bytes, int, int, int] | None:
    """:func:`_shape` for batches longer than the precomputed columns."""
    firsts, seqs, ssrcs = zip(*_struct(f"!BxHxxxxI{size - 12}x").iter_unpack(joined), strict=True)
    if firsts.count(0x80) != count or ssrcs.count(ssrc) != count:
        return None
    end = seq0 + count
    expected = (*range(seq0, min(end, 0x10000)), *range(0, max(end - 0x10000, 0)))
    if seqs != expected:
        return None
    return joined, size, seq0, ssrc


def _advance(stream: ReplayWindow, last: int, count: int) -> None:
    """Record ``count`` consecutive new indices ending at ``last`` (§3.3.2)."""
    delta = last - stream.highest
    stream.mask = ((stream.mask << delta) | ((1 << count) - 1)) & stream.full
    stream.highest = last


def keystream_blocks(keys: SessionKeys, ssrc: int, first: int, count: int, blocks: int) -> bytes:
    """AES-CM keystream, ``blocks`` blocks for each of packets first … first+count-1."""
    assert keys.ecb is not None
    rep, base = _tables(count, blocks)
    total = count * blocks
    # Block j of packet p: ((salt·2^16) XOR (SSRC·2^64)) XOR ((first + p)·2^16 | j).
    fixed = keys.spread.get((ssrc, total))
    if fixed is None:
        if len(keys.spread) > 16:
            keys.spread.clear()
        block = (keys.salt ^ (ssrc << 64)).to_bytes(16, "big")
        fixed = keys.spread[(ssrc, total)] = int.from_bytes(block * total, "big")
    counters = (fixed ^ ((first << 16) * rep + base)).to_bytes(total << 4, "big")
    return keys.ecb.update(counters)


def _gcm_ivs(keys: SessionKeys, ssrc: int, first: int, count: int) -> bytes:
    """The 12-octet IVs of packets first … first+count-1, laid end to end.

    RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt, that is
    ``(salt XOR SSRC·2^48) XOR index``. XOR has no carries, so the fixed part
    repeated in every 12-octet slot XOR the indices laid out the same way
    gives them all with one big-integer expression.
    """
    rep, base = _iv_tables(count)
    fixed = keys.spread.get((ssrc, -count))
    if fixed is None:
        if len(keys.spread) > 16:
            keys.spread.clear()
        block = (keys.salt ^ (ssrc << 48)).to_bytes(12, "big")
        fixed = keys.spread[(ssrc, -count)] = int.from_bytes(block * count, "big")
    return (fixed ^ (first * rep + base)).to_bytes(12 * count, "big")


def _iv_tables(count: int) -> tuple[int, int]:
    """(REP, BASE) for 12-octet slots: REP has 1 in every slot, BASE has p in slot p."""
    tables = _TABLES.get((count, 0))
    if tables is None:
        rep = int.from_bytes((b"\x00" * 11 + b"\x01") * count, "big")
        base = b"".join(p.to_bytes(12, "big") for p in range(count))
        if len(_TABLES) > 64:
            _TABLES.clear()
        tables = _TABLES[(count, 0)] = (rep, int.from_bytes(base, "big"))
    return tables


def _xor_payloads(  # noqa: PLR0917 - internal, positional on purpose
    master: MasterKey, ssrc: int, first: int, joined: bytes, size: int, trail: int
) -> bytes:
    """``joined`` packets first … with each payload XORed with its keystream.

    The payload of each ``size``-octet packet lies between its 12-octet header
    and ``trail`` octets (the tag); the keystream of all packets is laid out
    the same way, with zeros over headers and tags, so one XOR does the batch.
    """
    keys = master.rtp
    assert keys is not None
    count = len(joined) // size
    n = size - 12 - trail
    if n == 0:
        return joined
    blocks = (n + 15) >> 4
    pad = (blocks << 4) - n
    keystream = keystream_blocks(keys, ssrc, first, count, blocks)
    pieces = _struct(f"{n}s{pad}x").iter_unpack(keystream)
    gapped = bytes(12) + bytes(trail + 12).join([p for (p,) in pieces]) + bytes(trail)
    return (int.from_bytes(joined, "little") ^ int.from_bytes(gapped, "little")).to_bytes(
        len(joined), "little"
    )


def protect_uniform(
    packets: Sequence[object],
    master: MasterKey,
    streams: dict[int, ReplayWindow],
    window: int,
    tag_len: int,
) -> list[bytes] | None:
    """Protect a uniform batch (see :func:`_shape`), or ``None`` without touching state."""
    shape = _shape(packets, 0)
    keys = master.rtp
    if shape is None or keys is None or (keys.ecb is None and keys.aead is None):
        return None
    joined, size, seq0, ssrc = shape
    count = len(packets)
    stream = streams.get(ssrc)
    highest = stream.highest if stream is not None else 0
    first = seq0 if highest <= _MEDIAN else estimate_index(highest, seq0)
    last = first + count - 1
    if first <= highest or master.rtp_count + count > master.rtp_limit or last >= 1 << 48:
        return None
    if stream is None:
        stream = streams[ssrc] = ReplayWindow(window)
    _advance(stream, last, count)
    master.rtp_count += count
    mki = master.mki
    if keys.aead is not None:
        # RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; AAD = header.
        encrypt = keys.aead.encrypt
        ivs = _struct("12s").iter_unpack(_gcm_ivs(keys, ssrc, first, count))
        packets_out = [
            header + encrypt(iv, payload, header)
            for (iv,), (header, payload) in zip(
                ivs, _struct(f"12s{size - 12}s").iter_unpack(joined), strict=True
            )
        ]
        return [packet + mki for packet in packets_out] if mki else packets_out
    inner, outer = keys.inner, keys.outer
    assert inner is not None and outer is not None
    out: list[bytes] = []
    index = first
    roc = ((first >> 16) & 0xFFFFFFFF).to_bytes(4, "big")
    wrap = (first | 0xFFFF) + 1  # the first index with the next ROC
    sealed = _xor_payloads(master, ssrc, first, joined, size, 0)
    for (m,) in _struct(f"{size}s").iter_unpack(sealed):
        if index == wrap:
            roc = ((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big")
        index += 1
        h = inner.copy()
        h.update(m)
        h.update(roc)
        o = outer.copy()
        o.update(h.digest())
        out.append(m + mki + o.digest()[:tag_len])
    return out


def unprotect_uniform(
    packets: Sequence[object],
    master: MasterKey,
    streams: dict[int, ReplayWindow],
    window: int,
    tag_len: int,
) -> list[bytes] | None:
    """Unprotect a uniform batch without MKI, or ``None`` without touching state.

    Every tag is checked before anything is recorded; one bad tag sends the
    whole batch down the packet-by-packet path, which reports it in place.
    """
    shape = _shape(packets, tag_len)
    keys = master.rtp
    if shape is None or keys is None or (keys.ecb is None and keys.aead is None):
        return None
    joined, size, seq0, ssrc = shape
    count = len(packets)
    stream = streams.get(ssrc)
    if stream is None:
        highest, first = 0, seq0  # a new stream starts at index 0, ROC 0
    else:
        highest = stream.highest
        first = seq0 if highest <= _MEDIAN else estimate_index(highest, seq0)
    last = first + count - 1
    if first <= highest or master.rtp_count + count > master.rtp_limit or last >= 1 << 48:
        return None
    if keys.aead is not None:
        decrypt = keys.aead.decrypt
        ivs = _struct("12s").iter_unpack(_gcm_ivs(keys, ssrc, first, count))
        try:
            plain = [
                header + decrypt(iv, sealed, header)
                for (iv,), (header, sealed) in zip(
                    ivs, _struct(f"12s{size - 12}s").iter_unpack(joined), strict=True
                )
            ]
        except InvalidTag:
            return None
        if stream is None:
            stream = streams[ssrc] = ReplayWindow(window)
        _advance(stream, last, count)
        master.rtp_count += count
        return plain
    inner, outer = keys.inner, keys.outer
    assert inner is not None and outer is not None
    index = first
    roc = ((first >> 16) & 0xFFFFFFFF).to_bytes(4, "big")
    wrap = (first | 0xFFFF) + 1
    authenticated, tags = zip(
        *_struct(f"{size - tag_len}s{tag_len}s").iter_unpack(joined), strict=True
    )
    for m, tag in zip(authenticated, tags, strict=True):
        if index == wrap:
            roc = ((index >> 16) & 0xFFFFFFFF).to_bytes(4, "big")
        index += 1
        h = inner.copy()
        h.update(m)
        h.update(roc)
        o = outer.copy()
        o.update(h.digest())
        if not compare_digest(o.digest()[:tag_len], tag):
            return None
    if stream is None:
        stream = streams[ssrc] = ReplayWindow(window)
    _advance(stream, last, count)
    master.rtp_count += count
    opened = _xor_payloads(master, ssrc, first, joined, size, tag_len)
    return [p for (p,) in _struct(f"{size - tag_len}s{tag_len}x").iter_unpack(opened)]
