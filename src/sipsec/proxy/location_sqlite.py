"""The location service in SQLite: the embedded default (DESIGN.md, issue 7).

One row per binding. A REGISTER reads the AOR's rows and rewrites them inside
one ``BEGIN IMMEDIATE`` transaction (see :mod:`sipsec.proxy.store_sqlite`), so
§10.3 step 8's "all or nothing" holds across threads and processes that share
the file, and a committed binding survives a restart.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable

from sipsec.errors import LocalProtocolError
from sipsec.proxy.location import (
    DEFAULT_POLICY,
    Binding,
    BindingPolicy,
    RegisterUpdate,
    normalize_aor,
)
from sipsec.proxy.location_rules import plan_register, prepare_register, sorted_bindings
from sipsec.proxy.store import StoreError, check_finite_time
from sipsec.proxy.store_sqlite import SqliteDatabase

__all__ = ["SqliteLocationStore"]

# Whole statements as constants: nothing is ever formatted into SQL.
_SELECT_AOR = (
    "SELECT aor, contact, expires_at, call_id, cseq, q, path, received, instance"
    " FROM bindings WHERE aor = ?"
)
_SELECT_LIVE = _SELECT_AOR + " AND expires_at > ?"
_INSERT = (
    "INSERT INTO bindings (aor, contact, expires_at, call_id, cseq, q, path, received, instance)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _from_row(row: tuple[object, ...]) -> Binding:
    aor, contact, expires_at, call_id, cseq, q, path, received, instance = row
    try:
        hops = json.loads(str(path))
        if not isinstance(hops, list) or not all(isinstance(h, str) for h in hops):
            raise TypeError("path is not a list of strings")
        if not (
            isinstance(aor, str)
            and isinstance(contact, str)
            and isinstance(expires_at, float | int)
            and isinstance(call_id, str)
            and isinstance(cseq, int)
            and (q is None or isinstance(q, float | int))
            and (received is None or isinstance(received, str))
            and (instance is None or isinstance(instance, str))
        ):
            raise TypeError("column of the wrong type")
    except (ValueError, TypeError) as exc:
        # Someone edited the file by hand, or a bug wrote garbage: say so, do not guess.
        raise StoreError(f"corrupt binding row: {exc}") from exc
    return Binding(
        aor=aor,
        contact=contact,
        expires_at=float(expires_at),
        call_id=call_id,
        cseq=cseq,
        q=None if q is None else float(q),
        path=tuple(hops),
        received=received,
        instance=instance,
    )


def _to_row(binding: Binding) -> tuple[object, ...]:
    return (
        binding.aor,
        binding.contact,
        binding.expires_at,
        binding.call_id,
        binding.cseq,
        binding.q,
        json.dumps(list(binding.path)),
        binding.received,
        binding.instance,
    )


class SqliteLocationStore:
    """:class:`~sipsec.proxy.location.LocationStore` on a SQLite file.

    Pass a path (the store opens and owns the file) or an open
    :class:`SqliteDatabase` shared with a credential store.
    """

    def __init__(self, database: SqliteDatabase | str | os.PathLike[str]) -> None:
        self._owned = not isinstance(database, SqliteDatabase)
        self._db = database if isinstance(database, SqliteDatabase) else SqliteDatabase(database)

    def _select(self, conn: sqlite3.Connection, aor: str) -> Iterable[Binding]:
        rows = conn.execute(_SELECT_AOR, (aor,))
        return [_from_row(row) for row in rows]

    def register(
        self, aor: str, update: RegisterUpdate, now: float, policy: BindingPolicy = DEFAULT_POLICY
    ) -> list[Binding]:
        key, update, now, policy = prepare_register(aor, update, now, policy)
        with self._db.write() as conn:
            result = plan_register(key, self._select(conn, key), update, now, policy)
            conn.execute("DELETE FROM bindings WHERE aor = ?", (key,))
            conn.executemany(
                _INSERT,
                [_to_row(b) for b in result],
            )
        return result

    def lookup(self, aor: str, now: float) -> list[Binding]:
        key = normalize_aor(aor)
        now = check_finite_time(now, LocalProtocolError)
        with self._db.read() as conn:
            rows = conn.execute(_SELECT_LIVE, (key, now))
            return sorted_bindings(_from_row(row) for row in rows)

    def purge(self, now: float) -> int:
        now = check_finite_time(now, LocalProtocolError)
        with self._db.write() as conn:
            return conn.execute("DELETE FROM bindings WHERE expires_at <= ?", (now,)).rowcount

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def __enter__(self) -> SqliteLocationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteLocationStore({self._db.path!r})"
