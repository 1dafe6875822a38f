"""Kamailio as a foreign SIP peer for the transport tests: a minimal config
that answers OPTIONS with 200 over UDP, TCP and TLS, started on 127.0.0.1
with free ports in a temp dir and stopped by PID (see /work/shared/PEERS.md)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sipsec.transaction import Peer

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
dns=no
rev_dns=no
enable_tls=yes
listen=udp:127.0.0.1:{udp}
listen=tcp:127.0.0.1:{tcp}
listen=tls:127.0.0.1:{tls}
mpath="{modules}"
loadmodule "sl.so"
loadmodule "tls.so"
modparam("tls", "config", "{tls_cfg}")
request_route {{
    if (method == "OPTIONS") {{
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("501", "Not Implemented");
}}
"""

TLS_CONFIG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {cert}
private_key = {key}

[client:default]
verify_certificate = no
require_certificate = no
"""


def available() -> bool:
    return Path(KAMAILIO).exists() and Path(MODULES, "tls.so").exists()


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        # one port for UDP and TCP is not needed; a UDP probe checks it is free too
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@asynccontextmanager
async def kamailio(directory: Path, cert: Path, key: Path) -> AsyncIterator[dict[str, Peer]]:
    udp, tcp, tls = _free_ports(3)
    tls_cfg = directory / "tls.cfg"
    tls_cfg.write_text(TLS_CONFIG.format(cert=cert, key=key))
    config = directory / "kamailio.cfg"
    config.write_text(CONFIG.format(udp=udp, tcp=tcp, tls=tls, modules=MODULES, tls_cfg=tls_cfg))
    log = (directory / "kamailio.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        KAMAILIO, "-f", str(config), "-DD", "-E", "-m", "32", "-M", "8",
        "-P", str(directory / "kamailio.pid"), "-Y", str(directory),
        stdout=asyncio.subprocess.DEVNULL, stderr=log,
        start_new_session=True,  # its shutdown signals its process group: not ours
    )  # fmt: skip
    try:
        await _wait_listening(tcp, proc)
        yield {
            "udp": Peer("udp", "127.0.0.1", udp),
            "tcp": Peer("tcp", "127.0.0.1", tcp),
            "tls": Peer("tls", "127.0.0.1", tls, "biloxi.example"),
        }
    finally:
        # The group led by our child's PID: the creator and the workers it forked.
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.communicate(), 10)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.communicate()
        for _ in range(100):  # workers outlive the creator by a moment
            if not _group_alive(proc.pid):
                break
            await asyncio.sleep(0.02)
        else:
            _signal_group(proc.pid, signal.SIGKILL)
        log.close()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def _wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(500):
        if proc.returncode is not None:
            raise RuntimeError(f"kamailio exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("kamailio did not start listening")
