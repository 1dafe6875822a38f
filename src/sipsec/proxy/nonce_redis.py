"""Nonce counts in Redis, so that a replay sent to a sibling process is caught.

Nonces are stateless: any proxy process holding the domain's secret accepts
a nonce another one minted. Nonce counts are not (RFC 7616 §3.4: the server
"SHOULD" remember each nonce's ``nc`` values to refuse a replayed request);
with the in-process :class:`sipsec.auth.NonceCounts`, a request accepted by
process A and replayed verbatim to process B on the same Redis would be
accepted twice. :class:`RedisNonceCounts` keeps the table in Redis instead,
behind the same :class:`sipsec.auth.NonceCountStore` protocol.

One Redis set per nonce, ``<prefix>nc:<nonce>``, holds the ``nc`` values
seen. A Lua script tests and adds in one step (Redis runs a script
atomically, so two processes racing on one (nonce, nc) cannot both win) and
sets the key to expire when the nonce does: after that the nonce is refused
as stale before its counts are ever asked for, so the key is garbage.
Memory is bounded by nonces live in the last lifetime times ``per_nonce``
counts each; a client that reaches ``per_nonce`` is refused and gets a fresh
nonce (one extra round trip), never a replay let through.
"""

from __future__ import annotations

import redis
from redis.commands.core import Script

from sipsec.proxy.store import StoreError
from sipsec.proxy.store_redis import connect, redis_errors

__all__ = ["RedisNonceCounts"]

# KEYS[1] the nonce's set; ARGV: nc, time to live (ms), per-nonce cap.
# 1: new, recorded; 0: seen before (a replay) or the nonce's cap is reached.
_CHECK_AND_RECORD = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisNonceCounts:
    """:class:`sipsec.auth.NonceCountStore` on Redis (see the module docstring).

    ``lifetime`` must be the nonce lifetime of the
    :class:`~sipsec.auth.DigestServer` using it (``ProxyConfig.nonce_lifetime``).
    """

    def __init__(
        self,
        client: redis.Redis | str,
        *,
        lifetime: float,
        prefix: str = "sipsec:",
        per_nonce: int = 10_000,
    ) -> None:
        if lifetime <= 0 or per_nonce < 1:
            raise ValueError("lifetime and per_nonce must be positive")
        self._owned = isinstance(client, str)
        self._client = connect(client) if isinstance(client, str) else client
        self._prefix = prefix.encode("utf-8") + b"nc:"
        self._lifetime = lifetime
        self._per_nonce = per_nonce
        self._script: Script = self._client.register_script(_CHECK_AND_RECORD)

    def __repr__(self) -> str:
        return f"RedisNonceCounts(prefix={self._prefix.decode('utf-8', 'replace')!r})"

    def check_and_record(self, nonce: str, issued_at: float, nc: int, now: float) -> bool:
        """True and remember ``nc`` if no process has seen it for ``nonce``.

        False for a replay, for ``nc < 1``, for a nonce already past its
        lifetime (nothing to record: it is refused as stale anyway) and
        once the nonce has used ``per_nonce`` counts.
        """
        if nc < 1:
            return False
        # Relative expiry, computed from our clock: the Redis host's clock
        # need not agree with ours, and the nonce's age is ours to judge.
        ttl_ms = int((issued_at + self._lifetime - now) * 1000)
        if ttl_ms <= 0:
            return False
        key = self._prefix + nonce.encode("utf-8", "surrogatepass")
        with redis_errors("nonce count"):
            result = self._script(keys=[key], args=[nc, ttl_ms, self._per_nonce])
        if result not in (0, 1):
            raise StoreError(f"unexpected nonce count answer from Redis: {result!r}")
        return bool(result == 1)

    def __len__(self) -> int:
        """How many nonces are tracked (a SCAN of our keys: for stats, not per request)."""
        with redis_errors("nonce count scan"):
            return sum(1 for _ in self._client.scan_iter(match=self._prefix + b"*", count=1000))

    def close(self) -> None:
        """Close the connection pool if we opened it from a URL."""
        if self._owned:
            self._client.close()
