"""``sipsec answer --as AOR --proxy URI --calls N``: register and answer calls."""

from __future__ import annotations

from typing import Any

import click

from sipsec.transport.ua_app import UaApp

from ._ua_options import (
    EXIT_CODES_HELP,
    EXIT_NETWORK,
    EXIT_OK,
    exit_code_for,
    print_summary,
    run_app,
    settings_from,
    ua_options,
)

__all__ = ["answer"]

_EPILOG = f"""\b
Examples:
  sipsec answer --as sips:bob@biloxi.example --proxy sips:biloxi.example \\
      --host biloxi.example=tls:127.0.0.1:5071 --ca-file pki/ca.pem \\
      --cert pki/bob@biloxi.example.pem --key pki/bob@biloxi.example.key \\
      --password-env BOB_PASSWORD --calls 1 --record bob.wav
  sipsec answer --as sips:bob@biloxi.example --listen 127.0.0.1:5071 \\
      --ca-file pki/ca.pem --cert pki/bob.pem --key pki/bob.key   # direct, no proxy

{EXIT_CODES_HELP}
"""


@click.command(epilog=_EPILOG)
@click.option("--as", "aor", required=True, metavar="AOR", help="Who answers (registered AOR).")
@click.option("--proxy", metavar="URI", help="Registrar and proxy; without it, no REGISTER.")
@click.option(
    "--calls", type=click.IntRange(min=1), default=1, show_default=True, help="Calls to answer."
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Give up when no call comes for this many seconds (default: wait forever).",
)
@click.option(
    "--hangup-after",
    type=click.FloatRange(min=0.0),
    default=None,
    metavar="SECONDS",
    help="Hang up (send BYE) this long after answering (default: wait for the caller's BYE).",
)
@ua_options
def answer(
    aor: str,
    proxy: str | None,
    calls: int,
    wait: float | None,
    hangup_after: float | None,
    **options: Any,
) -> None:
    """Register (with --proxy), answer --calls calls with 180 then 200, keep
    each one's media running until the caller's BYE (or, with
    --hangup-after, send our own BYE), print a summary of each saying who
    hung up, send the un-REGISTER (Expires: 0) and exit. With --record and
    several calls, the recordings are NAME-1.wav, NAME-2.wav …"""
    settings = settings_from(aor, proxy, options)
    settings.target = aor  # without a proxy, sips:AOR means listening on TLS

    async def body(app: UaApp) -> int:
        if proxy is not None:
            app.unregister_on_close = True
            for binding in await app.register():
                click.echo(f"binding: {binding}")
        click.echo(f"answering as {aor} on {app.local}", err=True)
        summaries = await app.answer(calls, timeout=wait, hangup_after=hangup_after)
        for index, summary in enumerate(summaries, 1):
            print_summary(summary, f"call {index}")
        if len(summaries) < calls:
            click.echo(f"sipsec answer: only {len(summaries)} of {calls} calls came", err=True)
            return EXIT_NETWORK
        codes = [exit_code_for(s) for s in summaries]
        return max(codes, default=EXIT_OK)

    run_app(settings, body, "answer")
