"""``sipsec user add|remove|list``: the users a domain's registrar and proxy
authenticate (issue 7, "Users").

Only Digest HA1 values are stored, one per algorithm (RFC 7616 §3.4.2); the
password is read from a hidden prompt, an environment variable or a file —
never from the command line, where ``ps`` and shell history would keep it —
and forgotten. ``list`` shows who exists and with which algorithms, never an
HA1.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from sipsec.proxy.credentials import (
    ALGORITHMS,
    CredentialStore,
    InvalidCredential,
    make_credential,
)
from sipsec.proxy.location import InvalidAor, normalize_aor
from sipsec.proxy.store import StoreError

__all__ = ["user"]

# Exit codes, documented in --help: click itself uses 2 for usage errors.
EXIT_OK = 0
EXIT_CONFLICT = 1  # add: the user exists (without --update); remove: no such user
EXIT_USAGE = 2
EXIT_STORE = 3  # the store could not be opened, read or written

_DB_HELP = "SQLite file (created if missing) or redis://host:port/db URL. Default: $SIPSEC_DB."
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _open_store(db: str) -> CredentialStore:
    if db.startswith(_REDIS_SCHEMES):
        # Imported here: redis-py is needed only by those who use Redis.
        from sipsec.proxy.credentials_redis import RedisCredentialStore

        return RedisCredentialStore(db)
    from sipsec.proxy.credentials_sqlite import SqliteCredentialStore

    _private_file(db)
    return SqliteCredentialStore(db)


def _private_file(db: str) -> None:
    """Create a new SQLite store readable by its owner only (0600).

    HA1 is password-equivalent for its realm (RFC 7616 §5.2 asks servers to
    protect it like a password), and SQLite would create the file, and its
    ``-wal``/``-shm`` companions which copy the file's mode, under the umask
    (usually 0644). So the file is made first, with the mode, never chmod'ed
    after the fact. An existing file with looser permissions is the
    operator's choice to make: it is named on stderr, not changed.
    """
    if db == ":memory:" or db.startswith("file:"):
        return
    try:
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            mode = os.stat(db).st_mode
        except OSError:
            return  # SQLite says why it cannot open it
        if mode & 0o077:
            click.echo(
                f"Warning: {db} is open to other users (mode {mode & 0o777:o}); "
                "its HA1 values are password-equivalent: chmod 600 it",
                err=True,
            )
        return
    except OSError:
        return  # no such directory, no permission …: SQLite's error says it
    os.close(fd)


@contextmanager
def _store(db: str) -> Iterator[CredentialStore]:
    try:
        store = _open_store(db)
    except StoreError as exc:
        raise _fail(str(exc), EXIT_STORE) from None
    try:
        yield store
    except StoreError as exc:
        raise _fail(str(exc), EXIT_STORE) from None
    finally:
        store.close()


def _fail(message: str, code: int) -> click.exceptions.Exit:
    click.echo(f"Error: {message}", err=True)
    return click.exceptions.Exit(code)


def _split_user(address: str, realm: str | None) -> tuple[str, str]:
    """``alice@atlanta.example`` (or ``sip:…``) -> (Digest username, realm).

    The realm defaults to the domain (RFC 3261 §22.1: "the realm string alone
    SHOULD be the domain", e.g. ``atlanta.example``).
    """
    if "@" not in address:
        if realm is None:
            raise click.BadParameter("give USER@DOMAIN, or --realm with a bare user name")
        return address, realm
    try:
        aor = normalize_aor(address)
    except InvalidAor as exc:
        raise click.BadParameter(exc.reason) from None
    user = address.split(":", 1)[1] if address.lower().startswith(("sip:", "sips:")) else address
    # The Digest username is the user part as the UA knows it, escapes undone.
    try:
        user = urllib.parse.unquote(user.rpartition("@")[0], errors="strict")
    except UnicodeDecodeError:
        raise click.BadParameter("the user part is not UTF-8 once unescaped") from None
    domain = aor.rpartition("@")[2]
    if realm is None:
        realm = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    return user, realm


def _read_password(password_env: str | None, password_file: Path | None) -> str:
    if password_env is not None and password_file is not None:
        raise click.UsageError("--password-env and --password-file are alternatives")
    if password_env is not None:
        value = os.environ.get(password_env)
        if value is None:
            raise click.UsageError(f"environment variable {password_env} is not set")
        return value
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read {password_file}: {exc}") from None
        # One trailing newline is the file's, not the password's.
        return text.removesuffix("\n").removesuffix("\r")
    prompted: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def user() -> None:
    """Manage the users a domain authenticates (Digest HA1 values only).

    \b
    Exit codes: 0 done; 1 the user already exists (add) or does not
    (remove); 2 usage error or bad input; 3 the store failed.

    \b
    Examples:
      sipsec user add alice@atlanta.example --db atlanta.db
      SIP_PW=secret sipsec user add bob@biloxi.example --db biloxi.db --password-env SIP_PW
      sipsec user add carol@chicago.example --db redis://127.0.0.1:6379/0 --password-file pw.txt
      sipsec user list --db atlanta.db
      sipsec user remove alice@atlanta.example --db atlanta.db
    """


@user.command("add")
@click.argument("address")
@click.option("--db", envvar="SIPSEC_DB", required=True, help=_DB_HELP)
@click.option("--realm", help="Digest realm. Default: the domain of ADDRESS.")
@click.option(
    "--password-env", metavar="VAR", help="Read the password from environment variable VAR."
)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the password from this file (one trailing newline is ignored).",
)
@click.option(
    "--algorithm",
    "algorithms",
    multiple=True,
    type=click.Choice(ALGORITHMS, case_sensitive=False),
    help="Store HA1 for this algorithm only (repeatable). Default: all three.",
)
@click.option("--update", is_flag=True, help="Replace the HA1 values of an existing user.")
def add(
    *,
    address: str,
    db: str,
    realm: str | None,
    password_env: str | None,
    password_file: Path | None,
    algorithms: tuple[str, ...],
    update: bool,
) -> None:
    """Add USER@DOMAIN (prompting for the password unless told where to read it).

    \b
    Examples:
      sipsec user add alice@atlanta.example --db atlanta.db
      sipsec user add alice --realm "atlanta.example" --db atlanta.db --password-env PW
    """
    name, realm = _split_user(address, realm)
    password = _read_password(password_env, password_file)
    chosen = [a for a in ALGORITHMS if a.lower() in {x.lower() for x in algorithms}] or ALGORITHMS
    try:
        credential = make_credential(name, realm, password, chosen)
    except InvalidCredential as exc:
        raise click.BadParameter(exc.reason) from None
    with _store(db) as store:
        if not store.put(credential, overwrite=update):
            raise _fail(f"{name} already exists in realm {realm!r} (use --update)", EXIT_CONFLICT)
    click.echo(f"{'updated' if update else 'added'} {name} in realm {realm!r}: {', '.join(chosen)}")


@user.command("remove")
@click.argument("address")
@click.option("--db", envvar="SIPSEC_DB", required=True, help=_DB_HELP)
@click.option("--realm", help="Digest realm. Default: the domain of ADDRESS.")
def remove(address: str, db: str, realm: str | None) -> None:
    """Remove USER@DOMAIN.

    \b
    Example:
      sipsec user remove alice@atlanta.example --db atlanta.db
    """
    name, realm = _split_user(address, realm)
    try:
        with _store(db) as store:
            removed = store.remove(name, realm)
    except InvalidCredential as exc:
        raise click.BadParameter(exc.reason) from None
    if not removed:
        raise _fail(f"no user {name} in realm {realm!r}", EXIT_CONFLICT)
    click.echo(f"removed {name} from realm {realm!r}")


@user.command("list")
@click.option("--db", envvar="SIPSEC_DB", required=True, help=_DB_HELP)
@click.option("--realm", help="Only this realm.")
def list_users(db: str, realm: str | None) -> None:
    """List users, their realms and algorithms (never an HA1).

    \b
    Example:
      sipsec user list --db atlanta.db --realm atlanta.example
    """
    try:
        with _store(db) as store:
            credentials = store.users(realm)
    except InvalidCredential as exc:
        raise click.BadParameter(exc.reason) from None
    rows = [(c.user, c.realm, ",".join(c.algorithms)) for c in credentials]
    header = ("USER", "REALM", "ALGORITHMS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    for row in [header, *rows]:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
