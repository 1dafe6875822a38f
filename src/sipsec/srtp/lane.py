"""Per-SSRC fast lanes: the SRTP packet a call sends and receives 50 times a second.

A media stream protects packets of one SSRC, each the next index, with
AES-CM and HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1) and session keys derived
once; it unprotects those of one other SSRC.  A lane holds, for one SSRC
under one master key, everything such a packet needs that does not change
from packet to packet: the replay list of the stream, the IV with the salt
and SSRC already XORed in, the bound AES and hash methods.  A packet is taken
only when it is exactly that case — a plain 12-octet header, this SSRC, a
new highest index, the key within its lifetime — and the lane returns None
for anything else, having changed nothing, so the context's general path
decides.  The rules are those of :mod:`sipsec.srtp.single`, which
``tests/srtp/test_lane.py`` holds a lane against, packet for packet.

The §4.1.1 keystream of the next AHEAD indices is made ahead, with one
AES-ECB call, and kept as one integer per packet, aligned with the packet's
payload when the whole packet is read as a big-endian integer: XOR leaves the
12-octet header as it is, so a packet costs two integer conversions and an
XOR (on CPython the conversions, not the XOR, are what that costs).
"""

from __future__ import annotations

from collections.abc import Callable
from hmac import compare_digest
from struct import Struct
from typing import TYPE_CHECKING

from sipsec.srtp.errors import SrtpAuthError
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow, estimate_index
from sipsec.srtp.rtp import MAX_PACKET
from sipsec.srtp.stages import MEDIAN, unpack_fixed

if TYPE_CHECKING:
    import hashlib

__all__ = ["RxLane", "TxLane", "lane_keys"]

_from = int.from_bytes
# Keystream is made for this many packets ahead with one AES call: the call,
# not the AES, is what one packet's keystream costs (bench/bench_media.py).
AHEAD = 32
# Payload octets -> the Struct that cuts AHEAD packets' keystream (each padded
# to whole blocks) into the payload-long pieces.
_CUTS: dict[int, Struct] = {}
# (c, blocks) -> what follows the IV's top 13 octets in each counter block of
# AHEAD packets from an index that is a multiple of AHEAD (see _Lane._keystream),
# for payloads of up to _TAILS_BLOCKS blocks (G.711 at 20 or 30 ms: 10, 15);
# longer ones are laid out afresh.  At most _KEPT tables of ~18 KiB.
_TAILS: dict[tuple[int, int], list[bytes]] = {}
_TAILS_BLOCKS = 16
_KEPT = 512


def _cut(n: int) -> Struct:
    cut = _CUTS.get(n)
    if cut is None:
        if len(_CUTS) >= _KEPT:
            _CUTS.clear()
        cut = _CUTS[n] = Struct(f"{n}s{-n & 15}x" * AHEAD)
    return cut


# The 3-octet tails (v, 0, j) for v < 256, j < _TAILS_BLOCKS, made once: a table
# of _TAILS is then slices of these (a few µs), not 32 * blocks new objects
# (~125 µs, paid by a call's first packets, when hundreds of calls start at once).
_TRIPLES: list[list[bytes]] = []


def _tails(c: int, blocks: int) -> list[bytes]:
    tails = _TAILS.get((c, blocks))
    if tails is None:
        tails = [b""]
        if blocks <= _TAILS_BLOCKS:
            if not _TRIPLES:
                _TRIPLES.extend(
                    [bytes((v, 0, j)) for j in range(_TAILS_BLOCKS)] for v in range(256)
                )
            for p in range(AHEAD):
                tails += _TRIPLES[c ^ p][:blocks]
            if len(_TAILS) >= _KEPT:
                _TAILS.clear()
            _TAILS[(c, blocks)] = tails
        else:
            tails += [bytes((c ^ p, j >> 8, j & 0xFF)) for p in range(AHEAD) for j in range(blocks)]
    return tails


def lane_keys(master: MasterKey) -> bool:
    """Whether ``master``'s packets may take a lane: AES-CM, keys derived once."""
    keys = master.rtp
    return keys is not None and keys.ecb is not None and keys.inner is not None


class _Lane:
    __slots__ = (
        "_inner",
        "_iv",
        "_keys",
        "_ks",
        "_ks_first",
        "_ks_size",
        "_outer",
        "_roc",
        "_roc_of",
        "master",
        "ssrc",
    )

    def __init__(self, master: MasterKey, ssrc: int) -> None:
        keys = master.rtp
        assert keys is not None and keys.ecb is not None
        assert keys.inner is not None and keys.outer is not None
        self.master = master
        self.ssrc = ssrc
        self._keys = keys
        # §4.1.1: IV = (k_s·2^16) XOR (SSRC·2^64) XOR (i·2^16); its top 14
        # octets without the index, which XORs into the low 48 bits of them.
        self._iv = (keys.salt >> 16) ^ (ssrc << 48)
        # The keystream of the packets _ks_first … _ks_first + AHEAD - 1 of
        # _ks_size octets (header included), one integer each.
        self._ks: list[int] = []
        self._ks_first = -AHEAD
        self._ks_size = 0
        self._inner: Callable[[], hashlib._Hash] = keys.inner.copy
        self._outer: Callable[[], hashlib._Hash] = keys.outer.copy
        # The 4-octet ROC of §4.2 changes once every 65,536 packets.
        self._roc_of = -1
        self._roc = b""

    def _keystream(self, index: int, size: int) -> int:
        """The §4.1.1 keystream of packet ``index`` of ``size`` octets (a
        12-octet header, then the payload), as the integer to XOR with the
        whole packet read big-endian; those of the AHEAD packets from
        ``index`` rounded down to a multiple of AHEAD are kept."""
        n = size - 12
        first = index - index % AHEAD
        # Counter block j of packet first + p is the 14-octet IV prefix
        # (iv ^ first ^ p), then j as 2 octets.  p < AHEAD changes only the
        # low bits of the prefix's last octet: its other 13 octets are one
        # separator of a join, and the rest of each block (c ^ p, j) is a
        # table that depends on c, that last octet's value for p = 0.
        prefix = (self._iv ^ first).to_bytes(14)
        counters = prefix[:13].join(_tails(prefix[13], (n + 15) >> 4))
        assert self._keys.ecb is not None
        self._ks = ks = list(map(_from, _cut(n).unpack(self._keys.ecb.update(counters))))
        self._ks_first, self._ks_size = first, size
        return ks[index - first]

    def _roc_for(self, index: int) -> bytes:
        """The 4-octet ROC of §4.2 for ``index``; it changes once every 65,536 packets."""
        roc = index >> 16
        if roc != self._roc_of:
            self._roc_of = roc
            self._roc = (roc & 0xFFFFFFFF).to_bytes(4, "big")
        return self._roc


class TxLane(_Lane):
    """Protects the next packets of one outgoing SSRC."""

    __slots__ = ("_mki", "_stream", "_tag_len")

    def __init__(self, master: MasterKey, ssrc: int, stream: ReplayWindow, tag_len: int) -> None:
        super().__init__(master, ssrc)
        self._stream = stream
        self._mki = master.mki
        self._tag_len = tag_len

    def protect(self, rtp: bytes) -> bytes | None:
        """The SRTP packet, or None (nothing changed) when this is not the lane's case."""
        n = len(rtp)
        if n <= 12 or n > MAX_PACKET or rtp[0] != 0x80:
            return None
        _, seq, ssrc = unpack_fixed(rtp)
        master = self.master
        if ssrc != self.ssrc or master.rtp_count >= master.rtp_limit:
            return None
        stream = self._stream
        highest = stream.highest
        if seq == (highest + 1) & 0xFFFF:
            index = highest + 1  # the next packet: what estimate_index gives, without the call
        else:
            index = seq if highest <= MEDIAN else estimate_index(highest, seq)
        delta = index - highest
        if delta <= 0:
            return None  # a repeat or an old index: the general path refuses or allows it
        stream.mask = ((stream.mask << delta) | 1) & stream.full
        stream.highest = index
        master.rtp_count += 1
        # The keystream cache's hit, inline: a call less per packet.
        at = index - self._ks_first
        if 0 <= at < AHEAD and n == self._ks_size:
            m = (_from(rtp) ^ self._ks[at]).to_bytes(n)
        else:
            m = (_from(rtp) ^ self._keystream(index, n)).to_bytes(n)
        # §4.2: HMAC-SHA1 over the authenticated portion and the ROC.
        h = self._inner()
        h.update(m)
        h.update(self._roc if index >> 16 == self._roc_of else self._roc_for(index))
        o = self._outer()
        o.update(h.digest())
        tag = o.digest()[: self._tag_len]
        return m + self._mki + tag if self._mki else m + tag


class RxLane(_Lane):
    """Verifies and decrypts the next packets of one incoming SSRC (no MKI)."""

    __slots__ = ("_stream", "_tag_len")

    def __init__(self, master: MasterKey, ssrc: int, stream: ReplayWindow, tag_len: int) -> None:
        super().__init__(master, ssrc)
        self._stream = stream
        self._tag_len = tag_len

    def unprotect(self, srtp: bytes) -> bytes | None:
        """The RTP packet, None (nothing changed) when this is not the lane's
        case; :class:`SrtpAuthError` when the tag does not verify."""
        n = len(srtp)
        tag_at = n - self._tag_len
        if tag_at <= 12 or n > MAX_PACKET or srtp[0] != 0x80:
            return None
        _, seq, ssrc = unpack_fixed(srtp)
        master = self.master
        if ssrc != self.ssrc or master.rtp_count >= master.rtp_limit:
            return None
        stream = self._stream
        highest = stream.highest
        if seq == (highest + 1) & 0xFFFF:
            index = highest + 1  # the next packet: what estimate_index gives, without the call
        else:
            index = seq if highest <= MEDIAN else estimate_index(highest, seq)
        delta = index - highest
        if delta <= 0:
            return None  # replay checks against the window: the general path
        m = srtp[:tag_at]
        # §3.3 step 5: authenticate before anything is recorded or decrypted.
        h = self._inner()
        h.update(m)
        h.update(self._roc if index >> 16 == self._roc_of else self._roc_for(index))
        o = self._outer()
        o.update(h.digest())
        if not compare_digest(o.digest()[: self._tag_len], srtp[tag_at:]):
            raise SrtpAuthError("SRTP authentication tag does not verify")
        stream.mask = ((stream.mask << delta) | 1) & stream.full
        stream.highest = index
        master.rtp_count += 1
        at = index - self._ks_first
        if 0 <= at < AHEAD and tag_at == self._ks_size:
            return (_from(m) ^ self._ks[at]).to_bytes(tag_at)
        return (_from(m) ^ self._keystream(index, tag_at)).to_bytes(tag_at)
