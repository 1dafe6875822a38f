"""The SRTP hot path, for one packet or a batch.

``protect``/``unprotect`` and their ``_many`` forms share the per-packet
stage functions below — header parse (RFC 3550 §5.1), index estimate and
replay list (RFC 3711 Appendix A, §3.3.2, the rules of
:mod:`sipsec.srtp.replay` written inline), tag check (§4.2.1, RFC 7714) — so
a batch gives exactly what packet-by-packet calls give. They differ only in
how AES-CM keystream is made: one packet at a time, or for the whole batch
with one AES-ECB call per session key (§4.1.1) and one integer XOR. AES-GCM
and the NULL cipher are done packet by packet. Only the key derivation rate 0
case comes here; the general path is :mod:`sipsec.srtp.rtp`.

``protect_one`` and ``unprotect_one`` first try the packet a media stream
sends 50 times a second — a plain 12-octet header, the next index of a
stream already seen, no MKI on receive — with the stage rules written inline
(a function call and a tuple less per packet); anything else takes the stage
functions. ``tests/srtp/test_batch.py`` holds both against each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from hmac import compare_digest
from struct import Struct

from cryptography.exceptions import InvalidTag

from sipsec.srtp.crypto import _SUFFIXES, suffixes
from sipsec.srtp.errors import SrtpAuthError, SrtpError, SrtpMalformedError, SrtpUnknownMkiError
from sipsec.srtp.kdf import SessionKeys
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow, estimate_index
from sipsec.srtp.rtp import MAX_PACKET, as_bytes, seal_rtp

__all__ = ["protect_one", "protect_rtp", "unprotect_one", "unprotect_rtp"]

_FIXED = Struct("!BxHxxxxI")
_unpack = _FIXED.unpack_from
_from = int.from_bytes
# Zero padding that brings a payload to whole 16-octet blocks, by length mod 16.
_PAD = [bytes((16 - r) & 15) for r in range(16)]
_MEDIAN = 1 << 15
Result = bytes | SrtpError


def _xor(pieces: list[bytes], keystream: bytes) -> bytes:
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


def _tx_stage(
    rtp: object, master: MasterKey, streams: dict[int, ReplayWindow], window: int, repeat: bool
) -> tuple[bytes, int, int, int]:
    """Parse, choose and record the index of an outgoing packet: (rtp, hlen, ssrc, index)."""
    if type(rtp) is not bytes:
        rtp = as_bytes(rtp)
    if not 12 <= len(rtp) <= MAX_PACKET:
        raise SrtpMalformedError(f"RTP packet of {len(rtp)} octets is too short or too long")
    first, seq, ssrc = _unpack(rtp)
    hlen = 12 if first == 0x80 else _header_length(rtp, first, 0)
    if master.rtp_count >= master.rtp_limit:
        master.check_rtp()
    stream = streams.get(ssrc)
    if stream is None:
        stream = streams[ssrc] = ReplayWindow(window)
    highest = stream.highest
    index = seq if highest <= _MEDIAN else estimate_index(highest, seq)
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


def _rx_stage(  # noqa: PLR0917 - hot path, positional on purpose
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
    first, seq, ssrc = _unpack(srtp)
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
        index = seq if highest <= _MEDIAN else estimate_index(highest, seq)
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


def _rx_commit(  # noqa: PLR0917 - hot path, positional on purpose
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


def _counters(prefix: int, n: int) -> bytes:
    blocks = (n + 15) >> 4
    return prefix.to_bytes(14, "big").join(_SUFFIXES.get(blocks) or suffixes(blocks))


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
    # next index of a known stream. _tx_stage's rules, inline; all else there.
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
        packet, hlen, ssrc, index = _tx_stage(rtp, master, streams, window, repeat)
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
        # _rx_stage and _rx_commit inline; everything else goes there.
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
                return _decrypt_cm(keys, m, 12, ssrc, index)
    m, master, keys, hlen, ssrc, index, stream = _rx_stage(
        srtp, keys_by_mki, mki_len, streams, tag_len, aead
    )
    _rx_commit(streams, window, master, ssrc, index, stream)
    if keys.ecb is None:
        return m
    return _decrypt_cm(keys, m, hlen, ssrc, index)


def _decrypt_cm(keys: SessionKeys, m: bytes, hlen: int, ssrc: int, index: int) -> bytes:
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
            rtp, hlen, ssrc, index = _tx_stage(rtp, master, streams, window, repeat)
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
        plain.append(_PAD[n & 15])
    mixed = _xor(plain, keys.ecb.update(b"".join(counters)))
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
            m, master, keys, hlen, ssrc, index, stream = _rx_stage(
                srtp, keys_by_mki, mki_len, streams, tag_len, aead
            )
        except SrtpError as exc:
            out.append(exc)
            continue
        _rx_commit(streams, window, master, ssrc, index, stream)
        if keys.ecb is None:  # GCM (already decrypted) or the NULL cipher
            out.append(m)
            continue
        group = pending.get(id(keys))
        if group is None:
            group = pending[id(keys)] = (keys, [], [], [])
        n = len(m) - hlen
        group[1].append((len(out), hlen, m))
        group[2].append(_counters((keys.salt >> 16) ^ (ssrc << 48) ^ index, n))
        group[3].append(m[hlen:])
        group[3].append(_PAD[n & 15])
        out.append(m)
    for keys, jobs, counters, cipher in pending.values():
        assert keys.ecb is not None
        mixed = _xor(cipher, keys.ecb.update(b"".join(counters)))
        pos = 0
        for slot, hlen, m in jobs:
            n = len(m) - hlen
            out[slot] = m[:hlen] + mixed[pos : pos + n]
            pos += (n + 15) & ~15
    return out
