"""The credential store in SQLite, sharing the file (and its schema) with the
location service: one row per (user, realm, algorithm) holding that HA1.
"""

from __future__ import annotations

import os

from sipsec.proxy.credentials import (
    Credential,
    InvalidCredential,
    check_key,
    sort_credentials,
)
from sipsec.proxy.store import StoreError, check_text
from sipsec.proxy.store_sqlite import SqliteDatabase

__all__ = ["SqliteCredentialStore"]


def _group(rows: list[tuple[object, ...]]) -> list[Credential]:
    """Rows of (user, realm, algorithm, ha1) folded into one Credential per user."""
    grouped: dict[tuple[str, str], dict[str, str]] = {}
    for user, realm, algorithm, ha1 in rows:
        if not all(isinstance(v, str) for v in (user, realm, algorithm, ha1)):
            raise StoreError("corrupt credential row: column of the wrong type")
        grouped.setdefault((str(user), str(realm)), {})[str(algorithm)] = str(ha1)
    try:
        return sort_credentials(Credential(u, r, ha1) for (u, r), ha1 in grouped.items())
    except InvalidCredential as exc:
        raise StoreError(f"corrupt credential row: {exc.reason}") from exc


class SqliteCredentialStore:
    """:class:`~sipsec.proxy.credentials.CredentialStore` on a SQLite file.

    Pass a path (the store opens and owns the file) or an open
    :class:`SqliteDatabase` shared with the location store.
    """

    def __init__(self, database: SqliteDatabase | str | os.PathLike[str]) -> None:
        self._owned = not isinstance(database, SqliteDatabase)
        self._db = database if isinstance(database, SqliteDatabase) else SqliteDatabase(database)

    def put(self, credential: Credential, *, overwrite: bool = True) -> bool:
        if not isinstance(credential, Credential):
            raise InvalidCredential("put() takes a Credential")
        key = (credential.user, credential.realm)
        with self._db.write() as conn:
            exists = conn.execute(
                "SELECT 1 FROM credentials WHERE user = ? AND realm = ? LIMIT 1", key
            ).fetchone()
            if exists and not overwrite:
                return False
            conn.execute("DELETE FROM credentials WHERE user = ? AND realm = ?", key)
            conn.executemany(
                "INSERT INTO credentials (user, realm, algorithm, ha1) VALUES (?, ?, ?, ?)",
                [(*key, algorithm, ha1) for algorithm, ha1 in credential.ha1.items()],
            )
        return True

    def get(self, user: str, realm: str) -> Credential | None:
        key = check_key(user, realm)
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT user, realm, algorithm, ha1 FROM credentials WHERE user = ? AND realm = ?",
                key,
            ).fetchall()
        found = _group(rows)
        return found[0] if found else None

    def remove(self, user: str, realm: str) -> bool:
        key = check_key(user, realm)
        with self._db.write() as conn:
            deleted = conn.execute(
                "DELETE FROM credentials WHERE user = ? AND realm = ?", key
            ).rowcount
        return deleted > 0

    def users(self, realm: str | None = None) -> list[Credential]:
        with self._db.read() as conn:
            if realm is None:
                rows = conn.execute("SELECT user, realm, algorithm, ha1 FROM credentials")
            else:
                check_text(realm, "realm", InvalidCredential, limit=256)
                rows = conn.execute(
                    "SELECT user, realm, algorithm, ha1 FROM credentials WHERE realm = ?",
                    (realm,),
                )
            return _group(rows.fetchall())

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def __enter__(self) -> SqliteCredentialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteCredentialStore({self._db.path!r})"
