"""Server nonces: stateless, bound to the server and time-limited; nonce counts.

A nonce is ``base64(timestamp || salt || HMAC-SHA256(secret, timestamp ||
salt || realm || bound)[:16])``: the time-stamp-plus-keyed-hash shape RFC
7616 §3.3 suggests, with the realm and caller-chosen data in place of the
ETag (which RFC 8760 §2.6 item 4 says does not work for SIP). Any process
holding the secret can check one, so several proxy processes serve one
domain without sharing nonce state; the salt keeps two nonces minted in the
same millisecond apart, so their nonce counts are tracked apart.

Nonce counts let a server see a replay: the same nc twice with one nonce
(RFC 7616 §3.4, the ``nc`` parameter). That needs state: :class:`NonceCounts`
keeps per nonce the highest nc seen and a bitmap of the ``window`` values
below it, so requests sent in parallel with one nonce may arrive out of
order. Memory is bounded; see :meth:`NonceCounts.check_and_record`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["NonceCountStore", "NonceCounts", "NonceFactory", "NonceState"]

_TS, _SALT, _MAC = 8, 9, 16
_RAW = _TS + _SALT + _MAC  # 33 bytes: 44 base64 characters, no padding
_MAX_FUTURE_MS = 5_000  # clocks of processes sharing a secret may differ this much


class NonceState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"  # ours, but too old: answer stale=true (RFC 7616 §3.3)
    INVALID = "invalid"  # not ours (forged, mangled, other realm or binding)


@dataclass(frozen=True, eq=False)  # identity: no early-exit == or hash of the secret
class NonceFactory:
    """Mints and checks nonces for one realm. ``now`` is wall-clock seconds.

    Wall clock, not monotonic: a nonce has to keep meaning the same thing in
    another process, or after a restart.
    """

    secret: bytes = field(repr=False)
    realm: str
    lifetime: float = 300.0
    random: Callable[[int], bytes] = field(default=os.urandom, repr=False)

    def _mac(self, head: bytes, bound: bytes) -> bytes:
        realm = self.realm.encode("utf-8")
        # Length-prefix the variable parts so (realm, bound) pairs cannot collide.
        message = b"%s%d:%s%d:%s" % (head, len(realm), realm, len(bound), bound)
        return hmac.new(self.secret, message, hashlib.sha256).digest()[:_MAC]

    def mint(self, now: float, bound: bytes = b"") -> str:
        """A fresh nonce; ``bound`` is anything it should only be valid with."""
        head = max(0, math.floor(now * 1000)).to_bytes(_TS, "big") + self.random(_SALT)
        return base64.b64encode(head + self._mac(head, bound)).decode("ascii")

    def check(self, nonce: str, now: float, bound: bytes = b"") -> NonceState:
        """Whether ``nonce`` is ours and still fresh. Constant-time on the MAC."""
        if len(nonce) != 44:
            return NonceState.INVALID
        try:
            raw = base64.b64decode(nonce.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return NonceState.INVALID
        head, mac = raw[: _TS + _SALT], raw[_TS + _SALT :]
        if not hmac.compare_digest(mac, self._mac(head, bound)):
            return NonceState.INVALID
        age_ms = now * 1000 - int.from_bytes(head[:_TS], "big")
        if age_ms < -_MAX_FUTURE_MS:
            return NonceState.INVALID
        return NonceState.EXPIRED if age_ms > self.lifetime * 1000 else NonceState.VALID

    def issued_at(self, nonce: str) -> float:
        """When a nonce that :meth:`check` accepted was minted (seconds)."""
        raw = base64.b64decode(nonce.encode("ascii"))
        return int.from_bytes(raw[:_TS], "big") / 1000


class NonceCountStore(Protocol):
    """Where nonce counts live. :class:`NonceCounts` keeps them in this process;
    proxies sharing one secret across processes can share a table behind the
    same two methods, or a replay to a sibling process goes unnoticed."""

    def check_and_record(self, nonce: str, issued_at: float, nc: int, now: float) -> bool: ...

    def __len__(self) -> int: ...


@dataclass
class _Seen:
    issued_at: float
    highest: int
    window: int  # bit i set: nc == highest - i was seen (bit 0 is highest itself)


class NonceCounts:
    """Replay detection by nonce count, in bounded memory.

    At most ``capacity`` nonces are tracked. Entries are dropped once their
    nonce has expired (they can no longer authenticate anything). When the
    table is full of live nonces, the oldest entry is dropped and its issue
    time raises a *horizon*: from then on any nonce issued at or before the
    horizon that we no longer track is refused as stale, never accepted
    again with a count we have forgotten. A flood can therefore only cost
    honest clients one extra round trip, never let a replay through.
    """

    def __init__(self, *, lifetime: float, capacity: int = 100_000, window: int = 64) -> None:
        if capacity < 1 or window < 1:
            raise ValueError("capacity and window must be positive")
        self._lifetime = lifetime
        self._capacity = capacity
        self._window = window
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._horizon = -math.inf

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        # Insertion order is first-use order, close to issue order: expiring
        # from the front is amortised O(1); stragglers go when they reach it.
        while self._seen:
            nonce, seen = next(iter(self._seen.items()))
            if now - seen.issued_at <= self._lifetime:
                break
            del self._seen[nonce]

    def check_and_record(self, nonce: str, issued_at: float, nc: int, now: float) -> bool:
        """True and remember ``nc`` if it is new for ``nonce``; False for a replay.

        Also False for a nonce older than the eviction horizon that is no
        longer tracked, and for nc values that fell out of the window.
        """
        self._expire(now)
        seen = self._seen.get(nonce)
        if seen is None:
            if issued_at <= self._horizon or nc < 1:
                return False
            if len(self._seen) >= self._capacity:
                _, evicted = self._seen.popitem(last=False)
                self._horizon = max(self._horizon, evicted.issued_at)
                if issued_at <= self._horizon:
                    return False
            self._seen[nonce] = _Seen(issued_at, nc, 1)
            return True
        if nc > seen.highest:
            shift = nc - seen.highest
            # nc may jump by up to 2**32: never shift further than the window.
            kept = seen.window << shift if shift < self._window else 0
            seen.window = (kept | 1) & ((1 << self._window) - 1)
            seen.highest = nc
            return True
        offset = seen.highest - nc
        if offset >= self._window or seen.window >> offset & 1:
            return False
        seen.window |= 1 << offset
        return True
