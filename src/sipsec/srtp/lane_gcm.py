"""Per-SSRC fast lanes for AEAD AES-GCM (RFC 7714), as :mod:`sipsec.srtp.lane` for AES-CM.

A lane takes the packet a media stream sends or receives 50 times a second
— a plain 12-octet header, its SSRC, the next new index, the key within its
lifetime, no MKI on receive — and returns None for anything else, having
changed nothing, so that the context's general path decides.  Here the
cipher is one ``AESGCM`` call a packet (RFC 7714 §8: the header is the
associated data, the 16-octet tag ends the ciphertext), so what a lane saves
is the per-packet bookkeeping: the IV's fixed part (salt XOR SSRC, §8.1) is
computed once, and the index of the next packet in order without
``estimate_index``.  The rules are those of :mod:`sipsec.srtp.single`,
which ``tests/srtp/test_lane.py`` holds these lanes against, packet for packet.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from sipsec.srtp.errors import SrtpAuthError
from sipsec.srtp.keys import MasterKey
from sipsec.srtp.replay import ReplayWindow, estimate_index
from sipsec.srtp.rtp import MAX_PACKET
from sipsec.srtp.stages import MEDIAN, unpack_fixed

__all__ = ["GcmRxLane", "GcmTxLane", "gcm_lane_keys"]

_TAG = 16  # RFC 7714 §8: the AEAD tag of the GCM suites


def gcm_lane_keys(master: MasterKey) -> bool:
    """Whether ``master``'s packets may take a GCM lane: AES-GCM, keys derived once."""
    keys = master.rtp
    return keys is not None and keys.aead is not None


class _GcmLane:
    __slots__ = ("_aead", "_iv", "_stream", "master", "ssrc")

    def __init__(self, master: MasterKey, ssrc: int, stream: ReplayWindow) -> None:
        keys = master.rtp
        assert keys is not None and keys.aead is not None
        self.master = master
        self.ssrc = ssrc
        self._stream = stream
        self._aead = keys.aead
        # §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; the index
        # (ROC || SEQ) is XORed into the low 48 bits of this.
        self._iv = keys.salt ^ (ssrc << 48)

    def _index_of(self, packet: bytes, shortest: int) -> int:
        """The index ``packet`` gets (Appendix A), or -1 when it is not the
        lane's case: longer than ``shortest`` octets and within MAX_PACKET, a
        plain header, the lane's SSRC, the key within its lifetime, and a new
        index (a repeat or older one is the general path's case)."""
        n = len(packet)
        if n <= shortest or n > MAX_PACKET or packet[0] != 0x80:
            return -1
        _, seq, ssrc = unpack_fixed(packet)
        master = self.master
        if ssrc != self.ssrc or master.rtp_count >= master.rtp_limit:
            return -1
        highest = self._stream.highest
        if seq == (highest + 1) & 0xFFFF:
            return highest + 1
        index = seq if highest <= MEDIAN else estimate_index(highest, seq)
        return index if index > highest else -1


class GcmTxLane(_GcmLane):
    """Protects the next packets of one outgoing SSRC."""

    __slots__ = ("_mki",)

    def __init__(self, master: MasterKey, ssrc: int, stream: ReplayWindow) -> None:
        super().__init__(master, ssrc, stream)
        self._mki = master.mki

    def protect(self, rtp: bytes) -> bytes | None:
        """The SRTP packet, or None (nothing changed) when this is not the lane's case."""
        index = self._index_of(rtp, 12)
        if index < 0:
            return None
        stream = self._stream
        stream.mask = ((stream.mask << (index - stream.highest)) | 1) & stream.full
        stream.highest = index
        self.master.rtp_count += 1
        header = rtp[:12]
        sealed = header + self._aead.encrypt((self._iv ^ index).to_bytes(12), rtp[12:], header)
        return sealed + self._mki if self._mki else sealed


class GcmRxLane(_GcmLane):
    """Verifies and decrypts the next packets of one incoming SSRC (no MKI)."""

    __slots__ = ()

    def unprotect(self, srtp: bytes) -> bytes | None:
        """The RTP packet, None (nothing changed) when this is not the lane's
        case; :class:`SrtpAuthError` when the tag does not verify."""
        index = self._index_of(srtp, 12 + _TAG)
        if index < 0:
            return None
        header = srtp[:12]
        # §3.3 step 5 / RFC 7714 §9.3: nothing is recorded unless the tag verifies.
        try:
            plain = self._aead.decrypt((self._iv ^ index).to_bytes(12), srtp[12:], header)
        except InvalidTag:
            raise SrtpAuthError("SRTP authentication tag does not verify") from None
        stream = self._stream
        stream.mask = ((stream.mask << (index - stream.highest)) | 1) & stream.full
        stream.highest = index
        self.master.rtp_count += 1
        return header + plain
