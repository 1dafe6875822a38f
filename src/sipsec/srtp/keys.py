"""Master keys: MKI, key lifetime and the session keys derived from them.

RFC 3711 §3.2.1 keeps per master key its MKI, the packet counts against the
key lifetime (§9.2: at most 2^48 SRTP and 2^31 SRTCP packets) and, with a
non-zero key derivation rate, the session keys of the current epoch
``r = index DIV key_derivation_rate`` (§4.3.1).
"""

from __future__ import annotations

from sipsec.srtp.errors import SrtpKeyExhaustedError
from sipsec.srtp.kdf import LABEL_RTCP, LABEL_RTP, SessionKeys
from sipsec.srtp.profiles import Profile

__all__ = ["SRTCP_LIFETIME", "SRTP_LIFETIME", "MasterKey"]

SRTP_LIFETIME = 1 << 48
SRTCP_LIFETIME = 1 << 31
# Epochs kept per direction: the current one and a few behind it, for
# packets that arrive late across a re-keying boundary.
_EPOCHS_KEPT = 4


class MasterKey:
    """One master key and salt with its MKI, counters and session-key cache."""

    __slots__ = (
        "_epochs",
        "_key",
        "_profile",
        "_salt",
        "kdr_shift",
        "mki",
        "rtcp",
        "rtcp_count",
        "rtcp_limit",
        "rtp",
        "rtp_count",
        "rtp_limit",
    )

    def __init__(
        self,
        profile: Profile,
        key: bytes,
        mki: bytes,
        *,
        kdr_shift: int,
        rtp_limit: int,
        rtcp_limit: int,
    ) -> None:
        self._profile = profile
        self._key = key[: profile.key_len]
        self._salt = key[profile.key_len :]
        self.mki = mki
        # -1: key derivation rate 0, session keys derived once (§4.3.1, r = 0).
        self.kdr_shift = kdr_shift
        self.rtp_limit = rtp_limit
        self.rtcp_limit = rtcp_limit
        self.rtp_count = 0
        self.rtcp_count = 0
        self._epochs: dict[tuple[int, int], SessionKeys] = {}
        # Fast path for rate 0: the one pair of session keys.
        self.rtp: SessionKeys | None = None
        self.rtcp: SessionKeys | None = None
        if kdr_shift < 0:
            self.rtp = self.session_keys(LABEL_RTP, 0)
            self.rtcp = self.session_keys(LABEL_RTCP, 0)

    def session_keys(self, label: int, index: int) -> SessionKeys:
        """The session keys for packet ``index`` (SRTP or SRTCP by ``label``)."""
        r = 0 if self.kdr_shift < 0 else index >> self.kdr_shift
        keys = self._epochs.get((label, r))
        if keys is None:
            keys = SessionKeys.derive(self._profile, self._key, self._salt, label, r)
            if len(self._epochs) >= 2 * _EPOCHS_KEPT:
                del self._epochs[next(iter(self._epochs))]
            self._epochs[(label, r)] = keys
        return keys

    def check_rtp(self) -> None:
        if self.rtp_count >= self.rtp_limit:
            raise SrtpKeyExhaustedError(
                f"master key has reached its lifetime of {self.rtp_limit} SRTP packets"
            )

    def check_rtcp(self) -> None:
        if self.rtcp_count >= self.rtcp_limit:
            raise SrtpKeyExhaustedError(
                f"master key has reached its lifetime of {self.rtcp_limit} SRTCP packets"
            )

    def __repr__(self) -> str:
        return f"MasterKey(mki={self.mki.hex()!r}, <redacted>)"
