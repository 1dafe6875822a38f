"""What ``sipsec register | call | answer`` share: options, settings, output, exit codes.

Passwords come only from the environment (``--password-env VAR``) or a file
(``--password-file PATH``), never from the command line itself, where every
user of the machine can read them in the process list. ``-v`` prints each
SIP message to stderr with the SRTP keys blanked.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import click

from sipsec.ca import CaError, CertificateStore, load_certificates, load_private_key
from sipsec.errors import LocalProtocolError, SipsecError
from sipsec.transaction import Peer
from sipsec.transport.errors import TransportFailure
from sipsec.transport.hostport import HostPortError, parse_host_port
from sipsec.transport.resolver import HostsEntryError, parse_hosts_entry
from sipsec.transport.tls import TlsSettings
from sipsec.transport.trace import TraceRecord
from sipsec.transport.ua_app import CallSummary, UaApp, UaAppError, UaSettings
from sipsec.transport.ua_events import redact_keys
from sipsec.ua.media_offer import SmimeIdentity

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES_HELP",
    "EXIT_FAILED",
    "EXIT_NETWORK",
    "EXIT_OK",
    "exit_code_for",
    "print_summary",
    "run_app",
    "settings_from",
    "ua_options",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NETWORK = 0, 1, 2, 3, 4
EXIT_CODES_HELP = """\b
Exit status:
  0  success
  1  the call failed or was rejected (the SIP status is printed)
  2  bad usage (options, files, addresses)
  3  authentication failed (wrong user name or password)
  4  network or TLS failure, or no answer before --timeout"""

_KIND_EXIT = {
    "usage": EXIT_USAGE,
    "auth": EXIT_AUTH,
    "network": EXIT_NETWORK,
    "failed": EXIT_FAILED,
}
F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


def _listen(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, int]:
    try:
        return parse_host_port(value, allow_zero_port=True)
    except HostPortError as exc:
        raise click.BadParameter(f"{exc}; expected HOST:PORT") from None


def _hosts(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    for value in values:
        try:
            parse_hosts_entry(value)
        except HostsEntryError as exc:
            raise click.BadParameter(str(exc)) from None
    return list(values)


_OPTIONS: list[Callable[[F], F]] = [
    click.option("--username", help="Digest user name (default: the user part of the AOR)."),
    click.option(
        "--password-env", metavar="VAR", help="Read the Digest password from this variable."
    ),
    click.option(
        "--password-file",
        type=_FILE,
        help="Read the Digest password from the first line of this file.",
    ),
    click.option(
        "--listen",
        default="127.0.0.1:0",
        show_default=True,
        callback=_listen,
        help="Local SIP address, HOST:PORT (port 0: any free port).",
    ),
    click.option(
        "--contact-host",
        metavar="NAME",
        help="Name to put in Contact/Via instead of the address (TLS peers verify names).",
    ),
    click.option(
        "--ca-file",
        type=_FILE,
        help="Trust anchors (PEM): TLS peers and S/MIME signers are verified against them.",
    ),
    click.option("--cert", type=_FILE, help="Our certificate (PEM): S/MIME signing, mutual TLS."),
    click.option("--key", "key_file", type=_FILE, help="The private key of --cert (PEM)."),
    click.option(
        "--peer-cert", type=_FILE, help="The peer's certificate: S/MIME encrypts the SDP to it."
    ),
    click.option("--play", type=_FILE, help="WAV file to send (default: a quiet 440 Hz tone)."),
    click.option(
        "--record", type=click.Path(dir_okay=False, path_type=Path), help="WAV file to record."
    ),
    click.option(
        "--media",
        type=click.Choice(["srtp", "rtp"]),
        default="srtp",
        show_default=True,
        help="SRTP, or plain RTP only when asked for.",
    ),
    click.option(
        "--keys",
        type=click.Choice(["sdes", "smime"]),
        default="sdes",
        show_default=True,
        help="a=crypto in the SDP (needs TLS on every hop: a sips: target), or k= inside "
        "an S/MIME-encrypted body.",
    ),
    click.option(
        "--allow-sdes-over-first-hop-tls",
        "allow_sdes_over_first_hop_tls",
        is_flag=True,
        help="Send and take a=crypto keys when only the hop next to us is TLS (a sip: "
        "target; an offer that crossed UDP), trusting every proxy: unsafe, off by default.",
    ),
    click.option(
        "--host",
        "hosts",
        multiple=True,
        callback=_hosts,
        metavar="NAME=TRANSPORT:IP:PORT",
        help="Static hosts entry instead of DNS (repeatable).",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each answer (registrar, callee, BYE).",
    ),
    click.option("-v", "--verbose", is_flag=True, help="Print every SIP message on stderr."),
]


def ua_options(func: F) -> F:
    """Decorate a command with the options every UA command takes."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def _password(options: dict[str, Any]) -> str | None:
    variable, path = options.get("password_env"), options.get("password_file")
    if variable and path:
        raise click.UsageError("give --password-env or --password-file, not both")
    if variable:
        value = os.environ.get(variable)
        if value is None:
            raise click.UsageError(f"--password-env: the variable {variable} is not set")
        return value
    if path:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0]:
            raise click.UsageError(f"--password-file: {path} is empty")
        return lines[0]
    return None


def _trace(record: TraceRecord) -> None:
    arrow = "<<" if record.direction == "in" else ">>"
    local, remote = record.local, record.remote
    head = f"{arrow} {record.transport} {local[0]}:{local[1]} {arrow} {remote[0]}:{remote[1]}"
    if record.tls_peer:
        head += f" (TLS peer {record.tls_peer})"
    text = redact_keys(record.data).decode("utf-8", "replace")
    click.echo(f"{head}\n{text}", err=True)


def _note(text: str) -> None:
    click.echo(f"-- {text}", err=True)


def settings_from(aor: str, proxy: str | None, options: dict[str, Any]) -> UaSettings:
    """The app settings for the parsed command line; usage errors as click's."""
    cert, key_file = options.get("cert"), options.get("key_file")
    if (cert is None) != (key_file is None):
        raise click.UsageError("--cert and --key go together")
    try:
        identity = trust = peer = None
        if cert is not None and key_file is not None:
            chain = load_certificates(cert)
            identity = SmimeIdentity(chain[0], load_private_key(key_file), tuple(chain[1:]))
        ca_file = options.get("ca_file")
        if ca_file is not None:
            trust = CertificateStore(load_certificates(ca_file))
        if options.get("peer_cert") is not None:
            peer = load_certificates(options["peer_cert"])[0]
        hosts: dict[str, list[Peer]] = {}
        for entry in options.get("hosts", ()):
            name, hop = parse_hosts_entry(entry)
            hosts.setdefault(name, []).append(hop)
    except (CaError, HostsEntryError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    keys = cast(Literal["sdes", "smime"], options["keys"])
    if keys == "smime" and (identity is None or trust is None):
        raise click.UsageError("--keys smime needs --cert, --key and --ca-file")
    tls = None
    if ca_file is not None or cert is not None:
        tls = TlsSettings(ca_file, certfile=cert, keyfile=key_file)
    try:
        return UaSettings(
            aor,
            proxy=proxy,
            listen=options["listen"],
            contact_host=options.get("contact_host"),
            username=options.get("username"),
            password=_password(options),
            tls=tls,
            hosts=hosts,
            media=cast(Literal["srtp", "rtp"], options["media"]),
            keys=keys,
            allow_sdes_over_first_hop_tls=bool(options.get("allow_sdes_over_first_hop_tls")),
            identity=identity,
            trust=trust,
            peer_certificate=peer,
            play=options.get("play"),
            record=options.get("record"),
            timeout=float(options["timeout"]),
            on_trace=_trace if options.get("verbose") else None,
            on_note=_note if options.get("verbose") else None,
        )
    except UaAppError as exc:
        raise click.UsageError(str(exc)) from None


def exit_code_for(summary: CallSummary) -> int:
    if summary.ok:
        return EXIT_OK
    if summary.final_status in (401, 407) or (
        summary.auth_failures and summary.final_status == 403
    ):
        return EXIT_AUTH
    if summary.final_status in (408, 503):
        return EXIT_NETWORK
    return EXIT_FAILED


def print_summary(summary: CallSummary, label: str = "call") -> None:
    media = summary.srtp_suite or "plain RTP"
    keys = "S/MIME" if summary.smime else ("SDES over TLS" if summary.srtp_suite else "none")
    click.echo(
        f"{label}: {summary.final_status} {summary.reason}; duration {summary.duration:.1f} s; "
        f"packets sent {summary.packets_sent}, received {summary.packets_received}, "
        f"rejected {summary.packets_rejected}; media {media}, keys {keys}; "
        f"authentication failures {summary.auth_failures}{_who_hung_up(summary)}"
    )


def _who_hung_up(summary: CallSummary) -> str:
    """An answered call ended with somebody's BYE (§15); a failed one never began."""
    if not summary.ok:
        return ""
    return "; the remote party hung up" if summary.ended_by_remote else "; we hung up"


def run_app(
    settings: UaSettings, body: Callable[[UaApp], Coroutine[Any, Any, int]], command: str
) -> None:
    """Start a UaApp, run ``body``, close it, and exit with its status."""

    async def main() -> int:
        app = UaApp(settings)
        try:
            await app.start()
            return await body(app)
        finally:
            await app.close()

    try:
        code = asyncio.run(main())
    except UaAppError as exc:
        click.echo(f"sipsec {command}: {exc}", err=True)
        code = _KIND_EXIT[exc.kind]
    except LocalProtocolError as exc:  # an AOR or target the UA core cannot use
        click.echo(f"sipsec {command}: {exc.reason}", err=True)
        code = EXIT_USAGE
    except TransportFailure as exc:
        click.echo(f"sipsec {command}: network: {exc}", err=True)
        code = EXIT_NETWORK
    except (SipsecError, OSError) as exc:
        click.echo(f"sipsec {command}: {exc}", err=True)
        code = EXIT_NETWORK if isinstance(exc, OSError) else EXIT_FAILED
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
