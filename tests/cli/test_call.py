"""``sipsec call TARGET --as AOR``: help, usage, and real calls between two processes."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from sipsec.cli.main import cli

from .._pki import Pki

ALICE, BOB = "sip:alice@atlanta.example", "sip:bob@biloxi.example"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_has_examples_and_exit_codes() -> None:
    result = run("call", "--help")
    assert result.exit_code == 0
    for text in ("Examples:", "Exit status:", "--duration", "--peer-cert", "--keys", "-v"):
        assert text in result.output


def test_missing_as_is_usage() -> None:
    result = run("call", BOB)
    assert result.exit_code == 2 and "Missing option '--as'" in result.output


def test_sdes_keys_over_udp_are_refused_before_anything_is_sent() -> None:
    result = run("call", "sip:bob@127.0.0.1:9", "--as", ALICE, "--timeout", "1")
    assert result.exit_code == 2, result.output
    assert "refusing to send the offer" in result.output and "TLS" in result.output


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sipsec(*args: str) -> list[str]:
    return [sys.executable, "-m", "sipsec", *args]


@pytest.fixture
def answerer() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # stopped by PID, whatever happened
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def start_answerer(started: list[subprocess.Popen[bytes]], *args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        sipsec("answer", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    started.append(process)
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + 20
    seen = b""
    try:
        while b"answering as" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                pytest.fail(f"the answerer did not start: {seen!r}")
            line = process.stderr.readline()
            if not line:
                pytest.fail(f"the answerer exited: {seen!r}")
            seen += line
    finally:
        selector.close()
    return process


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=20)
    return process.returncode, out.decode(), err.decode()


def test_two_processes_call_with_smime_keys_over_udp(
    pki: Pki, answerer: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port(socket.SOCK_DGRAM)
    common = ["--ca-file", str(pki.ca), "--keys", "smime", "--timeout", "10"]
    bob = start_answerer(
        answerer, "--as", BOB, "--listen", f"127.0.0.1:{port}", "--calls", "1",
        "--cert", str(pki.bob.cert), "--key", str(pki.bob.key),
        *common,
    )  # fmt: skip
    alice = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        sipsec(
            "call", f"sip:bob@127.0.0.1:{port}", "--as", ALICE, "--duration", "1",
            "--cert", str(pki.alice.cert), "--key", str(pki.alice.key),
            "--peer-cert", str(pki.bob.cert), *common,
        ),
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert alice.returncode == 0, alice.stderr.decode()
    out = alice.stdout.decode()
    assert "call: 200 OK" in out and "keys S/MIME" in out and "AES_CM_128_HMAC_SHA1_80" in out
    code, bob_out, bob_err = finish(bob)
    assert code == 0, bob_err
    assert "call 1: 200 OK" in bob_out and "rejected 0" in bob_out


def test_verbose_trace_over_tls_shows_messages_without_keys(
    pki: Pki, answerer: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port(socket.SOCK_STREAM)
    ca = str(pki.ca)
    bob = start_answerer(
        answerer, "--as", "sips:bob@biloxi.example", "--listen", f"127.0.0.1:{port}",
        "--ca-file", ca, "--cert", str(pki.biloxi.cert), "--key", str(pki.biloxi.key),
        "--timeout", "10",
        "--contact-host", "biloxi.example",
    )  # fmt: skip
    alice = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        sipsec(
            "call", "sips:bob@biloxi.example", "--as", "sips:alice@atlanta.example",
            "--host", f"biloxi.example=tls:127.0.0.1:{port}", "--ca-file", ca,
            "--cert", str(pki.atlanta.cert), "--key", str(pki.atlanta.key),
            "--duration", "1", "--timeout", "10", "-v",
        ),
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    trace = alice.stderr.decode()
    assert alice.returncode == 0, trace
    assert "INVITE sips:bob@biloxi.example SIP/2.0" in trace and "SIP/2.0 200 OK" in trace
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80 <key redacted>" in trace
    assert "inline:" not in trace
    assert "keys SDES over TLS" in alice.stdout.decode()
    code, _, bob_err = finish(bob)
    assert code == 0, bob_err


def test_sdes_to_a_sip_target_over_tls_needs_sips_or_the_explicit_opt_in(pki: Pki) -> None:
    """TLS to the first hop is not TLS to the callee (RFC 3261 §26.2.2)."""
    assert "--allow-sdes-over-first-hop-tls" in run("call", "--help").output
    result = run(
        "call", "sip:bob@biloxi.example;transport=tls", "--as", "sips:alice@atlanta.example",
        "--host", "biloxi.example=tls:127.0.0.1:9", "--ca-file", str(pki.ca),
        "--timeout", "1",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "not sips:" in result.output and "--allow-sdes-over-first-hop-tls" in result.output
    opted_in = run(
        "call", "sip:bob@biloxi.example;transport=tls", "--as", "sips:alice@atlanta.example",
        "--host", "biloxi.example=tls:127.0.0.1:9", "--ca-file", str(pki.ca),
        "--timeout", "1", "--allow-sdes-over-first-hop-tls",
    )  # fmt: skip
    # The offer goes out; nobody listens on port 9, so the call fails on the network.
    assert opted_in.exit_code not in (0, 2), opted_in.output
    assert "refusing to send the offer" not in opted_in.output
