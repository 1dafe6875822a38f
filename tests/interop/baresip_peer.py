"""baresip 1.0 as a headless, auto-answering UA driven over ctrl_tcp (PEERS.md).

The config template is ``baresip/config`` beside this file; audio comes from a
WAV tone (aufile), and sndfile writes what each side decoded so a test can
check that audio really crossed.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import struct
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .peers import HERE, START_TIMEOUT, PeerError, PeerProcess, free_port, render, tcp_open


def write_tone(path: Path, seconds: float, frequency: float = 440.0) -> Path:
    """An 8 kHz mono 16-bit WAV tone: what baresip's aufile plays (``ausrc_srate 8000``)."""
    frames = int(8000 * seconds)
    samples = (int(8000 * math.sin(2 * math.pi * frequency * i / 8000)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def wav_peak(path: Path) -> tuple[int, int]:
    """(frames, peak absolute sample) of a 16-bit mono WAV file."""
    with wave.open(str(path), "rb") as wav:
        data = wav.readframes(wav.getnframes())
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    return len(samples), max((abs(s) for s in samples), default=0)


def open_by(pid: int | None, path: Path) -> bool:
    """Whether process ``pid`` holds ``path`` open (Linux ``/proc``, as the
    Debian peers here need): False once it closed it, or exited."""
    if pid is None:
        return False
    target = str(path.resolve())
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # exited (or not ours to look at): nothing is open
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:  # closed while we looked
            continue
    return False


# What the ``baresip`` fixture returns: start(user, outbound, *, domain=…,
# password=…, transport=…, mediaenc=…) -> Baresip.
BaresipFactory = Callable[..., "Baresip"]


class BaresipControl:
    """A client of baresip's ctrl_tcp: netstring-framed JSON commands and events."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self._token = 0

    def close(self) -> None:
        self._sock.close()

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        while True:
            head, sep, rest = self._buffer.partition(b":")
            if sep and head.isdigit() and len(rest) > int(head):
                size = int(head)
                payload, self._buffer = rest[:size], rest[size + 1 :]
                message: dict[str, Any] = json.loads(payload)
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise PeerError("baresip closed its control connection")
            self._buffer += chunk

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        self._token += 1
        token = str(self._token)
        payload = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(b"%d:%s," % (len(payload), payload))
        deadline = time.monotonic() + timeout
        while (message := self._read_message(deadline)) is not None:
            if message.get("response") and message.get("token") == token:
                return message
            self.events.append(message)
        raise PeerError(f"baresip did not answer {command!r} within {timeout} s")

    def wait_event(
        self, kind: str, timeout: float, *, unless: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The first event of type ``kind`` (already received or arriving in time).

        An event of a type in ``unless`` first (say CALL_CLOSED while waiting
        for CALL_ESTABLISHED) fails at once instead of after the timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("type") == kind:
                    self.events.remove(event)
                    return event
                if event.get("type") in unless:
                    raise PeerError(f"baresip event {event} while waiting for {kind}")
            message = self._read_message(deadline)
            if message is None:
                seen = [e.get("type") for e in self.events]
                raise PeerError(f"no baresip event {kind} within {timeout} s; saw {seen}")
            if message.get("event"):
                self.events.append(message)


@dataclass
class BaresipAccount:
    """One baresip user: its AOR, Digest password and outbound proxy."""

    aor: str
    password: str
    outbound: str
    mediaenc: str | None = None
    transport: str = "udp"


class Baresip:
    """A headless, auto-answering baresip with one account, driven over ctrl_tcp."""

    def __init__(self, workdir: Path, account: BaresipAccount, *, ca_file: Path) -> None:
        self.workdir = workdir
        self.account = account
        workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_port(span=2)
        self.ctrl_port = free_port()
        rtp = free_port(span=10)
        self.wav = write_tone(workdir / "tone.wav", 10.0)
        values = {
            "SIP_PORT": self.sip_port,
            "CA_FILE": ca_file,
            "WAV": self.wav,
            "RTP_MIN": rtp,
            "RTP_MAX": rtp + 9,
            # Nothing resolves through this: every URI the tests use is an
            # address or goes through the outbound proxy; 127.0.0.1:9 (discard)
            # keeps baresip from asking the machine's resolver.
            "DNS_PORT": 9,
            "CTRL_PORT": self.ctrl_port,
            "WORKDIR": workdir,
        }
        (workdir / "config").write_text(render(HERE / "baresip" / "config", values))
        params = [
            f"auth_pass={account.password}",
            f'outbound="{account.outbound}"',
            "regint=600",
            "answermode=auto",
            "audio_codecs=PCMU,PCMA",
        ]
        if account.mediaenc:
            params.append(f"mediaenc={account.mediaenc}")
        # baresip appends the account's URI parameters to every URI it dials,
        # so UDP (its default) stays implicit: R-URIs then carry no transport
        # and the proxy's own routing (RFC 3263, hosts map) decides.
        uri = (
            account.aor
            if account.transport == "udp"
            else f"{account.aor};transport={account.transport}"
        )
        line = f"<{uri}>;" + ";".join(params)
        (workdir / "accounts").write_text(line + "\n")
        argv = ["baresip", "-f", str(workdir), "-s"]
        user = account.aor.split(":", 1)[1]
        self.process = PeerProcess(f"baresip {user}", argv, workdir / "baresip.log", workdir)
        self._control: BaresipControl | None = None

    @property
    def control(self) -> BaresipControl:
        if self._control is None:
            raise PeerError("baresip is not started")
        return self._control

    def start(self) -> None:
        self.process.start()
        self.process.wait_until(
            "ctrl_tcp listener", lambda: tcp_open(self.ctrl_port), START_TIMEOUT
        )
        self._control = BaresipControl(self.ctrl_port)

    def wait_registered(self, timeout: float = START_TIMEOUT) -> None:
        """Until the registrar answered 200 (baresip logs ``200 OK … [n binding]``)."""
        self.process.wait_until(
            "registration (200 OK to REGISTER)",
            lambda: re.search(r"\} 200 OK .*\[\d+ binding", self.process.log()) is not None,
            timeout,
        )

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        self.process.stop()

    def decoded(self) -> Path:
        """The WAV file sndfile wrote with what this UA decoded in its (one)
        call, once it is complete.

        baresip sends CALL_CLOSED before it destroys the call's audio, and
        sndfile writes the WAV header only when it closes the file: read
        straight after the event, the header may still be missing (wave.Error,
        seen as a flake under load). So wait until baresip has closed it."""
        files = sorted(self.workdir.glob("dump-*-dec.wav"))
        if len(files) != 1:
            raise self.process.fail(f"expected one decoded-audio dump, found {files}")
        path = files[0]
        self.process.wait_until(
            f"{path.name} closed by baresip",
            lambda: not open_by(self.process.pid, path),
            START_TIMEOUT,
        )
        return path

    def wait_decoded(self, seconds: float, timeout: float = 10.0) -> None:
        """Until sndfile has written ``seconds`` of decoded audio (8 kHz, 16-bit)."""
        wanted = 44 + int(16000 * seconds)

        def enough() -> bool:
            files = list(self.workdir.glob("dump-*-dec.wav"))
            return bool(files) and files[0].stat().st_size >= wanted

        self.process.wait_until(f"{seconds} s of decoded audio", enough, timeout)

    def logs(self) -> list[tuple[str, str]]:
        return self.process.logs()
