"""``sipsec ca``: a small certificate authority for SIP users and domains.

The file names are a contract with scripts: ``DIR/ca.pem`` and ``DIR/ca.key``;
``DIR/NAME.pem`` and ``DIR/NAME.key`` per subject (NAME ``alice@atlanta.example``
or ``atlanta.example``); ``DIR/crl.pem``.  Keys are written 0600.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import cast

import click

from sipsec.ca import KEY_KINDS, CaError, CertificateAuthority, KeyKind
from sipsec.ca.authority import read_index

__all__ = ["ca"]

_DIR = click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The CA directory.",
)
_CA_PASS = click.option(
    "--ca-passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File whose first line unlocks an encrypted ca.key.",
)
_KEY_TYPE = click.option(
    "--key-type",
    type=click.Choice(KEY_KINDS),
    default="ec-p256",
    show_default=True,
    help="Algorithm and size of the new key.",
)


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    lines = path.read_bytes().splitlines()
    secret = lines[0] if lines else b""
    if not secret:
        raise click.UsageError(f"{path} holds an empty passphrase")
    return secret


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _open(directory: Path, passphrase_file: Path | None) -> CertificateAuthority:
    try:
        return CertificateAuthority.open(directory, _passphrase(passphrase_file))
    except CaError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def ca() -> None:
    """Certificate authority: root, user and domain certificates, revocation.

    \b
    Examples:
      sipsec ca init --dir pki
      sipsec ca issue --dir pki sip:alice@atlanta.example
      sipsec ca issue --dir pki --domain atlanta.example
      sipsec ca revoke --dir pki alice@atlanta.example
    """


@ca.command()
@_DIR
@_KEY_TYPE
@click.option("--cn", "common_name", default="sipsec CA", show_default=True)
@click.option("--days", type=click.IntRange(1, 36500), default=3650, show_default=True)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Encrypt ca.key with the first line of this file.",
)
def init(
    *, directory: Path, key_type: str, common_name: str, days: int, passphrase_file: Path | None
) -> None:
    """Create the root key (DIR/ca.key, 0600) and certificate (DIR/ca.pem)."""
    try:
        authority = CertificateAuthority.init(
            directory,
            now=_now(),
            key_kind=cast(KeyKind, key_type),
            passphrase=_passphrase(passphrase_file),
            common_name=common_name,
            days=days,
        )
    except CaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{directory / 'ca.pem'}  {authority.cert.subject.rfc4514_string()}")


@ca.command()
@_DIR
@click.argument("address", required=False)
@click.option("--domain", help="Issue a domain certificate (DNS and sip: URI, RFC 5922).")
@_KEY_TYPE
@click.option("--days", type=click.IntRange(1, 36500), default=365, show_default=True)
@_CA_PASS
@click.option(
    "--key-passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Encrypt the new NAME.key with the first line of this file.",
)
def issue(
    *,
    directory: Path,
    address: str | None,
    domain: str | None,
    key_type: str,
    days: int,
    ca_passphrase_file: Path | None,
    key_passphrase_file: Path | None,
) -> None:
    """Issue a user certificate for ADDRESS (sip:alice@atlanta.example) or,
    with --domain, a domain certificate; writes DIR/NAME.pem and DIR/NAME.key."""
    if (address is None) == (domain is None):
        raise click.UsageError("give either a user ADDRESS or --domain DOMAIN")
    authority = _open(directory, ca_passphrase_file)
    try:
        cert, path = authority.issue(
            cast(str, address or domain),
            now=_now(),
            domain=domain is not None,
            key_kind=cast(KeyKind, key_type),
            passphrase=_passphrase(key_passphrase_file),
            days=days,
        )
    except CaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path}  serial {cert.serial_number:x}  until {cert.not_valid_after_utc:%Y-%m-%d}")


@ca.command()
@_DIR
@click.argument("name")
@_CA_PASS
def revoke(directory: Path, name: str, ca_passphrase_file: Path | None) -> None:
    """Revoke the certificate of NAME and rewrite DIR/crl.pem."""
    authority = _open(directory, ca_passphrase_file)
    try:
        record = authority.revoke(name, now=_now())
    except CaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {record.name} serial {record.serial:x}; CRL in {directory / 'crl.pem'}")


@ca.command()
@_DIR
@_CA_PASS
def crl(directory: Path, ca_passphrase_file: Path | None) -> None:
    """Write a fresh CRL to DIR/crl.pem (RFC 5280 §5)."""
    authority = _open(directory, ca_passphrase_file)
    revoked = authority.write_crl(now=_now())
    click.echo(f"{directory / 'crl.pem'}  {len(list(revoked))} revoked")


@ca.command("list")
@_DIR
def list_(directory: Path) -> None:
    """List the certificates the CA issued (no key needed)."""
    try:
        records = read_index(directory)
    except CaError as exc:
        raise click.ClickException(str(exc)) from None
    for r in records:
        state = f"revoked {r.revoked_at[:16]}" if r.revoked_at else "valid"
        click.echo(f"{r.name:40} {r.kind:6} {r.serial:x}  until {r.not_after[:10]}  {state}")
