"""``sipsec proxy``: a real process on loopback, driven over UDP, stopped by SIGTERM."""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipsec.cli.main import cli
from sipsec.sip import Response, parse_message

STARTUP = 20.0  # seconds for the interpreter to import and bind (2 shared cores)


def _options(port: int, uri: str = "sip:atlanta.example", method: str = "OPTIONS") -> bytes:
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKcli{os.getpid()}{method}\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:alice@atlanta.example>;tag=1\r\n"
        f"To: <{uri}>\r\nCall-ID: cli-{method}@test\r\nCSeq: 1 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


class Running:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.stderr = b""
        self.port = 0

    def read_until(self, pattern: bytes, timeout: float) -> re.Match[bytes]:
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        while (match := re.search(pattern, self.stderr)) is None:
            ready, _, _ = select.select([fd], [], [], timeout)
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"no {pattern!r} in {self.stderr.decode(errors='replace')}")
            self.stderr += chunk
        return match


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> Running:
        code = "import sys; from sipsec.cli.main import main; sys.argv[0] = 'sipsec'; main()"
        command = [sys.executable, "-c", code, *args]
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, cwd=tmp_path)
        procs.append(proc)
        running = Running(proc)
        match = running.read_until(rb"listening on udp:127\.0\.0\.1:(\d+)", STARTUP)
        running.port = int(match.group(1))
        return running

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _ask(port: int, data: bytes) -> Response:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        sock.sendto(data.replace(b"127.0.0.1:0", f"127.0.0.1:{sock.getsockname()[1]}".encode()),
                    ("127.0.0.1", port))  # fmt: skip
        while True:
            message = parse_message(sock.recv(65536))
            assert isinstance(message, Response)
            if message.status >= 200:
                return message


def test_serves_logs_and_stops_cleanly_on_sigterm(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "atlanta.db"
    running = start("proxy", "--domain", "atlanta.example", "--listen", "udp:127.0.0.1:0",
                    "--db", str(db))  # fmt: skip
    ok = _ask(running.port, _options(0))
    assert ok.status == 200 and "REGISTER" in (ok.headers.get("Allow") or "")
    challenge = _ask(running.port, _options(0, "sip:bob@atlanta.example", "INVITE"))
    assert challenge.status == 407  # auth on by default
    # One line per transaction, in logging's "asctime name message" shape
    # (sipsec.transport.access_log writes it, flushed within the loop pass).
    running.read_until(
        rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} sipsec\.proxy "
        rb"INVITE sip:alice@atlanta.example -> sip:bob@atlanta.example 407 [\d.]+ms branches=0",
        10,
    )
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=15) == 0
    running.read_until(rb"shutting down", 5)
    assert db.exists()


def test_no_auth_and_toml_config(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "proxy.toml"
    config.write_text(
        '[proxy]\ndomain = "atlanta.example"\nlisten = ["udp:127.0.0.1:0"]\n'
        f'db = "{tmp_path / "x.db"}"\nauth = false\nalgorithms = ["MD5"]\n'
    )
    running = start("proxy", "--config", str(config), "--quiet")
    answer = _ask(running.port, _options(0, "sip:bob@atlanta.example", "INVITE"))
    assert answer.status == 480  # not challenged: nobody registered
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(timeout=15) == 0
    assert running.proc.stderr is not None
    rest = running.stderr + running.proc.stderr.read()
    assert b"shutting down" in rest and b"INVITE sip:" not in rest  # --quiet


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "udp:127.0.0.1:0", "--db", "x.db"], "--domain is required"),
        (["--domain", "a.example", "--db", "x.db"], "at least one --listen"),
        (["--domain", "a.example", "--listen", "sctp:1.2.3.4:5"], "transport:host:port"),
        (["--domain", "a.example", "--listen", "udp:127.0.0.1:0"], "--db FILE"),
        (["--domain", "a.example", "--listen", "tls:127.0.0.1:0", "--db", "x"], "--cert"),
        (["--domain", "a.example", "--listen", "udp:1.2.3.4:5", "--db", "x",
          "--algorithms", "SHA-1"], "algorithms"),
        # Addresses go through sipsec.transport.hostport: each says what is wrong.
        (["--domain", "a.example", "--listen", "udp:127.0.0.1:99999"], "out of range 0-65535"),
        (["--domain", "a.example", "--listen", "udp:127.0.0.1"], "missing port"),
        (["--domain", "a.example", "--listen", "127.0.0.1:5060"], "missing transport"),
        (["--domain", "a.example", "--listen", "udp:::1:5060"], "IPv6 goes in brackets"),
        (["--domain", "a.example", "--listen", "udp:127.0.0.1:٥٠٦٠"], "is not a number"),
        (["--domain", "a.example", "--listen", "udp:1.2.3.4:5", "--db", "x",
          "--host", "b.example=tls:1.2.3.4:0"], "out of range 1-65535"),
        # Processes on one Redis must share the nonce secret.
        (["--domain", "a.example", "--listen", "udp:127.0.0.1:0",
          "--redis", "redis://127.0.0.1:1/0"], "give each the same --secret-file"),
    ],
)  # fmt: skip
def test_bad_options_exit_2_with_a_reason(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["proxy", *args])
    assert result.exit_code == 2
    assert message in result.output


def _options_over_stream(sock: socket.socket, transport: str) -> Response:
    """Send an OPTIONS on a connected TCP or TLS socket; its response."""
    local = sock.getsockname()[1]
    sock.sendall(_options(0).replace(b"UDP 127.0.0.1:0", f"{transport} 127.0.0.1:{local}".encode()))
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    reply = parse_message(data)
    assert isinstance(reply, Response)
    return reply


def test_tls_listener_from_the_command_line(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import ssl

    from ..transport._e1_pki import make_pki

    pki = make_pki(tmp_path)
    running = start(
        "proxy", "--domain", "atlanta.example", "--db", str(tmp_path / "t.db"),
        "--listen", "udp:127.0.0.1:0", "--listen", "tls:127.0.0.1:0",
        "--cert", str(pki.atlanta.cert), "--key", str(pki.atlanta.key), "--ca-file", str(pki.ca),
    )  # fmt: skip
    port = int(running.read_until(rb"tls:127\.0\.0\.1:(\d+)", 10).group(1))
    context = ssl.create_default_context(cafile=str(pki.ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="atlanta.example") as tls,
    ):
        reply = _options_over_stream(tls, "TLS")
    assert reply.status == 200
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=15) == 0


def test_udp_listener_gets_tcp_beside_it_unless_no_tcp(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """RFC 3261 §18: every element MUST implement TCP; ``--listen udp:`` alone
    also listens on TCP at the same port, says so on stderr, and answers there."""
    running = start("proxy", "--domain", "atlanta.example", "--listen", "udp:127.0.0.1:0",
                    "--db", str(tmp_path / "a.db"))  # fmt: skip
    line = running.read_until(rb"also listening on tcp:127\.0\.0\.1:(\d+)[^\n]*--no-tcp", 10)
    assert int(line.group(1)) == running.port
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as tcp:
        reply = _options_over_stream(tcp, "TCP")
    assert reply.status == 200
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(timeout=15) == 0
    quiet = start("proxy", "--domain", "atlanta.example", "--listen", "udp:127.0.0.1:0",
                  "--db", str(tmp_path / "b.db"), "--no-tcp")  # fmt: skip
    assert _ask(quiet.port, _options(0)).status == 200  # started and serving
    with pytest.raises(ConnectionRefusedError):  # nothing on TCP while it runs
        socket.create_connection(("127.0.0.1", quiet.port), timeout=5).close()
    quiet.proc.send_signal(signal.SIGTERM)
    assert quiet.proc.wait(timeout=15) == 0
    assert quiet.proc.stderr is not None
    assert b"also listening" not in quiet.stderr + quiet.proc.stderr.read()


# -- --redis needs a shared nonce secret, or --single-process ------------------------------------
REDIS = "redis://127.0.0.1:1/0"  # never connected to: the checks come first


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What ``sipsec proxy`` would serve with, instead of serving."""
    from sipsec.cli import proxy as module

    calls: list[dict[str, object]] = []

    async def serve(config: object, kwargs: dict[str, object]) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(module, "_serve", serve)
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)  # not CliRunner's stderr
    return calls


def _proxy(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["proxy", "--domain", "a.example", *args])
    return result.exit_code, result.output


def test_redis_without_a_secret_is_refused(served: list[dict[str, object]]) -> None:
    code, output = _proxy("--listen", "udp:127.0.0.1:0", "--redis", REDIS)
    assert code == 2 and not served
    # The message names both ways out, for the command line and the file.
    for text in ("--secret-file", "secret_file", "--single-process", "single_process = true"):
        assert text in output, output


def test_redis_with_a_secret_file_or_single_process(
    served: list[dict[str, object]], tmp_path: Path
) -> None:
    secret = tmp_path / "nonce.key"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    code, output = _proxy("--listen", "udp:127.0.0.1:0", "--redis", REDIS,
                          "--secret-file", str(secret))  # fmt: skip
    assert code == 0, output
    assert served[-1]["redis_url"] == REDIS
    assert served[-1]["secret"] == b"0123456789abcdef0123456789abcdef"
    code, output = _proxy("--listen", "udp:127.0.0.1:0", "--redis", REDIS, "--single-process")
    assert code == 0, output
    assert served[-1]["redis_url"] == REDIS and served[-1]["secret"] is None
    # SQLite needs neither: one file, one process.
    code, output = _proxy("--listen", "udp:127.0.0.1:0", "--db", str(tmp_path / "x.db"))
    assert code == 0 and served[-1]["secret"] is None, output


@pytest.mark.parametrize(
    ("lines", "accepted"),
    [
        ([], False),
        (["single_process = false"], False),
        (['single_process = "yes"'], False),  # only a TOML boolean says so
        (["single_process = true"], True),
        (['secret_file = "{secret}"'], True),
    ],
)
def test_redis_in_the_config_file(
    served: list[dict[str, object]], tmp_path: Path, lines: list[str], accepted: bool
) -> None:
    secret = tmp_path / "nonce.key"
    secret.write_text("x" * 32)
    config = tmp_path / "proxy.toml"
    body = "\n".join(line.format(secret=secret) for line in lines)
    config.write_text(
        f'[proxy]\ndomain = "a.example"\nlisten = ["udp:127.0.0.1:0"]\nredis = "{REDIS}"\n{body}\n'
    )
    result = CliRunner().invoke(cli, ["proxy", "--config", str(config)])
    if accepted:
        assert result.exit_code == 0 and served, result.output
    else:
        assert result.exit_code == 2 and not served
        assert "--secret-file" in result.output


# -- the byte-level UDP relay: on by default, off by flag or by the file ----------------------
@pytest.mark.parametrize(
    ("args", "toml", "expected"),
    [
        ([], "", True),
        (["--no-fast-relay"], "", False),
        ([], "fast_relay = false", False),
        ([], "fast_relay = true", True),
        (["--no-fast-relay"], "fast_relay = true", False),  # the command line wins
    ],
)
def test_fast_relay_switch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], toml: str, expected: bool
) -> None:
    from sipsec.cli import proxy as module

    configs: list[object] = []

    async def serve(config: object, kwargs: dict[str, object]) -> None:
        configs.append(config)

    monkeypatch.setattr(module, "_serve", serve)
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)
    config = tmp_path / "proxy.toml"
    config.write_text(f'[proxy]\ndomain = "a.example"\nlisten = ["udp:127.0.0.1:0"]\n{toml}\n')
    result = CliRunner().invoke(
        cli, ["proxy", "--config", str(config), "--db", str(tmp_path / "x.db"), *args]
    )
    assert result.exit_code == 0, result.output
    assert configs[-1].fast_relay is expected


def test_fast_relay_must_be_a_boolean(tmp_path: Path) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text('[proxy]\ndomain = "a.example"\nlisten = ["udp:127.0.0.1:0"]\n'
                      'fast_relay = "no"\n')  # fmt: skip
    result = CliRunner().invoke(cli, ["proxy", "--config", str(config), "--db", "x.db"])
    assert result.exit_code == 2 and "fast_relay must be true or false" in result.output
