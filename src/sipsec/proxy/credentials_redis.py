"""The credential store in Redis, so that every proxy of a domain authenticates
against one set of users.

Keys, under the prefix (default ``sipsec:``):

- ``cred:u:<json [realm, user]>`` — a hash, algorithm token -> HA1.
- ``cred:index`` — a set of the ``<json [realm, user]>`` names, for listing
  without scanning the keyspace.

JSON in the key name keeps any realm and user apart unambiguously (a realm
may contain ``:`` or ``@``).
"""

from __future__ import annotations

import json

import redis

from sipsec.proxy.credentials import (
    Credential,
    InvalidCredential,
    check_key,
    sort_credentials,
)
from sipsec.proxy.store import StoreError, check_text
from sipsec.proxy.store_redis import connect, redis_errors, transaction

__all__ = ["RedisCredentialStore"]


def _name(user: str, realm: str) -> bytes:
    return json.dumps([realm, user], ensure_ascii=False).encode("utf-8")


def _decode(user: str, realm: str, raw: dict[bytes, bytes]) -> Credential:
    try:
        ha1 = {bytes(a).decode("ascii"): bytes(v).decode("ascii") for a, v in raw.items()}
        return Credential(user, realm, ha1)
    except (UnicodeDecodeError, TypeError, InvalidCredential) as exc:
        raise StoreError(f"corrupt credential in Redis for user {user!r}") from exc


class RedisCredentialStore:
    """:class:`~sipsec.proxy.credentials.CredentialStore` on Redis."""

    def __init__(self, client: redis.Redis | str, *, prefix: str = "sipsec:") -> None:
        self._owned = isinstance(client, str)
        self._client = connect(client) if isinstance(client, str) else client
        self._prefix = prefix.encode("utf-8")
        self._index = self._prefix + b"cred:index"

    def _key(self, name: bytes) -> bytes:
        return self._prefix + b"cred:u:" + name

    def put(self, credential: Credential, *, overwrite: bool = True) -> bool:
        if not isinstance(credential, Credential):
            raise InvalidCredential("put() takes a Credential")
        name = _name(credential.user, credential.realm)
        key = self._key(name)

        def body(pipe: redis.client.Pipeline) -> bool:
            if not overwrite and pipe.exists(key):
                return False
            pipe.multi()
            pipe.delete(key)
            pipe.hset(key, mapping={a.encode(): h.encode() for a, h in credential.ha1.items()})
            pipe.sadd(self._index, name)
            return True

        return transaction(self._client, [key], body)

    def get(self, user: str, realm: str) -> Credential | None:
        user, realm = check_key(user, realm)
        with redis_errors("get"):
            raw = self._client.hgetall(self._key(_name(user, realm)))
        return _decode(user, realm, raw) if raw else None  # type: ignore[arg-type]

    def remove(self, user: str, realm: str) -> bool:
        user, realm = check_key(user, realm)
        name = _name(user, realm)
        with redis_errors("remove"), self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(name))
            pipe.srem(self._index, name)
            deleted, _ = pipe.execute()
        return bool(deleted)

    def users(self, realm: str | None = None) -> list[Credential]:
        if realm is not None:
            check_text(realm, "realm", InvalidCredential, limit=256)
        with redis_errors("list"):
            names = sorted(self._client.smembers(self._index))
            wanted: list[tuple[str, str]] = []
            for raw_name in names:
                try:
                    entry_realm, entry_user = json.loads(raw_name)
                except (ValueError, TypeError) as exc:
                    raise StoreError("corrupt entry in the Redis credential index") from exc
                if realm is None or entry_realm == realm:
                    wanted.append((str(entry_user), str(entry_realm)))
            with self._client.pipeline(transaction=False) as pipe:
                for user, user_realm in wanted:
                    pipe.hgetall(self._key(_name(user, user_realm)))
                hashes = pipe.execute()
        # A user removed between SMEMBERS and HGETALL has an empty hash: skip it.
        return sort_credentials(
            _decode(user, user_realm, raw)
            for (user, user_realm), raw in zip(wanted, hashes, strict=True)
            if raw
        )

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> RedisCredentialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisCredentialStore(prefix={self._prefix.decode('utf-8')!r})"
