"""``sipsec answer --as AOR --proxy URI --calls N``: help, usage, waiting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sipsec.cli.main import cli

BOB = "sip:bob@biloxi.example"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_has_examples_and_exit_codes() -> None:
    result = run("answer", "--help")
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    for text in (
        "Examples:",
        "Exit status:",
        "--calls",
        "--record",
        "Expires: 0",
        "--hangup-after",
    ):
        assert text in flat


def test_usage_errors_exit_2() -> None:
    assert run("answer").exit_code == 2
    result = run("answer", "--as", BOB, "--calls", "0")
    assert result.exit_code == 2 and "--calls" in result.output


def test_no_call_before_wait_exits_4() -> None:
    result = run("answer", "--as", BOB, "--wait", "0.3", "--timeout", "1")
    assert result.exit_code == 4, result.output
    assert "only 0 of 1 calls came" in result.output


# -- the three commands against `sipsec proxy`, each its own process ----------------

DOMAIN = "example.com"


def _free_port() -> int:
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for UDP and TCP")


def _sipsec(*args: str) -> list[str]:
    return [sys.executable, "-m", "sipsec", *args]


def _wait_for(process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start (exit {process.poll()})")
        time.sleep(0.05)


def _accepting(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):  # stopped by PID, whatever happened
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_register_answer_and_call_through_sipsec_proxy(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    db, port = str(tmp_path / "example.db"), _free_port()
    env = {**os.environ, "ALICE_PW": "alice-secret", "BOB_PW": "bob-secret", "BAD_PW": "nope"}
    for user in ("alice", "bob"):
        added = CliRunner().invoke(
            cli, ["user", "add", f"{user}@{DOMAIN}", "--db", db, "--password-env", "PW"],
            env={"PW": f"{user}-secret"},
        )  # fmt: skip
        assert added.exit_code == 0, added.output
    proxy = subprocess.Popen(
        _sipsec("proxy", "--domain", DOMAIN, "--listen", f"udp:127.0.0.1:{port}",
                "--listen", f"tcp:127.0.0.1:{port}", "--db", db, "-q"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    processes.append(proxy)
    _wait_for(proxy, lambda: _accepting(port), "the proxy")
    via = ["--proxy", f"sip:127.0.0.1:{port}", "--timeout", "5", "--media", "rtp"]

    registered = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        _sipsec("register", f"sip:alice@{DOMAIN}", "--password-env", "ALICE_PW", *via),
        capture_output=True, env=env, timeout=30,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr.decode()
    assert "binding: <sip:alice@127.0.0.1:" in registered.stdout.decode()
    refused = subprocess.run(  # noqa: PLW1510
        _sipsec("register", f"sip:alice@{DOMAIN}", "--password-env", "BAD_PW", *via),
        capture_output=True, env=env, timeout=30,
    )  # fmt: skip
    assert refused.returncode == 3, refused.stderr.decode()

    bob = subprocess.Popen(
        _sipsec("answer", "--as", f"sip:bob@{DOMAIN}", "--password-env", "BOB_PW",
                "--wait", "20", *via),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    processes.append(bob)
    assert bob.stderr is not None
    stderr = bob.stderr
    # readline cannot hang for ever: bob exits on its own (--timeout, --wait).
    _wait_for(bob, lambda: b"answering as" in stderr.readline(), "bob")
    called = subprocess.run(  # noqa: PLW1510
        _sipsec("call", f"sip:bob@{DOMAIN}", "--as", f"sip:alice@{DOMAIN}",
                "--password-env", "ALICE_PW", "--duration", "1", *via),
        capture_output=True, env=env, timeout=30,
    )  # fmt: skip
    assert called.returncode == 0, called.stderr.decode()
    assert "call: 200 OK" in called.stdout.decode() and "media plain RTP" in called.stdout.decode()
    assert "; we hung up" in called.stdout.decode()
    out, err = bob.communicate(timeout=20)
    assert bob.returncode == 0, err.decode()
    assert "call 1: 200 OK" in out.decode() and "binding:" in out.decode()
    assert "; the remote party hung up" in out.decode()

    # Now Bob hangs up: Alice's --duration is only a maximum, and she still exits 0.
    bob = subprocess.Popen(
        _sipsec("answer", "--as", f"sip:bob@{DOMAIN}", "--password-env", "BOB_PW",
                "--wait", "20", "--hangup-after", "0.5", *via),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    processes.append(bob)
    assert bob.stderr is not None
    stderr = bob.stderr
    _wait_for(bob, lambda: b"answering as" in stderr.readline(), "bob")
    called = subprocess.run(  # noqa: PLW1510
        _sipsec("call", f"sip:bob@{DOMAIN}", "--as", f"sip:alice@{DOMAIN}",
                "--password-env", "ALICE_PW", "--duration", "25", *via),
        capture_output=True, env=env, timeout=30,
    )  # fmt: skip
    assert called.returncode == 0, called.stderr.decode()
    assert "call: 200 OK" in called.stdout.decode()
    assert "; the remote party hung up" in called.stdout.decode()
    out, err = bob.communicate(timeout=20)
    assert bob.returncode == 0, err.decode()
    assert "call 1: 200 OK" in out.decode() and "; we hung up" in out.decode()
