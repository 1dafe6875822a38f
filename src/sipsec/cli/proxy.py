"""``sipsec proxy``: run a domain's registrar and stateful proxy until SIGTERM/SIGINT.

Options may come from a TOML file (``--config``); options on the command line
win over the file. One log line per transaction goes to stderr. On SIGTERM
or SIGINT the proxy stops accepting (503 + Retry-After), lets transactions
in flight finish for a short grace, closes the sockets and the stores, and
exits 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import tomllib
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click

from sipsec.proxy.store import StoreError
from sipsec.transaction import TransportName
from sipsec.transport.hostport import HostPortError, parse_transport_address

__all__ = ["proxy"]

EXIT_OK = 0
EXIT_CONFIG = 2  # click's usage-error code: bad option or configuration file
EXIT_START = 3  # could not open the store or listen

_KNOWN_KEYS = {
    "domain", "listen", "db", "redis", "cert", "key", "ca_file", "hosts", "algorithms",
    "auth", "record_route", "trusted_domains", "trusted_addresses", "timer_c",
    "require_client_cert", "secret_file", "max_contexts", "max_transactions", "source_rate",
    "no_tcp", "single_process", "fast_relay",
}  # fmt: skip


def _listen_entry(text: str) -> tuple[TransportName, str, int]:
    """``udp:127.0.0.1:5060`` → ("udp", "127.0.0.1", 5060); port 0: any free one."""
    try:
        return parse_transport_address(text, allow_zero_port=True)
    except HostPortError as exc:
        raise click.BadParameter(
            f"{exc}; expected transport:host:port (udp, tcp or tls)", param_hint="--listen"
        ) from None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--config") from None
    section = data.get("proxy", data)
    if not isinstance(section, dict):
        raise click.BadParameter("[proxy] must be a table", param_hint="--config")
    unknown = sorted(set(section) - _KNOWN_KEYS)
    if unknown:
        raise click.BadParameter(f"unknown keys {', '.join(unknown)}", param_hint="--config")
    return section


def _merged(cli: dict[str, Any], path: Path | None) -> dict[str, Any]:
    """The file's settings overlaid with what the command line gave."""
    settings = _load_toml(path) if path is not None else {}
    for key, value in cli.items():
        if value is None or value == ():
            continue
        settings[key] = list(value) if isinstance(value, tuple) else value
    return settings


def _build(settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """ProxyConfig and run_proxy keyword arguments from merged settings."""
    from sipsec.proxy import ProxyConfig
    from sipsec.transport.resolver import HostsEntryError, parse_hosts_entry
    from sipsec.transport.tls import TlsSettings

    domain = settings.get("domain")
    if not isinstance(domain, str) or not domain:
        raise click.BadParameter("--domain is required (or domain in the config file)")
    listen = [_listen_entry(str(x)) for x in settings.get("listen", [])]
    if not listen:
        raise click.BadParameter("give at least one --listen transport:host:port")
    hosts: dict[str, list[Any]] = {}
    for entry in settings.get("hosts", []):
        try:
            name, peer = parse_hosts_entry(str(entry))
        except HostsEntryError as exc:
            raise click.BadParameter(str(exc), param_hint="--host") from None
        hosts.setdefault(name, []).append(peer)
    algorithms = settings.get("algorithms", ["SHA-512-256", "SHA-256", "MD5"])
    if isinstance(algorithms, str):
        algorithms = [a for a in algorithms.split(",") if a.strip()]
    auth = bool(settings.get("auth", True))
    fast_relay = settings.get("fast_relay", True)
    if not isinstance(fast_relay, bool):
        raise click.BadParameter("fast_relay must be true or false")
    options: dict[str, Any] = {
        "record_route": bool(settings.get("record_route", True)),
        "algorithms": tuple(a.strip() for a in algorithms),
        "authenticate_invites": auth,
        "fast_relay": fast_relay,
        "local": {t: (h, p) for t, h, p in listen if p != 0},
        "hosts": hosts,
        "trusted_domains": frozenset(settings.get("trusted_domains", [])),
        "trusted_addresses": frozenset(settings.get("trusted_addresses", [])),
    }
    for name in ("timer_c", "max_contexts", "max_transactions", "source_rate"):
        if name in settings:
            options[name] = settings[name]
    try:
        config = ProxyConfig(domain, **options)
    except Exception as exc:  # the config's own checks: one clear line, not a traceback
        raise click.BadParameter(str(exc)) from None
    tls = None
    if any(t == "tls" for t, _, _ in listen):
        cert, key = settings.get("cert"), settings.get("key")
        if not cert or not key:
            raise click.BadParameter("a tls listener needs --cert and --key")
        tls = TlsSettings(
            settings.get("ca_file"),
            cert,
            key,
            require_client_cert=bool(settings.get("require_client_cert", False)),
        )
    secret = None
    if settings.get("secret_file"):
        try:
            secret = Path(settings["secret_file"]).read_bytes().strip()
        except OSError as exc:
            raise click.BadParameter(f"cannot read the secret: {exc}") from None
        if len(secret) < 16:
            raise click.BadParameter("the secret file must hold at least 16 bytes")
    db = settings.get("db")
    redis = settings.get("redis")
    if db is None and redis is None:
        raise click.BadParameter("give --db FILE (SQLite) or --redis URL")
    if redis is not None and secret is None and settings.get("single_process") is not True:
        # Nonces are HMACs under this secret and their counts live in Redis:
        # with a random secret per process, a nonce one process issues is
        # refused by its siblings, and replay protection across them is void.
        raise click.BadParameter(
            "--redis shares nonce counts between proxy processes, so they must share the "
            "nonce secret: give each the same --secret-file (secret_file in the config), "
            "or --single-process (single_process = true) if this is the only proxy on "
            "this Redis",
            param_hint="--redis",
        )
    kwargs = {
        "listen": listen,
        "tcp_beside_udp": not settings.get("no_tcp", False),
        "tls": tls,
        "database": db,
        "redis_url": redis,
        "secret": secret,
        "authenticate_registers": auth,
    }
    return config, kwargs


async def _serve(config: Any, kwargs: dict[str, Any]) -> None:
    from sipsec.proxy.log import logger
    from sipsec.transport.access_log import AccessLog
    from sipsec.transport.proxy_app import run_proxy

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await run_proxy(config, **kwargs)
    access_log = None
    if logger.isEnabledFor(logging.INFO):
        # One line per transaction without logging's per-record cost.
        access_log = AccessLog(sys.stderr, loop, logger.name)
        server.core.access_log = access_log
    # Everything made so far lives as long as the process: keep it out of the
    # collector's way (a long-running server's cheap win, as CPython documents).
    gc.freeze()
    try:
        addresses = " ".join(str(a) for a in server.addresses)
        click.echo(f"sipsec proxy {config.domain} listening on {addresses}", err=True)
        for peer in server.tcp_beside_udp:
            click.echo(
                f"also listening on {peer}: RFC 3261 §18, every element implements TCP "
                "(requests over 1300 bytes move to it); --no-tcp turns this off",
                err=True,
            )
        await stop.wait()
        click.echo("shutting down", err=True)
    finally:
        await server.close()
        if access_log is not None:
            access_log.flush()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@click.command("proxy")
@click.option("--domain", help="The SIP domain served (realm of its users).")
@click.option(
    "--listen", "listen", multiple=True, metavar="T:HOST:PORT", help="udp|tcp|tls:host:port"
)
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite store (users, bindings).")
@click.option(
    "--redis",
    help="redis://host:port/db: shared store (and nonce counts) instead of SQLite; "
    "needs --secret-file (the same in every process on this Redis) or --single-process.",
)
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS chain (PEM).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="TLS key (PEM).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="Trust anchors.")
@click.option("--host", "hosts", multiple=True, metavar="NAME=T:IP:PORT", help="Static host.")
@click.option("--algorithms", help="Digest algorithms offered, e.g. MD5,SHA-256.")
@click.option("--trusted-domain", "trusted_domains", multiple=True, help="Peer proxy domain.")
@click.option("--trusted-address", "trusted_addresses", multiple=True, help="Peer proxy IP.")
@click.option("--require-client-cert", is_flag=True, default=None, help="Mutual TLS only.")
@click.option("--source-rate", type=float, help="Requests/s one source IP may start.")
@click.option("--no-auth", "no_auth", is_flag=True, help="Challenge nobody (benchmarks).")
@click.option("--no-record-route", "no_rr", is_flag=True, help="Stay off the dialog path.")
@click.option(
    "--no-fast-relay",
    "no_fast_relay",
    is_flag=True,
    help="Send every request through the general proxy path (the byte-level UDP relay is off).",
)
@click.option(
    "--no-tcp",
    "no_tcp",
    is_flag=True,
    default=None,
    help="Do not add a TCP listener beside a UDP-only host (RFC 3261 §18 wants one).",
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False),
    help="Nonce secret (16+ bytes); every process sharing one --redis must use the same.",
)
@click.option(
    "--single-process",
    "single_process",
    is_flag=True,
    default=None,
    help="This is the only proxy on its --redis: a random nonce secret is enough.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with these settings ([proxy] table); options given here win.",
)
@click.option("-v", "--verbose", count=True, help="-v debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="No per-transaction lines (benchmarks).")
def proxy(**options: Any) -> None:
    """Run the registrar and stateful proxy of one domain.

    \b
    Examples:
      sipsec user add alice@atlanta.example --db atlanta.db
      sipsec proxy --domain atlanta.example --listen udp:127.0.0.1:5060 --db atlanta.db

    \b
    Several processes (or machines) on one Redis share the nonce secret:
      openssl rand -hex 32 > nonce.key
      sipsec proxy --domain atlanta.example --listen udp:127.0.0.1:5060 \\
        --redis redis://127.0.0.1:6379/0 --secret-file nonce.key
    """
    config_file: Path | None = options.pop("config_file")
    verbose: int = options.pop("verbose")
    quiet: bool = options.pop("quiet")
    no_auth, no_rr = options.pop("no_auth"), options.pop("no_rr")
    no_fast_relay = options.pop("no_fast_relay")
    cli: dict[str, Any] = dict(options)
    cli["fast_relay"] = False if no_fast_relay else None
    cli["auth"] = False if no_auth else None
    cli["record_route"] = False if no_rr else None
    config, kwargs = _build(_merged(cli, config_file))
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        _run(_serve(config, kwargs))
    except StoreError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_START) from None
    except OSError as exc:
        click.echo(f"Error: cannot listen: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_START) from None


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (``pip install sipsec[fast]``): it
    cuts the proxy's CPU per call by about 13 % (bench/bench_proxy.py);
    the default asyncio loop otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
