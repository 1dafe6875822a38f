"""One SQLite file holding the location service and the credentials: connection,
versioned schema, and the transaction discipline both stores use.

Why these settings:

- WAL journal: readers (the proxy looking up targets) never block the writer
  (the registrar), and several processes can share the file.
- ``synchronous=FULL`` by default: a committed REGISTER survives a power cut,
  not only a crash of the process ("survives a restart with nothing lost").
- Writes run in ``BEGIN IMMEDIATE``: the write lock is taken before the read
  that the write depends on, so two processes updating one AOR serialise
  instead of one failing with SQLITE_BUSY on lock upgrade, and no update is
  lost between the read and the write.
- ``PRAGMA user_version`` holds the schema version; migrations run once, in
  a write transaction, by whichever process opens the file first.
- Switching a new file to WAL is retried until ``timeout``: the switch reads
  the file and then needs its exclusive lock, and when two processes open a
  new file at once SQLite answers one of them SQLITE_BUSY at once, without
  calling the busy handler (it would deadlock waiting: "database is locked",
  seen as 1 start in ~30 of six processes racing, ``test_store_sqlite``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sipsec.proxy.store import StoreError

__all__ = ["SCHEMA_VERSION", "SqliteDatabase"]

_log = logging.getLogger("sipsec.proxy")

# Each entry upgrades the schema from version i to i + 1. Append, never edit.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE bindings (
            aor        TEXT    NOT NULL,
            contact    TEXT    NOT NULL,
            expires_at REAL    NOT NULL,
            call_id    TEXT    NOT NULL,
            cseq       INTEGER NOT NULL,
            q          REAL,
            path       TEXT    NOT NULL DEFAULT '[]',
            received   TEXT,
            instance   TEXT,
            PRIMARY KEY (aor, contact)
        ) WITHOUT ROWID""",
        "CREATE INDEX bindings_expiry ON bindings (expires_at)",
        """CREATE TABLE credentials (
            user      TEXT NOT NULL,
            realm     TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            ha1       TEXT NOT NULL,
            PRIMARY KEY (user, realm, algorithm)
        ) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)


def _create_private(path: str) -> None:
    """Create the store file 0600 before SQLite does (it would use the umask,
    0644 as a rule): it holds HA1s, each as good as a password (RFC 7616
    §5.4). SQLite gives its -wal and -shm files the database's mode. A file
    that exists is left as it is, with a warning when others can read it."""
    if path in ("", ":memory:"):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return  # gone again, or unreadable: sqlite3.connect says why
        if stat.S_ISREG(mode) and mode & 0o077:
            _log.warning(
                "store %r is open to other users (mode %o): chmod 600 it", path, mode & 0o777
            )
    except OSError as exc:
        raise StoreError(f"cannot open store {path!r}: {exc.strerror}") from exc


class SqliteDatabase:
    """A connection to one store file, safe to share between threads of a process.

    ``timeout`` is how long a writer waits for another process's write lock
    before the operation fails with :class:`StoreError` (the registrar's 500).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 10.0, durable: bool = True
    ) -> None:
        self.path = os.fspath(path)
        self._timeout = timeout
        self._lock = threading.RLock()
        _create_private(self.path)
        try:
            # isolation_level=None: no implicit transactions; we issue BEGIN ourselves.
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path!r}: {exc}") from exc
        try:
            self._configure(durable)
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _configure(self, durable: bool) -> None:
        try:
            mode = self._journal_wal()
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"store {self.path!r} cannot use WAL (journal_mode={mode})")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot configure store {self.path!r}: {exc}") from exc

    def _journal_wal(self) -> object:
        """``PRAGMA journal_mode=WAL``, retried while another process holds
        the lock it needs, up to ``timeout`` (see the module docstring)."""
        deadline = time.monotonic() + self._timeout
        pause = 0.002
        while True:
            try:
                return self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                # SQLITE_BUSY / SQLITE_LOCKED (and their extended codes) only:
                # anything else is not a race and is reported at once
                busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _migrate(self) -> None:
        with self.write() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path!r} has schema version {version}; "
                    f"this sipsec knows up to {SCHEMA_VERSION}"
                )
            for step in _MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            if version != SCHEMA_VERSION:
                # An integer we produced ourselves, so formatting it in is safe;
                # PRAGMA does not take bound parameters.
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION:d}")

    @property
    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed if the block returns, rolled back if it raises.

        Exceptions from the block pass through unchanged (a rule violation
        stays a protocol error); SQLite failures become :class:`StoreError`.
        """
        with self._lock:
            self._begin("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"write to store {self.path!r} failed: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            self._commit()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for the whole block."""
        with self._lock:
            self._begin("BEGIN")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(f"read from store {self.path!r} failed: {exc}") from exc
            finally:
                self._rollback()

    def _begin(self, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path!r} is unavailable: {exc}") from exc

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"commit to store {self.path!r} failed: {exc}") from exc

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - the connection is already broken
                pass

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SqliteDatabase({self.path!r})"
