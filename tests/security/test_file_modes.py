"""Private keys and credential databases are readable by their owner only.

Each file is made under a permissive umask (0o000), which is where a
"create, then chmod" or a plain ``open()`` shows: the mode must come from
the code, not from the user's umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipsec.cli.main import cli


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output + (result.stderr or "")


def test_ca_keys_are_0600(tmp_path: Path, open_umask: None) -> None:
    pki = tmp_path / "pki"
    passphrase = tmp_path / "pass"
    passphrase.write_text("correct horse\n")
    assert run("ca", "init", "--dir", str(pki), "--passphrase-file", str(passphrase))[0] == 0
    for args in (
        ["sip:alice@atlanta.example"],
        ["--domain", "atlanta.example"],
        ["--key-passphrase-file", str(passphrase), "sip:bob@biloxi.example"],
    ):
        code, out = run(
            "ca", "issue", "--dir", str(pki), "--ca-passphrase-file", str(passphrase), *args
        )
        assert code == 0, out
    keys = sorted(pki.glob("*.key"))
    assert len(keys) == 4  # the CA's, two users', one domain's
    assert {k.name: mode(k) for k in keys} == {k.name: 0o600 for k in keys}


def test_a_reissued_key_over_a_loose_file_is_0600(tmp_path: Path, open_umask: None) -> None:
    pki = tmp_path / "pki"
    assert run("ca", "init", "--dir", str(pki))[0] == 0
    loose = pki / "alice@atlanta.example.key"
    loose.write_text("old")
    loose.chmod(0o644)
    assert run("ca", "issue", "--dir", str(pki), "sip:alice@atlanta.example")[0] == 0
    assert mode(loose) == 0o600
    assert b"PRIVATE KEY" in loose.read_bytes()


def test_a_planted_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert run("ca", "init", "--dir", str(pki))[0] == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o644)
    (pki / "alice@atlanta.example.key").symlink_to(victim)
    assert run("ca", "issue", "--dir", str(pki), "sip:alice@atlanta.example")[0] == 0
    key = pki / "alice@atlanta.example.key"
    assert not key.is_symlink() and mode(key) == 0o600
    assert victim.read_text() == "precious" and mode(victim) == 0o644
    assert not [p for p in pki.iterdir() if p.name.endswith(".tmp")]  # nothing left over


def test_user_database_is_0600(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "atlanta.db"
    code, out = run(
        "user", "add", "alice@atlanta.example", "--db", str(db), "--password-env", "PW",
        env={"PW": "s3cret-password"},
    )  # fmt: skip
    assert code == 0, out
    files = [p for p in tmp_path.iterdir() if p.name.startswith("atlanta.db")]
    assert db in files
    # SQLite's -wal/-shm companions copy the database's mode.
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert "s3cret-password" not in out


def test_a_loose_existing_database_is_named(tmp_path: Path) -> None:
    db = tmp_path / "atlanta.db"
    env = {"PW": "s3cret-password"}
    assert run("user", "add", "a@atlanta.example", "--db", str(db), "--password-env", "PW",
               env=env)[0] == 0  # fmt: skip
    db.chmod(0o644)
    code, out = run("user", "list", "--db", str(db))
    assert code == 0
    assert "open to other users" in out and "chmod 600" in out
    db.chmod(0o600)
    assert "open to other users" not in run("user", "list", "--db", str(db))[1]


def test_proxy_store_creates_its_database_0600(tmp_path: Path, open_umask: None) -> None:
    from sipsec.proxy import SqliteCredentialStore

    store = SqliteCredentialStore(tmp_path / "proxy.db")
    store.close()
    assert mode(tmp_path / "proxy.db") == 0o600


def test_the_tls_key_log_is_0600(tmp_path: Path) -> None:
    from sipsec.transport.tls import TlsSettings, client_context

    previous = os.umask(0o022)  # the common default, not a permissive one
    try:
        client_context(TlsSettings(None, verify=False, keylog_filename=tmp_path / "keys.log"))
    finally:
        os.umask(previous)
    assert mode(tmp_path / "keys.log") == 0o600
