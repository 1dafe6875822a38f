"""``sipsec smime``: sign, verify, encrypt and decrypt S/MIME bodies by hand.

Each sub-command reads one MIME entity (headers, an empty line, a body) on
stdin and writes one on stdout; on failure it exits non-zero and says why on
stderr, with the SIP status a UAS would answer (RFC 3261 §23).  Output is
base64-encoded by default so it survives a terminal and ``openssl smime``
reads it; ``--binary`` gives the ``Content-Transfer-Encoding: binary`` form
SIP carries on the wire (§23.4.1).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

import click

from sipsec.ca import CaError, CertificateStore, load_certificates, load_private_key
from sipsec.smime import (
    CIPHERS,
    RSA_PADDINGS,
    ContentCipher,
    MimeEntity,
    SmimeError,
    Transfer,
    decrypt_entity,
    encrypt_entity,
    sign_entity,
    verify_entity,
)

__all__ = ["smime"]

P = ParamSpec("P")
R = TypeVar("R")

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
_BINARY = click.option(
    "--binary", is_flag=True, help="Content-Transfer-Encoding: binary (SIP wire form)."
)
_KEY_PASS = click.option(
    "--key-passphrase-file", type=_FILE, help="File whose first line unlocks the key."
)


def _reports_errors(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Typed errors become one line on stderr and exit status 1."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except SmimeError as exc:
                click.echo(
                    f"sipsec smime {name}: {exc.reason_code} (SIP {exc.status}): {exc.reason}",
                    err=True,
                )
            except CaError as exc:
                click.echo(f"sipsec smime {name}: {exc}", err=True)
            sys.exit(1)

        return run

    return decorate


def _read_entity() -> MimeEntity:
    return MimeEntity.parse(sys.stdin.buffer.read())


def _write_entity(entity: MimeEntity) -> None:
    out = sys.stdout.buffer
    out.write(bytes(entity))
    out.flush()


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    lines = path.read_bytes().splitlines()
    return lines[0] if lines else None


def _transfer(binary: bool) -> Transfer:
    return "binary" if binary else "base64"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group()
def smime() -> None:
    """S/MIME bodies: one MIME entity on stdin, one on stdout.

    \b
    Examples:
      sipsec smime sign --cert pki/alice@atlanta.example.pem \\
                        --key pki/alice@atlanta.example.key < sdp.mime
      sipsec smime verify --ca pki/ca.pem --from sip:alice@atlanta.example
      sipsec smime encrypt --to pki/bob@biloxi.example.pem < sdp.mime
      sipsec smime decrypt --cert pki/bob@biloxi.example.pem \\
                           --key pki/bob@biloxi.example.key
    """


@smime.command()
@click.option("--cert", required=True, type=_FILE, help="Signer certificate (PEM, chain after it).")
@click.option("--key", required=True, type=_FILE, help="Signer private key (PEM).")
@_KEY_PASS
@click.option("--opaque", is_flag=True, help="application/pkcs7-mime signed-data, not multipart.")
@_BINARY
@_reports_errors("sign")
def sign(
    *, cert: Path, key: Path, key_passphrase_file: Path | None, opaque: bool, binary: bool
) -> None:
    """Sign the entity on stdin (multipart/signed, RFC 3261 §23.4.1)."""
    certs = load_certificates(cert)
    private_key = load_private_key(key, _passphrase(key_passphrase_file))
    entity = _read_entity()
    _write_entity(
        sign_entity(
            entity,
            certs[0],
            private_key,
            now=_now(),
            chain=certs[1:],
            opaque=opaque,
            transfer=_transfer(binary),
        )
    )


@smime.command()
@click.option(
    "--ca",
    "anchor",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Trust anchor PEM, or a CA directory (its crl.pem is used too).",
)
@click.option("--from", "from_address", help="Require the signer's SAN to be this address.")
@click.option("--crl", "crl_files", multiple=True, type=_FILE, help="A PEM CRL to consult.")
@_reports_errors("verify")
def verify(anchor: Path, from_address: str | None, crl_files: tuple[Path, ...]) -> None:
    """Verify the signed entity on stdin and write the content it signs."""
    from cryptography import x509

    if anchor.is_dir():
        store = CertificateStore.from_directory(anchor)
    else:
        store = CertificateStore(load_certificates(anchor))
    for path in crl_files:
        try:
            store.add_crl(x509.load_pem_x509_crl(path.read_bytes()))
        except ValueError:
            raise CaError(f"{path} is not a PEM CRL") from None
    verified = verify_entity(_read_entity(), store, now=_now(), from_address=from_address)
    _write_entity(verified.content)
    click.echo(f"verified: signed by {verified.signer.subject.rfc4514_string()}", err=True)
    if from_address is None:
        # RFC 3261 §23.4.1: a UA must also match the SAN against From.
        click.echo("note: signer's address not checked (give --from AOR)", err=True)


@smime.command()
@click.option(
    "--to",
    "recipients",
    required=True,
    multiple=True,
    type=_FILE,
    help="Recipient certificate (PEM); repeat for several.",
)
@click.option("--cipher", type=click.Choice(CIPHERS), default="aes128-cbc", show_default=True)
@click.option("--rsa-padding", type=click.Choice(RSA_PADDINGS), default="oaep", show_default=True)
@_BINARY
@_reports_errors("encrypt")
def encrypt(recipients: tuple[Path, ...], cipher: str, rsa_padding: str, binary: bool) -> None:
    """Encrypt the entity on stdin for every --to certificate."""
    certs = [load_certificates(path)[0] for path in recipients]
    _write_entity(
        encrypt_entity(
            _read_entity(),
            certs,
            cipher=cast(ContentCipher, cipher),
            rsa_padding=rsa_padding,
            transfer=_transfer(binary),
        )
    )


@smime.command()
@click.option("--cert", required=True, type=_FILE, help="Our certificate (PEM).")
@click.option("--key", required=True, type=_FILE, help="Our private key (PEM).")
@_KEY_PASS
@_reports_errors("decrypt")
def decrypt(cert: Path, key: Path, key_passphrase_file: Path | None) -> None:
    """Decrypt the application/pkcs7-mime entity on stdin."""
    our_cert = load_certificates(cert)[0]
    private_key = load_private_key(key, _passphrase(key_passphrase_file))
    _write_entity(decrypt_entity(_read_entity(), our_cert, private_key))
