"""Kamailio as the registrar and proxy of a domain, requiring Digest (PEERS.md).

The config template is ``kamailio/kamailio.cfg`` beside this file; Digest users
live in a SQLite file written here with the schema db_sqlite and auth_db need.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, NamedTuple

from .._pki import Pki
from .peers import (
    HERE,
    START_TIMEOUT,
    PeerError,
    PeerProcess,
    free_port,
    render,
    sip_options_ok,
    tcp_open,
)

KAMAILIO = Path("/usr/sbin/kamailio")
# The line kamailio.cfg logs for each request, behind its log_prefix
# "{<message type> <CSeq> <Call-ID>}"; a retransmission repeats CSeq and Call-ID.
_REQUEST_LINE = re.compile(
    r"\{1 (\d+) \w+ (\S+)\} <script>: request (\w+) (\S+) from (\S+) over (\w+)$", re.M
)


class SeenRequest(NamedTuple):
    """One request as Kamailio logged it: its URI, where from, over which transport."""

    uri: str
    source: str
    transport: str


# The smallest schema db_sqlite and auth_db accept: auth_db checks the
# ``version`` row of its table (subscriber: 7); usrloc keeps bindings in memory
# (db_mode 0) and never reads ``location`` (version 9), kept for completeness.
KAMAILIO_SCHEMA = """
CREATE TABLE version (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL UNIQUE,
    table_version INTEGER DEFAULT 0 NOT NULL
);
CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    UNIQUE (username, domain)
);
CREATE TABLE location (
    id INTEGER PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL UNIQUE,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    contact VARCHAR(512) DEFAULT '' NOT NULL,
    received VARCHAR(128) DEFAULT NULL,
    path VARCHAR(512) DEFAULT NULL,
    expires TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    instance VARCHAR(255) DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    keepalive INTEGER DEFAULT 0 NOT NULL,
    partition INTEGER DEFAULT 0 NOT NULL
);
INSERT INTO version (table_name, table_version) VALUES ('subscriber', 7), ('location', 9);
"""


class Kamailio:
    """Kamailio as registrar and stateful proxy for ``domain``, requiring Digest.

    ``users`` maps user names to passwords; ``algorithm`` is what its
    challenges offer (MD5, or SHA-256: RFC 7616).
    """

    def __init__(
        self,
        workdir: Path,
        pki: Pki,
        domain: str,
        users: Mapping[str, str],
        *,
        algorithm: str = "MD5",
    ) -> None:
        self.workdir = workdir
        self.domain = domain
        self.pki = pki
        self.users = dict(users)
        self.algorithm = algorithm
        workdir.mkdir(parents=True, exist_ok=True)
        self.udp_port = free_port()
        self.tcp_port = self.udp_port  # UDP and TCP share the number, as SIP servers do
        self.tls_port = free_port()
        self.db_path = workdir / "kamailio.sqlite"
        self.config_path = workdir / "kamailio.cfg"
        self._write_database()
        creds = pki.domain(domain)
        tls_cfg = workdir / "tls.cfg"
        tls_cfg.write_text(
            render(
                HERE / "kamailio" / "tls.cfg", {"CERT": creds.cert, "KEY": creds.key, "CA": pki.ca}
            )
        )
        values = {
            "DOMAIN": domain,
            "UDP_PORT": self.udp_port,
            "TCP_PORT": self.tcp_port,
            "TLS_PORT": self.tls_port,
            "TLS_CFG": tls_cfg,
            "ALGORITHM": algorithm,
            "DB_PATH": self.db_path,
        }
        self.config_path.write_text(render(HERE / "kamailio" / "kamailio.cfg", values))
        argv = [str(KAMAILIO), "-f", str(self.config_path), "-Y", str(workdir), "-DD", "-E"]
        self.process = PeerProcess(f"kamailio {domain}", argv, workdir / "kamailio.log", workdir)

    def _write_database(self) -> None:
        db = sqlite3.connect(self.db_path)
        try:
            db.executescript(KAMAILIO_SCHEMA)
            db.executemany(
                "INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
                [(user, self.domain, password) for user, password in self.users.items()],
            )
            db.commit()
        finally:
            db.close()

    def check_config(self) -> None:
        """``kamailio -c``: the rendered config parses and every module loads."""
        result = subprocess.run(
            [str(KAMAILIO), "-c", "-f", str(self.config_path), "-Y", str(self.workdir)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise PeerError(f"kamailio -c failed ({result.returncode}):\n{result.stderr[-4000:]}")

    # Templates already checked with ``kamailio -c`` in this session, by
    # algorithm: the rest of the config differs only in ports and paths.
    _checked: ClassVar[set[str]] = set()

    def start(self) -> None:
        if self.algorithm not in self._checked:
            self.check_config()
            self._checked.add(self.algorithm)
        self.process.start()
        self.process.wait_until(
            "answer to OPTIONS on UDP", lambda: sip_options_ok(self.udp_port), START_TIMEOUT
        )
        self.process.wait_until("TLS listener", lambda: tcp_open(self.tls_port), START_TIMEOUT)

    def stop(self) -> None:
        self.process.stop()

    def outbound(self, transport: str) -> str:
        """The outbound proxy URI of a UA that reaches Kamailio over ``transport``."""
        port = self.tls_port if transport == "tls" else self.udp_port
        return f"sip:127.0.0.1:{port};transport={transport}"

    def host_entry(self, transport: str = "tls") -> str:
        """A static hosts entry ``domain=transport:127.0.0.1:port`` (sipsec ``--host``)."""
        port = self.tls_port if transport == "tls" else self.udp_port
        return f"{self.domain}={transport}:127.0.0.1:{port}"

    def requests(self, method: str) -> list[SeenRequest]:
        """The ``method`` requests Kamailio received, in order, retransmissions dropped."""
        seen: dict[tuple[str, str], SeenRequest] = {}
        for match in _REQUEST_LINE.finditer(self.process.log()):
            cseq, call_id, name, uri, source, transport = match.groups()
            if name == method:
                seen.setdefault((call_id, cseq), SeenRequest(uri, source, transport))
        return list(seen.values())

    def logs(self) -> list[tuple[str, str]]:
        return self.process.logs()
