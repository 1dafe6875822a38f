"""``sipsec call TARGET --as AOR --proxy URI --duration S``: one secure call."""

from __future__ import annotations

from typing import Any

import click

from sipsec.transport.ua_app import UaApp

from ._ua_options import (
    EXIT_CODES_HELP,
    exit_code_for,
    print_summary,
    run_app,
    settings_from,
    ua_options,
)

__all__ = ["call"]

_EPILOG = f"""\b
Examples:
  sipsec call sips:bob@biloxi.example --as sips:alice@atlanta.example \\
      --proxy sips:atlanta.example --host atlanta.example=tls:127.0.0.1:5061 \\
      --ca-file pki/ca.pem --password-env ALICE_PASSWORD --duration 5
  sipsec call sip:bob@biloxi.example --as sip:alice@atlanta.example \\
      --proxy sip:127.0.0.1:5060 --keys smime --cert pki/alice@atlanta.example.pem \\
      --key pki/alice@atlanta.example.key --ca-file pki/ca.pem \\
      --peer-cert pki/bob@biloxi.example.pem --password-file alice.pass
  sipsec call "sips:bob@127.0.0.1:5071" --as sips:alice@atlanta.example \\
      --ca-file pki/ca.pem --play hello.wav --record reply.wav   # no proxy

{EXIT_CODES_HELP}
"""


@click.command(epilog=_EPILOG)
@click.argument("target")
@click.option("--as", "aor", required=True, metavar="AOR", help="Who is calling (From).")
@click.option(
    "--proxy", metavar="URI", help="Outbound proxy; without it the request goes to TARGET."
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0.0),
    default=5.0,
    show_default=True,
    help="Seconds of media once answered, then BYE (at most: the callee may hang up first).",
)
@ua_options
def call(target: str, aor: str, proxy: str | None, duration: float, **options: Any) -> None:
    """Call TARGET, send media for --duration seconds, hang up, print a summary.

    Exits 0 when the call was answered and was hung up cleanly: by us after
    --duration, or earlier by the callee's BYE (the summary says which).
    The signalling transport follows --proxy (or TARGET without one):
    ;transport=tcp, ;transport=tls or sips: (RFC 3261 §26.2)."""
    settings = settings_from(aor, proxy, options)
    settings.target = target

    async def body(app: UaApp) -> int:
        summary = await app.call(target, duration)
        print_summary(summary)
        return exit_code_for(summary)

    run_app(settings, body, "call")
