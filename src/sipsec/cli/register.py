"""``sipsec register AOR --proxy URI``: register once and print the bindings."""

from __future__ import annotations

from typing import Any

import click

from sipsec.transport.ua_app import UaApp

from ._ua_options import EXIT_CODES_HELP, EXIT_OK, run_app, settings_from, ua_options

__all__ = ["register"]

_EPILOG = f"""\b
Examples:
  sipsec register sip:alice@atlanta.example --proxy sip:127.0.0.1:5060 \\
      --password-env ALICE_PASSWORD
  sipsec register sips:alice@atlanta.example --proxy sips:atlanta.example \\
      --host atlanta.example=tls:127.0.0.1:5061 --ca-file pki/ca.pem \\
      --password-file alice.pass
  sipsec register sip:alice@atlanta.example --proxy sip:127.0.0.1 --expires 0   # remove

{EXIT_CODES_HELP}
"""


@click.command(epilog=_EPILOG)
@click.argument("aor")
@click.option("--proxy", required=True, metavar="URI", help="Registrar URI; its transport is used.")
@click.option(
    "--expires",
    type=click.IntRange(0, 2**32 - 1),
    default=None,
    help="Requested binding lifetime in seconds (0 removes it; default 3600).",
)
@ua_options
def register(aor: str, proxy: str, expires: int | None, **options: Any) -> None:
    """Register AOR at the registrar behind --proxy and print the bindings
    it answers with (RFC 3261 §10). Exits 0 on 200."""
    settings = settings_from(aor, proxy, options)

    async def body(app: UaApp) -> int:
        bindings = await app.register(expires)
        for binding in bindings:
            click.echo(f"binding: {binding}")
        click.echo(f"registered {aor} ({len(bindings)} binding{'s' if len(bindings) != 1 else ''})")
        return EXIT_OK

    run_app(settings, body, "register")
