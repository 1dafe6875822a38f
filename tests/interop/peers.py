"""Starting and stopping real peers: processes, ports, readiness, logs.

Shared by :mod:`.kamailio_peer`, :mod:`.baresip_peer` and :mod:`.sipsec_peer`.
Every peer runs on 127.0.0.1 on ports chosen at run time, from a config file
rendered into its own temp directory, with its output in a log file there. It
is stopped by the PID we started (SIGTERM, then SIGKILL to its process group
after a timeout), so no test leaves a process behind. Readiness is polled (a
SIP OPTIONS probe for Kamailio, the control socket for baresip), never slept
for. The templates live beside this file; placeholders are ``@NAME@``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

HERE = Path(__file__).parent
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
POLL = 0.02
LOG_TAIL = 20_000
# Kamailio's domain and the Digest users every registrar in these tests knows.
DOMAIN = "biloxi.example"
USERS = {"alice": "alice-secret", "bob": "bob-secret"}


class PeerError(Exception):
    """A peer did not start, died, or did not do what the test waited for."""


def render(template: Path, values: Mapping[str, object]) -> str:
    """``template`` with each ``@NAME@`` replaced; a name without a value is an error."""
    text = template.read_text(encoding="utf-8")
    missing = sorted(set(re.findall(r"@([A-Z_]+)@", text)) - set(values))
    if missing:
        raise PeerError(f"{template.name}: no value for {', '.join(missing)}")
    return re.sub(r"@([A-Z_]+)@", lambda m: str(values[m[1]]), text)


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(span: int = 1) -> int:
    """A port P such that P … P+span-1 are free for both UDP and TCP on 127.0.0.1.

    baresip listens for TLS on its SIP port + 1 (PEERS.md), hence ``span``.
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + span <= 65536 and all(_bindable(port + i) for i in range(span)):
            return port
    raise PeerError(f"no run of {span} free ports on 127.0.0.1")


class PeerProcess:
    """One child process with its output in ``log_path``; stopped by its PID."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, cwd: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self, env: Mapping[str, str] | None = None) -> None:
        with self.log_path.open("ab") as log:
            # A new session: its process group id is its PID, so a SIGKILL
            # fallback reaches the workers it forked (Kamailio) and nothing else.
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if env is None else {**os.environ, **env},
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def log(self) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return text[-LOG_TAIL:]

    def logs(self) -> list[tuple[str, str]]:
        return [(self.name, self.log())]

    def fail(self, what: str) -> PeerError:
        state = "running" if self.alive() else f"exited with {self.returncode()}"
        return PeerError(f"{self.name} ({state}): {what}\n--- log tail ---\n{self.log()[-4000:]}")

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` until true; fail early when the process dies."""
        deadline = time.monotonic() + timeout
        while True:
            if ready():
                return
            if not self.alive():
                raise self.fail(f"died while waiting for {what}")
            if time.monotonic() > deadline:
                raise self.fail(f"no {what} after {timeout:.0f} s")
            time.sleep(POLL)

    def wait_exit(self, timeout: float) -> int:
        """The exit status of a process expected to finish on its own."""
        if self._process is None:
            raise PeerError(f"{self.name} was never started")
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise self.fail(f"still running after {timeout:.0f} s") from None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL to the process group; no worker outlives the test."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        pid = process.pid
        # os.kill, not Popen.send_signal: that one may reap the child first,
        # after which its PID could name another process. Unreaped, it cannot.
        os.kill(pid, signal.SIGTERM)
        if not self._exited_unreaped(timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        # The leader has exited (or been killed) but is not reaped, so its PID,
        # the group id, cannot have been reused: this reaches only workers it
        # left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        process.wait(timeout)

    def _exited_unreaped(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the child to exit, leaving it unreaped (WNOWAIT)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            flags = os.WEXITED | os.WNOWAIT | os.WNOHANG
            if os.waitid(os.P_PID, self._process.pid, flags) is not None:
                return True
            time.sleep(POLL)
        return False


# --- SIP probing --------------------------------------------------------------


def sip_options_ok(port: int, timeout: float = 0.2) -> bool:
    """Whether a SIP server on UDP 127.0.0.1:port answers OPTIONS (any final response)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        tag = uuid.uuid4().hex[:12]
        probe = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{tag};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={tag}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{tag}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(probe.encode(), ("127.0.0.1", port))
        try:
            data = sock.recv(65535)
        except (TimeoutError, ConnectionRefusedError):
            return False
    return data.startswith(b"SIP/2.0 ") and not data.startswith(b"SIP/2.0 1")


def tcp_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- what a test owns ----------------------------------------------------------


class HasLogs(Protocol):
    """Something whose output a failed test's report should show."""

    def logs(self) -> list[tuple[str, str]]: ...


class Peer(HasLogs, Protocol):
    """A running peer: stopped by the test's teardown."""

    def stop(self) -> None: ...


PeerT = TypeVar("PeerT", bound=Peer)
RecordT = TypeVar("RecordT", bound=HasLogs)


@dataclass
class PeerGroup:
    """Everything one test started, stopped in reverse order, logs kept for failures."""

    peers: list[Peer] = field(default_factory=list)
    records: list[HasLogs] = field(default_factory=list)

    def add(self, peer: PeerT) -> PeerT:
        """Own ``peer``: it is stopped at teardown and its log goes into a failure report."""
        self.peers.append(peer)
        return peer

    def record(self, item: RecordT) -> RecordT:
        """Keep the output of something that already finished (a ``sipsec`` command)."""
        self.records.append(item)
        return item

    def stop_all(self) -> None:
        errors: list[Exception] = []
        for peer in reversed(self.peers):
            try:
                peer.stop()
            except Exception as exc:  # keep stopping the others, report the first
                errors.append(exc)
        if errors:
            raise errors[0]

    def logs(self) -> Iterator[tuple[str, str]]:
        for item in [*self.peers, *self.records]:
            yield from item.logs()
