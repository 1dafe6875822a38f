"""sipsec's own commands as subprocesses: one-shot runs and ``sipsec proxy``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._pki import Pki
from .peers import LOG_TAIL, START_TIMEOUT, PeerError, PeerProcess, free_port, sip_options_ok

# The summary line of `sipsec call` ("call: …") and `sipsec answer` ("call 1: …").
SUMMARY = re.compile(
    r"call(?: \d+)?: (?P<status>\d{3}) .*?packets sent (?P<sent>\d+), received (?P<received>\d+), "
    r"rejected (?P<rejected>\d+); media (?P<media>[^,]+), keys (?P<keys>[^;]+); "
    r"authentication failures (?P<auth_failures>\d+)"
)


# This checkout's ``sipsec``, run by the test's interpreter with -bb like the suite.
_SIPSEC = (sys.executable, "-bb", "-c", "from sipsec.cli.main import main; main()")


def sipsec_argv(*args: str) -> list[str]:
    """The ``sipsec`` command of this checkout, run by this interpreter."""
    return [*_SIPSEC, *args]


@dataclass
class SipsecRun:
    """A finished ``sipsec`` command: its exit status and output."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def logs(self) -> list[tuple[str, str]]:
        command = self.argv[len(_SIPSEC) : len(_SIPSEC) + 2]
        return [(f"sipsec {' '.join(command)}", self.describe())]

    def describe(self) -> str:
        return (
            f"$ sipsec {' '.join(self.argv[len(_SIPSEC) :])}\nexit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-LOG_TAIL:]}\n--- stderr ---\n{self.stderr[-LOG_TAIL:]}"
        )


def run_sipsec(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> SipsecRun:
    argv = sipsec_argv(*args)
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return SipsecRun(argv, result.returncode, result.stdout, result.stderr)


def add_users(db_path: Path, domain: str, users: Mapping[str, str]) -> list[SipsecRun]:
    """``sipsec user add user@domain`` for each user (HA1 for every algorithm)."""
    runs = []
    for user, password in users.items():
        run = run_sipsec(
            "user",
            "add",
            f"{user}@{domain}",
            "--db",
            str(db_path),
            "--password-env",
            "SIPSEC_TEST_PASSWORD",
            env={"SIPSEC_TEST_PASSWORD": password},
        )
        runs.append(run)
        if run.returncode != 0:
            raise PeerError(f"sipsec user add failed:\n{run.describe()}")
    return runs


class SipsecProxy:
    """``sipsec proxy`` for ``domain`` as a subprocess.

    ``users_db`` is a SQLite file made by :func:`add_users`; the proxy gets a
    copy, so that its bindings never leak into another test.
    """

    def __init__(
        self,
        workdir: Path,
        pki: Pki,
        domain: str,
        users_db: Path,
        *,
        transports: Sequence[str] = ("udp", "tcp", "tls"),
        hosts: Sequence[str] = (),
        algorithms: str = "MD5",
    ) -> None:
        self.workdir = workdir
        self.domain = domain
        workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / f"{domain}.sqlite"
        shutil.copyfile(users_db, self.db_path)
        # UDP and TCP on one port number, as RFC 3261 §18 elements listen.
        udp_tcp, tls = free_port(), free_port()
        self.ports = {t: tls if t == "tls" else udp_tcp for t in transports}
        creds = pki.domain(domain)
        args = ["proxy", "--domain", domain, "--db", str(self.db_path), "-v"]
        for transport, port in self.ports.items():
            args += ["--listen", f"{transport}:127.0.0.1:{port}"]
        args += ["--cert", str(creds.cert), "--key", str(creds.key), "--ca-file", str(pki.ca)]
        args += ["--algorithms", algorithms]
        for entry in hosts:
            args += ["--host", entry]
        self.process = PeerProcess(
            f"sipsec proxy {domain}", sipsec_argv(*args), workdir / "proxy.log", workdir
        )

    def start(self) -> None:
        self.process.start()
        self.process.wait_until(
            "'listening on' line", lambda: "listening on" in self.process.log(), START_TIMEOUT
        )
        if "udp" in self.ports:
            port = self.ports["udp"]
            self.process.wait_until(
                "answer to OPTIONS on UDP", lambda: sip_options_ok(port), START_TIMEOUT
            )

    def stop(self) -> None:
        self.process.stop()

    def outbound(self, transport: str) -> str:
        """The outbound proxy URI a baresip account uses over ``transport``."""
        return f"sip:127.0.0.1:{self.ports[transport]};transport={transport}"

    def logs(self) -> list[tuple[str, str]]:
        return self.process.logs()
