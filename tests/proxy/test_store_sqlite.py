"""The SQLite file itself: WAL, versioned schema, corrupt data, several processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sipsec.proxy import (
    ContactUpdate,
    RegisterUpdate,
    SqliteCredentialStore,
    SqliteDatabase,
    SqliteLocationStore,
    StoreError,
    make_credential,
)
from sipsec.proxy.store_sqlite import SCHEMA_VERSION

AOR = "sip:alice@atlanta.example"


def test_new_file_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteLocationStore(path).close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    finally:
        raw.close()


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteLocationStore(path) as store:
        store.register(AOR, RegisterUpdate("c", 1, (ContactUpdate("sip:a@h"),)), 0.0)
    db = SqliteDatabase(path)
    assert db.schema_version == SCHEMA_VERSION
    location = SqliteLocationStore(db)
    credentials = SqliteCredentialStore(db)  # one file, one connection, both stores
    credentials.put(make_credential("alice", "atlanta.example", "pw"))
    assert len(location.lookup(AOR, 0.0)) == 1
    location.close()
    credentials.close()
    assert len(SqliteLocationStore(db).lookup(AOR, 0.0)) == 1  # the shared db stays open
    db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteLocationStore(path)


def test_unopenable_and_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        SqliteLocationStore(tmp_path / "no" / "such" / "dir" / "s.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an sqlite file at all" * 100)
    with pytest.raises(StoreError):
        SqliteCredentialStore(junk)


def test_corrupt_rows_are_store_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteLocationStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(
        "INSERT INTO bindings VALUES (?, 'sip:x@h', 99.0, 'c', 1, NULL, 'not json', NULL, NULL)",
        (AOR,),
    )
    raw.execute("INSERT INTO credentials VALUES ('bob', 'r', 'MD5', 'not hex')")
    raw.commit()
    raw.close()
    with SqliteLocationStore(path) as store:
        with pytest.raises(StoreError, match="corrupt"):
            store.lookup(AOR, 0.0)
        with pytest.raises(StoreError, match="corrupt"):
            store.register(AOR, RegisterUpdate("c", 2, ()), 0.0)
    with SqliteCredentialStore(path) as creds, pytest.raises(StoreError, match="corrupt"):
        creds.get("bob", "r")


def test_a_failed_rule_rolls_back(tmp_path: Path) -> None:
    """§10.3 step 8: a request that fails half-way leaves no trace in the file."""
    path = tmp_path / "s.db"
    with SqliteLocationStore(path) as store:
        store.register(AOR, RegisterUpdate("c", 5, (ContactUpdate("sip:b@h"),)), 0.0)
        with pytest.raises(Exception, match="not higher"):
            # The first contact is new and fine; the second breaks the CSeq rule.
            store.register(
                AOR,
                RegisterUpdate("c", 5, (ContactUpdate("sip:a@h"), ContactUpdate("sip:b@h"))),
                0.0,
            )
    with SqliteLocationStore(path) as store:
        assert [b.contact for b in store.lookup(AOR, 0.0)] == ["sip:b@h"]


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = SqliteLocationStore(tmp_path / "s.db")
    store.close()
    with pytest.raises(StoreError):
        store.lookup(AOR, 0.0)


WORKER = textwrap.dedent(
    """
    import sys
    from sipsec.proxy import BindingPolicy, ContactUpdate, RegisterUpdate, SqliteLocationStore
    path, n, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = SqliteLocationStore(path)
    policy = BindingPolicy(max_bindings=1000)
    for i in range(count):
        update = RegisterUpdate(f"proc-{n}", i + 1, (ContactUpdate(f"sip:p{n}-{i}@h"),))
        store.register("sip:alice@atlanta.example", update, 0.0, policy)
    store.close()
    """
)


def test_several_processes_on_one_file(tmp_path: Path) -> None:
    """Four processes create one file and register into one AOR at once: nothing is lost."""
    path = tmp_path / "shared.db"
    # No store has opened the file yet: the processes also race to create the schema.
    processes, count = 4, 25
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(n), str(count)])
        for n in range(processes)
    ]
    assert [p.wait(120) for p in procs] == [0] * processes
    with SqliteLocationStore(path) as store:
        contacts = {b.contact for b in store.lookup(AOR, 0.0)}
    assert contacts == {f"sip:p{n}-{i}@h" for n in range(processes) for i in range(count)}


class _Refusing:
    """A connection whose first ``refusals`` statements fail with ``code``
    (SQLite's answer to the second of two processes switching a new file to
    WAL at once: SQLITE_BUSY without the busy handler), then pass through."""

    def __init__(self, conn: sqlite3.Connection, refusals: int, code: int) -> None:
        self.conn, self.refusals, self.code, self.calls = conn, refusals, code, 0

    def execute(self, sql: str) -> sqlite3.Cursor:
        self.calls += 1
        if self.calls <= self.refusals:
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode = self.code
            raise exc
        return self.conn.execute(sql)


@pytest.mark.parametrize("code", [sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, 261])
def test_the_wal_switch_is_retried_while_another_process_holds_the_file(
    tmp_path: Path, code: int
) -> None:
    db = SqliteDatabase(tmp_path / "s.db")
    refusing = _Refusing(db._conn, 3, code)  # 261: SQLITE_BUSY_RECOVERY, an extended code
    db._conn = refusing  # type: ignore[assignment]
    assert str(db._journal_wal()).lower() == "wal"
    assert refusing.calls == 4
    db._conn = refusing.conn
    db.close()


def test_the_wal_switch_gives_up_at_the_timeout(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "s.db", timeout=0.05)
    refusing = _Refusing(db._conn, 10**9, sqlite3.SQLITE_BUSY)
    db._conn = refusing  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        db._journal_wal()
    assert 2 <= refusing.calls < 10**9  # retried, then stopped
    db._conn = refusing.conn
    db.close()


def test_the_wal_switch_reports_other_errors_at_once(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "s.db")
    refusing = _Refusing(db._conn, 1, sqlite3.SQLITE_IOERR)
    db._conn = refusing  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        db._journal_wal()
    assert refusing.calls == 1
    db._conn = refusing.conn
    db.close()


def test_a_new_store_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    import os

    previous = os.umask(0)  # the most permissive: only our own mode counts
    try:
        SqliteCredentialStore(tmp_path / "new.db").close()
    finally:
        os.umask(previous)
    assert (tmp_path / "new.db").stat().st_mode & 0o777 == 0o600


def test_an_existing_store_file_keeps_its_mode_and_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared.db"
    SqliteCredentialStore(shared).close()
    shared.chmod(0o640)
    with caplog.at_level("WARNING", logger="sipsec.proxy"):
        SqliteCredentialStore(shared).close()
    assert shared.stat().st_mode & 0o777 == 0o640  # left alone: the operator chose it
    assert any("open to other users" in r.getMessage() for r in caplog.records)
    caplog.clear()
    shared.chmod(0o600)
    with caplog.at_level("WARNING", logger="sipsec.proxy"):
        SqliteCredentialStore(shared).close()
    assert not caplog.records
