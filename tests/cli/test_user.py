"""``sipsec user add|remove|list``: HA1 only, never a password on the command line,
never an HA1 on screen, meaningful exit codes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.cli.main import cli
from sipsec.proxy import SqliteCredentialStore


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "atlanta.db")


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def test_listed_in_sipsec_help() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "user" in result.output


def test_help_has_examples_and_exit_codes() -> None:
    for args in (["user", "--help"], ["user", "add", "--help"], ["user", "list", "-h"]):
        result = run(*args)
        assert result.exit_code == 0
        assert "Example" in result.output
    assert "Exit codes" in run("user", "--help").output


def test_add_with_prompt_stores_ha1_not_the_password(db: str, tmp_path: Path) -> None:
    result = run("user", "add", "alice@atlanta.example", "--db", db, input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output  # the prompt hid it
    with SqliteCredentialStore(db) as store:
        cred = store.get("alice", "atlanta.example")
    assert cred is not None
    assert cred.ha1["MD5"] == hashlib.md5(b"alice:atlanta.example:s3cret").hexdigest()
    assert cred.algorithms == ("SHA-512-256", "SHA-256", "MD5")
    # Not anywhere in the file, the WAL included.
    for path in tmp_path.iterdir():
        assert b"s3cret" not in path.read_bytes()


def test_prompt_confirmation_must_match(db: str) -> None:
    result = run("user", "add", "alice@atlanta.example", "--db", db, input="one\ntwo\none\none\n")
    assert result.exit_code == 0
    assert "do not match" in result.output
    with SqliteCredentialStore(db) as store:
        cred = store.get("alice", "atlanta.example")
    assert cred is not None
    assert cred.ha1["MD5"] == hashlib.md5(b"alice:atlanta.example:one").hexdigest()


def test_add_from_env_and_file(db: str, tmp_path: Path) -> None:
    result = run(
        "user",
        "add",
        "sip:bob@Biloxi.example",
        "--db",
        db,
        "--password-env",
        "PW",
        env={"PW": "zanzibar"},
    )
    assert result.exit_code == 0, result.output
    pw_file = tmp_path / "pw.txt"
    pw_file.write_text("circle of life\n")
    result = run(
        "user",
        "add",
        "carol@chicago.example",
        "--db",
        db,
        "--password-file",
        str(pw_file),
        "--algorithm",
        "sha-256",
    )
    assert result.exit_code == 0, result.output
    with SqliteCredentialStore(db) as store:
        bob = store.get("bob", "biloxi.example")
        carol = store.get("carol", "chicago.example")
    assert (
        bob is not None
        and bob.ha1["MD5"] == hashlib.md5(b"bob:biloxi.example:zanzibar").hexdigest()
    )
    assert carol is not None and carol.algorithms == ("SHA-256",)
    assert (
        carol.ha1["SHA-256"] == hashlib.sha256(b"carol:chicago.example:circle of life").hexdigest()
    )


def test_escaped_user_part_is_the_plain_username(db: str) -> None:
    result = run(
        "user",
        "add",
        "sip:%61lice@atlanta.example:5061",
        "--db",
        db,
        "--password-env",
        "PW",
        env={"PW": "x"},
    )
    assert result.exit_code == 0, result.output
    with SqliteCredentialStore(db) as store:
        assert [(c.user, c.realm) for c in store.users()] == [("alice", "atlanta.example")]


def test_explicit_realm_and_bare_user(db: str) -> None:
    result = run(
        "user",
        "add",
        "dave",
        "--realm",
        "VoIP realm",
        "--db",
        db,
        "--password-env",
        "PW",
        env={"PW": "x"},
    )
    assert result.exit_code == 0, result.output
    with SqliteCredentialStore(db) as store:
        assert store.get("dave", "VoIP realm") is not None


def test_add_existing_is_exit_1_unless_update(db: str) -> None:
    env = {"PW": "first"}
    assert (
        run(
            "user", "add", "alice@atlanta.example", "--db", db, "--password-env", "PW", env=env
        ).exit_code
        == 0
    )
    again = run(
        "user",
        "add",
        "alice@atlanta.example",
        "--db",
        db,
        "--password-env",
        "PW",
        env={"PW": "second"},
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    updated = run(
        "user",
        "add",
        "alice@atlanta.example",
        "--db",
        db,
        "--password-env",
        "PW",
        "--update",
        env={"PW": "second"},
    )
    assert updated.exit_code == 0
    with SqliteCredentialStore(db) as store:
        cred = store.get("alice", "atlanta.example")
    assert cred is not None
    assert cred.ha1["MD5"] == hashlib.md5(b"alice:atlanta.example:second").hexdigest()


def test_list_never_prints_ha1(db: str) -> None:
    for name in ("bob@biloxi.example", "alice@atlanta.example"):
        run("user", "add", name, "--db", db, "--password-env", "PW", env={"PW": "pw"})
    result = run("user", "list", "--db", db)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["USER", "REALM", "ALGORITHMS"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["alice", "atlanta.example"],
        ["bob", "biloxi.example"],
    ]
    assert "SHA-512-256,SHA-256,MD5" in lines[1]
    with SqliteCredentialStore(db) as store:
        for cred in store.users():
            for ha1 in cred.ha1.values():
                assert ha1 not in result.output
    only = run("user", "list", "--db", db, "--realm", "biloxi.example")
    assert [line.split()[0] for line in only.output.splitlines()[1:]] == ["bob"]


def test_remove(db: str) -> None:
    run(
        "user", "add", "alice@atlanta.example", "--db", db, "--password-env", "PW", env={"PW": "pw"}
    )
    assert run("user", "remove", "alice@atlanta.example", "--db", db).exit_code == 0
    missing = run("user", "remove", "alice@atlanta.example", "--db", db)
    assert missing.exit_code == 1
    assert "no user" in missing.output
    assert run("user", "list", "--db", db).output.splitlines() == ["USER  REALM  ALGORITHMS"]


def test_db_from_environment(db: str) -> None:
    env = {"SIPSEC_DB": db, "PW": "pw"}
    assert (
        run("user", "add", "alice@atlanta.example", "--password-env", "PW", env=env).exit_code == 0
    )
    assert "alice" in run("user", "list", env={"SIPSEC_DB": db}).output


@pytest.mark.parametrize(
    "args",
    [
        [
            "user",
            "add",
            "alice@atlanta.example",
            "--password",
            "oops",
        ],  # no such option, on purpose
        ["user", "add", "not an address@", "--password-env", "PW"],
        ["user", "add", "tel:+1555@x", "--password-env", "PW"],
        ["user", "add", "alice", "--password-env", "PW"],  # bare user needs --realm
        ["user", "add", "alice@atlanta.example", "--password-env", "UNSET_VAR"],
        ["user", "add", "alice@atlanta.example", "--password-env", "PW", "--password-file", "x"],
        ["user", "add", "alice@atlanta.example", "--password-file", "/nonexistent/pw"],
        ["user", "add", "alice@atlanta.example", "--password-env", "EMPTY"],
        ["user", "add", "alice@atlanta.example", "--password-env", "PW", "--algorithm", "SHA-1"],
        ["user", "add", 'a"b@atlanta.example', "--password-env", "PW"],
        ["user", "add", "sip:%ff@atlanta.example", "--password-env", "PW"],
        ["user", "remove", "alice", "--realm", ""],
        ["user", "list", "--realm", ""],
    ],
)
def test_bad_input_is_exit_2(db: str, args: list[str]) -> None:
    result = run(*args, "--db", db, env={"PW": "pw", "EMPTY": ""})
    assert result.exit_code == 2, result.output


def test_store_failure_is_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "no" / "such" / "dir" / "x.db"
    result = run("user", "list", "--db", str(bad))
    assert result.exit_code == 3
    assert "cannot open store" in result.output
    newer = tmp_path / "newer.db"
    raw = sqlite3.connect(newer)
    raw.execute("PRAGMA user_version=42")
    raw.close()
    result = run(
        "user", "add", "a@b.example", "--db", str(newer), "--password-env", "PW", env={"PW": "p"}
    )
    assert result.exit_code == 3


def test_redis_url(redis_url_or_skip: str) -> None:
    url = redis_url_or_skip
    result = run(
        "user",
        "add",
        "alice@atlanta.example",
        "--db",
        url,
        "--password-env",
        "PW",
        env={"PW": "pw"},
    )
    assert result.exit_code == 0, result.output
    assert "alice" in run("user", "list", "--db", url).output
    assert run("user", "remove", "alice@atlanta.example", "--db", url).exit_code == 0
    assert run("user", "remove", "alice@atlanta.example", "--db", url).exit_code == 1
    assert run("user", "list", "--db", "redis://127.0.0.1:1/0").exit_code == 3


@pytest.fixture
def redis_url_or_skip(tmp_path: Path):
    """A throwaway redis-server for the CLI (tests/proxy has the shared one)."""
    import shutil
    import socket
    import subprocess

    redis = pytest.importorskip("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(250):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                try:
                    proc.wait(0.02)
                except subprocess.TimeoutExpired:
                    pass
        else:
            pytest.fail("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def test_corrupt_store_is_exit_3(db: str) -> None:
    run(
        "user", "add", "alice@atlanta.example", "--db", db, "--password-env", "PW", env={"PW": "pw"}
    )
    raw = sqlite3.connect(db)
    raw.execute("UPDATE credentials SET ha1 = 'garbage'")
    raw.commit()
    raw.close()
    result = run("user", "list", "--db", db)
    assert result.exit_code == 3
    assert "corrupt" in result.output


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    address=st.text(max_size=30).filter(lambda a: not a.startswith("-") and "\x00" not in a),
    realm=st.none()
    | st.text(max_size=10).filter(lambda r: not r.startswith("-") and "\x00" not in r),
)
def test_any_address_is_added_or_refused_cleanly(db: str, address: str, realm: str | None) -> None:
    """Whatever is typed as ADDRESS / --realm: done, exists or usage error — never a traceback."""
    args = ["user", "add", address, "--db", db, "--password-env", "PW"]
    if realm is not None:
        args += ["--realm", realm]
    assert run(*args, env={"PW": "pw"}).exit_code in {0, 1, 2}
