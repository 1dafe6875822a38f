"""The location service in Redis: the scale-out backend (issue 7).

Keys, under a configurable prefix (default ``sipsec:``):

- ``loc:b:<aor>`` — a hash, contact URI -> the binding as JSON.
- ``loc:due`` — a sorted set, AOR -> its earliest ``expires_at``: the purge
  finds expired bindings without scanning the keyspace.

Expiry is by the injected ``now`` compared with stored timestamps, exactly as
in the other backends (so every process agrees on what is live whatever the
Redis server's clock says). As a safety net, each hash also carries a Redis
TTL of its longest remaining lifetime plus ``ttl_grace`` seconds, so
abandoned registrations disappear even if no purge ever runs.
"""

from __future__ import annotations

import json
import math

import redis

from sipsec.errors import LocalProtocolError
from sipsec.proxy.location import (
    DEFAULT_POLICY,
    Binding,
    BindingPolicy,
    RegisterUpdate,
    normalize_aor,
)
from sipsec.proxy.location_rules import live_bindings, plan_register, prepare_register
from sipsec.proxy.store import StoreError, check_finite_time
from sipsec.proxy.store_redis import connect, redis_errors, transaction

__all__ = ["RedisLocationStore"]

_PURGE_BATCH = 500


def _encode(binding: Binding) -> bytes:
    return json.dumps(
        [
            binding.aor,
            binding.contact,
            binding.expires_at,
            binding.call_id,
            binding.cseq,
            binding.q,
            list(binding.path),
            binding.received,
            binding.instance,
        ],
        separators=(",", ":"),
    ).encode("utf-8")


def _decode(raw: object) -> Binding:
    try:
        if not isinstance(raw, bytes):
            raise TypeError("not bytes")
        aor, contact, expires_at, call_id, cseq, q, path, received, instance = json.loads(raw)
        binding = Binding(
            aor=str(aor),
            contact=str(contact),
            expires_at=float(expires_at),
            call_id=str(call_id),
            cseq=int(cseq),
            q=None if q is None else float(q),
            path=tuple(str(hop) for hop in path),
            received=None if received is None else str(received),
            instance=None if instance is None else str(instance),
        )
    except (ValueError, TypeError) as exc:
        raise StoreError(f"corrupt binding in Redis: {exc}") from exc
    return binding


class RedisLocationStore:
    """:class:`~sipsec.proxy.location.LocationStore` on Redis.

    Pass a ``redis.Redis`` client (shared with other stores) or a
    ``redis://`` URL.
    """

    def __init__(
        self, client: redis.Redis | str, *, prefix: str = "sipsec:", ttl_grace: int = 3600
    ) -> None:
        self._owned = isinstance(client, str)
        self._client = connect(client) if isinstance(client, str) else client
        self._prefix = prefix.encode("utf-8")
        self._due = self._prefix + b"loc:due"
        self._ttl_grace = ttl_grace

    def _key(self, aor: str) -> bytes:
        return self._prefix + b"loc:b:" + aor.encode("utf-8")

    def _rewrite(
        self, pipe: redis.client.Pipeline, aor: str, result: list[Binding], now: float
    ) -> None:
        """Queue the writes that make ``aor``'s hash and due entry match ``result``."""
        key = self._key(aor)
        pipe.multi()
        pipe.delete(key)
        if result:
            pipe.hset(key, mapping={b.contact.encode("utf-8"): _encode(b) for b in result})
            pipe.zadd(self._due, {aor.encode("utf-8"): min(b.expires_at for b in result)})
            longest = max(b.expires_at for b in result) - now
            pipe.expire(key, math.ceil(longest) + self._ttl_grace)
        else:
            pipe.zrem(self._due, aor.encode("utf-8"))

    def _stored(self, pipe: redis.client.Pipeline | redis.Redis, aor: str) -> list[Binding]:
        return [_decode(raw) for raw in pipe.hgetall(self._key(aor)).values()]

    def register(
        self, aor: str, update: RegisterUpdate, now: float, policy: BindingPolicy = DEFAULT_POLICY
    ) -> list[Binding]:
        key, update, now, policy = prepare_register(aor, update, now, policy)

        def body(pipe: redis.client.Pipeline) -> list[Binding]:
            result = plan_register(key, self._stored(pipe, key), update, now, policy)
            self._rewrite(pipe, key, result, now)
            return result

        return transaction(self._client, [self._key(key)], body)

    def lookup(self, aor: str, now: float) -> list[Binding]:
        key = normalize_aor(aor)
        now = check_finite_time(now, LocalProtocolError)
        with redis_errors("lookup"):
            return live_bindings(self._stored(self._client, key), now)

    def _purge_aor(self, aor: str, now: float) -> int:
        def body(pipe: redis.client.Pipeline) -> int:
            stored = self._stored(pipe, aor)
            kept = live_bindings(stored, now)
            self._rewrite(pipe, aor, kept, now)
            return len(stored) - len(kept)

        # Only the AOR's hash is watched: ``loc:due`` follows from it, and
        # watching that shared set would make every REGISTER abort the purge.
        return transaction(self._client, [self._key(aor)], body)

    def purge(self, now: float) -> int:
        now = check_finite_time(now, LocalProtocolError)
        removed = 0
        while True:
            with redis_errors("purge"):
                due = self._client.zrangebyscore(self._due, "-inf", now, start=0, num=_PURGE_BATCH)
            if not due:
                return removed
            for member in due:
                # Canonical AORs are ASCII (normalize_aor escapes the rest).
                if not isinstance(member, bytes) or not member.isascii():
                    raise StoreError("corrupt member in the Redis due set")
                removed += self._purge_aor(member.decode("ascii"), now)

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> RedisLocationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisLocationStore(prefix={self._prefix.decode('utf-8')!r})"
