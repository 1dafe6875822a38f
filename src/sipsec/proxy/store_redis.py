"""What the Redis stores share: connecting, key names, error mapping, and the
optimistic transaction (``WATCH`` / ``MULTI`` / ``EXEC``) both use for atomicity.

Several proxy processes or machines point at one Redis and see one view of
the domain (issue 7: "Redis is the scale-out backend"). An update reads the
keys it depends on under ``WATCH``, computes the new value in Python with the
same pure rules as every other backend, and writes it in ``MULTI``/``EXEC``;
if another client touched a watched key in between, ``EXEC`` fails and the
update runs again on the fresh data. No update is lost and none is half done.

``redis`` (redis-py) is imported here only, so the rest of sipsec works
without it installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import redis
from redis.exceptions import RedisError, WatchError

from sipsec.proxy.store import StoreError

__all__ = ["RedisClient", "connect", "redis_errors", "transaction"]

RedisClient = redis.Redis
T = TypeVar("T")

# Retries of one optimistic transaction before giving up with StoreError.
# Each retry means another writer committed on the same key, so progress is
# being made; only a pathological hot key exhausts this.
_MAX_RETRIES = 100


def connect(url: str) -> redis.Redis:
    """A client for ``redis://host:port/db`` (bytes in and out; we decode ourselves)."""
    try:
        client = redis.Redis.from_url(url, decode_responses=False)
        client.ping()
    except (RedisError, ValueError) as exc:
        raise StoreError(f"cannot reach Redis at {_safe_url(url)}: {exc}") from exc
    return client


def _safe_url(url: str) -> str:
    # A redis:// URL may carry a password; never echo it into an error or a log.
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else "<redis url>"


@contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """Turn any redis-py failure inside the block into :class:`StoreError`."""
    try:
        yield
    except WatchError:
        raise
    except RedisError as exc:
        raise StoreError(f"Redis {what} failed: {exc}") from exc


def transaction(
    client: redis.Redis, keys: list[bytes], body: Callable[[redis.client.Pipeline], T]
) -> T:
    """Run ``body`` under ``WATCH keys`` until its ``MULTI``/``EXEC`` commits.

    ``body`` reads through the pipeline (immediate mode while watching),
    raises to abort with nothing written, or calls ``pipe.multi()`` and queues
    its writes; we execute them. Its return value is ours.
    """
    with redis_errors("transaction"):
        for _ in range(_MAX_RETRIES):
            with client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(*keys)  # type: ignore[no-untyped-call]
                    result = body(pipe)
                    pipe.execute()
                except WatchError:
                    continue
                return result
    raise StoreError(f"Redis transaction did not commit after {_MAX_RETRIES} retries")
