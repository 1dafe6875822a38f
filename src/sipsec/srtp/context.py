"""``SrtpContext``: the cryptographic context of RFC 3711 §3.2 for any number of SSRCs.

One context holds one profile, one or more master keys (chosen by MKI on
receipt, one of them used for sending), and per SSRC and direction the
rollover counter and replay list (§3.3.1, §3.3.2) or the SRTCP index. The
outbound and inbound state are separate, so one context may both protect and
unprotect. A packet that fails — malformed, unknown MKI, replayed, forged —
changes no state: every check runs before anything is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sipsec.srtp.batch import protect_rtp, unprotect_rtp
from sipsec.srtp.errors import (
    SrtpConfigError,
    SrtpError,
    SrtpKeyExhaustedError,
    SrtpUnknownMkiError,
)
from sipsec.srtp.kdf import LABEL_RTCP, SessionKeys
from sipsec.srtp.keys import SRTCP_LIFETIME, SRTP_LIFETIME, MasterKey
from sipsec.srtp.lane import RxLane, TxLane, lane_keys
from sipsec.srtp.lane_gcm import GcmRxLane, GcmTxLane, gcm_lane_keys
from sipsec.srtp.profiles import Cipher, get_profile
from sipsec.srtp.replay import ReplayWindow, estimate_index, window_size
from sipsec.srtp.rtcp import open_rtcp, parse_rtcp, parse_srtcp, seal_rtcp
from sipsec.srtp.rtp import as_bytes, open_rtp, parse_rtp, seal_rtp
from sipsec.srtp.single import protect_one, unprotect_one
from sipsec.srtp.uniform import protect_uniform, unprotect_uniform

__all__ = ["SrtpContext"]

Packet = bytes | bytearray | memoryview
# What a batch returns per packet: the result, or the error that packet raised.
Result = bytes | SrtpError

_MAX_MKI = 128  # libsrtp's SRTP_MAX_MKI_LEN


def _laned(master: MasterKey) -> bool:
    """Whether ``master``'s packets may take a lane (AES-CM or AES-GCM, keys derived once)."""
    return lane_keys(master) or gcm_lane_keys(master)


class SrtpContext:
    """Protect and unprotect SRTP/SRTCP packets for one profile and key set.

    ``key`` is master key || master salt (RFC 4568 §6.1 inline key). Options:

    - ``mki``: the MKI of this key (§3.1); every key of the context then
      carries an MKI of the same length. More keys: :meth:`add_key`,
      switch the sending one with :meth:`use_key`.
    - ``replay_window``: packets remembered per SSRC (64..32767, default 128).
    - ``key_derivation_rate``: 0 (derive once) or a power of two up to 2^24;
      session keys are re-derived every that many packets (§4.3.1).
    - ``srtp_lifetime`` / ``srtcp_lifetime``: packets one master key may
      protect or accept (at most 2^48 / 2^31, §9.2).
    - ``rtcp_encrypt``: set the E flag and encrypt SRTCP (default), or
      authenticate only.
    - ``allow_repeat_tx``: let :meth:`protect` re-send an index already sent
      (libsrtp's ``allow_repeat_tx``); refused by default because it reuses
      keystream.
    """

    def __init__(
        self,
        profile: str,
        key: bytes,
        *,
        mki: bytes | None = None,
        replay_window: int = 128,
        key_derivation_rate: int = 0,
        srtp_lifetime: int = SRTP_LIFETIME,
        srtcp_lifetime: int = SRTCP_LIFETIME,
        rtcp_encrypt: bool = True,
        allow_repeat_tx: bool = False,
    ) -> None:
        self._profile = get_profile(profile)
        self._window = window_size(replay_window)
        if not isinstance(key_derivation_rate, int) or key_derivation_rate < 0:
            raise SrtpConfigError("key_derivation_rate must be 0 or a power of two")
        if key_derivation_rate and (
            key_derivation_rate & (key_derivation_rate - 1) or key_derivation_rate > 1 << 24
        ):
            raise SrtpConfigError("key_derivation_rate must be a power of two up to 2^24 (§4.3.1)")
        self._kdr_shift = key_derivation_rate.bit_length() - 1 if key_derivation_rate else -1
        if not 0 < srtp_lifetime <= SRTP_LIFETIME or not 0 < srtcp_lifetime <= SRTCP_LIFETIME:
            raise SrtpConfigError("key lifetimes must be positive and within 2^48 / 2^31 (§9.2)")
        self._srtp_lifetime = srtp_lifetime
        self._srtcp_lifetime = srtcp_lifetime
        self._rtcp_encrypt = bool(rtcp_encrypt)
        self._allow_repeat_tx = bool(allow_repeat_tx)
        if mki is not None and (not isinstance(mki, bytes) or not 0 < len(mki) <= _MAX_MKI):
            raise SrtpConfigError(f"mki must be 1..{_MAX_MKI} octets")
        self._mki_len = len(mki) if mki else 0
        p = self._profile
        self._aead = p.aead
        self._rtp_tag = p.rtp_tag_len
        # Octets after the RTP header: MKI and tag (for GCM the tag ends the ciphertext).
        self._rtp_trailer = self._mki_len + p.rtp_tag_len
        self._keys: dict[bytes, MasterKey] = {}
        self._tx_key = self._new_key(key, mki or b"")
        self._tx: dict[int, ReplayWindow] = {}
        self._rx: dict[int, ReplayWindow] = {}
        self._tx_rtcp: dict[int, int] = {}
        self._rx_rtcp: dict[int, ReplayWindow] = {}
        # Session keys derived once: the inlined loops of batch.py.
        self._fast = self._kdr_shift < 0
        # Whole batches of one consecutive stream go through uniform.py.
        self._whole_batch = p.cipher is not Cipher.NULL
        # The first SSRC each way gets a lane (lane.py, lane_gcm.py): AES-CM
        # or AES-GCM, keys derived once, and on receive no MKI (then the one
        # key is the sending key).
        self._tx_lanes = self._fast and _laned(self._tx_key)
        self._rx_lanes = self._tx_lanes and not self._mki_len
        self._tx_lane: TxLane | GcmTxLane | None = None
        self._rx_lane: RxLane | GcmRxLane | None = None

    def __repr__(self) -> str:
        return f"SrtpContext({self._profile.name!r}, mki={self._tx_key.mki.hex()!r})"

    @property
    def profile(self) -> str:
        return self._profile.name

    # -- master keys (§3.1 MKI, §8 re-keying) ----------------------------

    def _new_key(self, key: bytes, mki: bytes) -> MasterKey:
        if not isinstance(key, bytes) or len(key) != self._profile.master_len:
            raise SrtpConfigError(
                f"{self._profile.name} needs a {self._profile.master_len}-octet master key and salt"
            )
        if mki in self._keys:
            raise SrtpConfigError("a master key with this MKI exists already")
        master = MasterKey(
            self._profile,
            key,
            mki,
            kdr_shift=self._kdr_shift,
            rtp_limit=self._srtp_lifetime,
            rtcp_limit=self._srtcp_lifetime,
        )
        self._keys[mki] = master
        return master

    def add_key(self, key: bytes, mki: bytes) -> None:
        """Accept packets under another master key, named by ``mki`` (same length)."""
        if not self._mki_len or not isinstance(mki, bytes) or len(mki) != self._mki_len:
            raise SrtpConfigError(
                f"mki must be {self._mki_len} octets; contexts without MKI hold one key"
            )
        self._new_key(key, mki)

    def use_key(self, mki: bytes) -> None:
        """Protect from now on with the master key named ``mki``; streams keep their indices."""
        try:
            self._tx_key = self._keys[mki]
        except (KeyError, TypeError):
            raise SrtpUnknownMkiError("no master key with this MKI") from None
        self._tx_lane = None  # it protects under the key used so far
        self._tx_lanes = self._fast and _laned(self._tx_key)

    def remove_key(self, mki: bytes) -> None:
        """Forget a master key; packets carrying its MKI are refused from now on."""
        if mki == self._tx_key.mki:
            raise SrtpConfigError("cannot remove the key in use for sending; use_key() another")
        if self._keys.pop(mki, None) is None:
            raise SrtpUnknownMkiError("no master key with this MKI")

    def _rx_key(self, packet: bytes, mki_end: int) -> MasterKey:
        if not self._mki_len:
            return self._tx_key
        mki = packet[mki_end - self._mki_len : mki_end]
        master = self._keys.get(mki)
        if master is None:
            raise SrtpUnknownMkiError(f"unknown MKI {mki.hex()}")
        return master

    # -- SRTP: state (§3.3.1, §3.3.2, Appendix A) ------------------------

    def _tx_prepare(self, rtp: bytes) -> tuple[MasterKey, SessionKeys, int, int, int]:
        """Parse, choose the index, record it: everything of protect but the crypto."""
        hlen, ssrc, seq = parse_rtp(rtp, 0)
        master = self._tx_key
        if master.rtp_count >= master.rtp_limit:
            master.check_rtp()
        stream = self._tx.get(ssrc)
        if stream is None:
            stream = self._tx[ssrc] = ReplayWindow(self._window)
        index = estimate_index(stream.highest, seq)
        if not self._allow_repeat_tx or stream.highest - index >= stream.size:
            stream.check(index)
        stream.add(index)
        master.rtp_count += 1
        keys = master.rtp if master.rtp is not None else master.session_keys(0, index)
        return master, keys, hlen, ssrc, index

    def _rx_prepare(
        self, srtp: bytes
    ) -> tuple[MasterKey, SessionKeys, int, int, int, ReplayWindow | None]:
        """Parse, find the key, estimate and check the index; records nothing."""
        hlen, ssrc, seq = parse_rtp(srtp, self._rtp_trailer)
        n = len(srtp)
        master = self._rx_key(srtp, n if self._aead else n - self._rtp_tag)
        if master.rtp_count >= master.rtp_limit:
            master.check_rtp()
        stream = self._rx.get(ssrc)
        if stream is None:
            index = seq  # a new stream starts at index 0, ROC 0 (libsrtp's rdbx)
        else:
            index = estimate_index(stream.highest, seq)
            stream.check(index)
        keys = master.rtp if master.rtp is not None else master.session_keys(0, index)
        return master, keys, hlen, ssrc, index, stream

    def _rx_commit(
        self, master: MasterKey, ssrc: int, index: int, stream: ReplayWindow | None
    ) -> None:
        if stream is None:
            stream = self._rx[ssrc] = ReplayWindow(self._window)
        stream.add(index)
        master.rtp_count += 1

    # -- SRTP: public ------------------------------------------------------

    def protect(self, rtp: bytes) -> bytes:
        """RTP packet in, SRTP packet out (§3.3)."""
        lane = self._tx_lane
        if lane is not None and type(rtp) is bytes:
            srtp = lane.protect(rtp)
            if srtp is not None:
                return srtp
        if self._fast:
            srtp = protect_one(
                rtp, self._tx_key, self._tx, self._window, self._allow_repeat_tx, self._rtp_tag
            )
            if lane is None and self._tx_lanes:
                ssrc = int.from_bytes(rtp[8:12], "big")
                master, stream = self._tx_key, self._tx[ssrc]
                self._tx_lane = (
                    GcmTxLane(master, ssrc, stream)
                    if self._aead
                    else TxLane(master, ssrc, stream, self._rtp_tag)
                )
            return srtp
        if type(rtp) is not bytes:
            rtp = as_bytes(rtp)
        master, keys, hlen, ssrc, index = self._tx_prepare(rtp)
        return seal_rtp(keys, rtp, hlen, ssrc, index, master.mki, self._rtp_tag)

    def unprotect(self, srtp: bytes) -> bytes:
        """SRTP packet in, RTP packet out (§3.3); raises an :class:`SrtpError` subclass."""
        lane = self._rx_lane
        if lane is not None and type(srtp) is bytes:
            rtp = lane.unprotect(srtp)
            if rtp is not None:
                return rtp
        if self._fast:
            rtp = unprotect_one(
                srtp, self._keys, self._mki_len, self._rx, self._window, self._rtp_tag, self._aead
            )
            if lane is None and self._rx_lanes:
                ssrc = int.from_bytes(srtp[8:12], "big")
                master, window = self._tx_key, self._rx[ssrc]
                self._rx_lane = (
                    GcmRxLane(master, ssrc, window)
                    if self._aead
                    else RxLane(master, ssrc, window, self._rtp_tag)
                )
            return rtp
        if type(srtp) is not bytes:
            srtp = as_bytes(srtp)
        master, keys, hlen, ssrc, index, stream = self._rx_prepare(srtp)
        rtp = open_rtp(keys, srtp, hlen, ssrc, index, self._mki_len, self._rtp_tag)
        self._rx_commit(master, ssrc, index, stream)
        return rtp

    def protect_many(self, packets: Sequence[Packet]) -> list[Result]:
        """:meth:`protect` for each packet, in order; AES-CM needs one AES call per batch.

        The result has one entry per packet: the SRTP packet, or the
        :class:`SrtpError` that packet raised (the others are unaffected).
        """
        if self._fast:
            if self._whole_batch:
                done = protect_uniform(packets, self._tx_key, self._tx, self._window, self._rtp_tag)
                if done is not None:
                    return list(done)
            return protect_rtp(
                packets, self._tx_key, self._tx, self._window, self._allow_repeat_tx, self._rtp_tag
            )
        results: list[Result] = []
        for rtp in packets:
            try:
                results.append(self.protect(rtp))  # type: ignore[arg-type]
            except SrtpError as exc:
                results.append(exc)
        return results

    def unprotect_many(self, packets: Sequence[Packet]) -> list[Result]:
        """:meth:`unprotect` for each packet, in order; AES-CM decrypts with one AES call.

        Tags are checked and state recorded packet by packet, so a forged or
        replayed packet is reported in its place and spoils nothing else.
        """
        if self._fast:
            if self._whole_batch and not self._mki_len:
                done = unprotect_uniform(
                    packets, self._tx_key, self._rx, self._window, self._rtp_tag
                )
                if done is not None:
                    return list(done)
            return unprotect_rtp(
                packets,
                self._keys,
                self._mki_len,
                self._rx,
                self._window,
                self._rtp_tag,
                self._aead,
            )
        results: list[Result] = []
        for srtp in packets:
            try:
                results.append(self.unprotect(srtp))  # type: ignore[arg-type]
            except SrtpError as exc:
                results.append(exc)
        return results

    # -- SRTCP (§3.4) --------------------------------------------------------

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        """RTCP compound packet in, SRTCP packet out; the SRTCP index counts per SSRC."""
        rtcp = as_bytes(rtcp)
        ssrc = parse_rtcp(rtcp)
        master = self._tx_key
        master.check_rtcp()
        index = self._tx_rtcp.get(ssrc, 0) + 1
        if index > 0x7FFFFFFF:
            raise SrtpKeyExhaustedError("the 31-bit SRTCP index is exhausted; re-key (§3.4)")
        self._tx_rtcp[ssrc] = index
        master.rtcp_count += 1
        keys = master.rtcp if master.rtcp is not None else master.session_keys(LABEL_RTCP, index)
        return seal_rtcp(self._profile, keys, rtcp, ssrc, index, self._rtcp_encrypt, master.mki)

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        """SRTCP packet in, RTCP packet out; honours the E flag of each packet."""
        srtcp = as_bytes(srtcp)
        p = self._profile
        ssrc, index, encrypted, _ = parse_srtcp(p, srtcp, self._mki_len)
        n = len(srtcp)
        master = self._rx_key(srtcp, n if p.aead else n - p.rtcp_tag_len)
        master.check_rtcp()
        window = self._rx_rtcp.get(ssrc)
        if window is not None:
            window.check(index)
        keys = master.rtcp if master.rtcp is not None else master.session_keys(LABEL_RTCP, index)
        rtcp = open_rtcp(p, keys, srtcp, ssrc, index, encrypted, self._mki_len)
        if window is None:
            window = self._rx_rtcp[ssrc] = ReplayWindow(self._window)
        window.add(index)
        master.rtcp_count += 1
        return rtcp
