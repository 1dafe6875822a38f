"""Entry point of the ``sipsec`` command.

Sub-commands live one per module and are loaded lazily, so that ``sipsec
ca --help`` does not import the SIP engine, and a slow import in one command
never slows the others.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from sipsec import __version__

# name -> "module:attribute" of a click.Command.  One line per sub-command.
COMMANDS: dict[str, str] = {
    "ca": "sipsec.cli.ca:ca",
    "load": "sipsec.cli.load:load",
    "demo": "sipsec.cli.demo:demo",
    "smime": "sipsec.cli.smime:smime",
    "user": "sipsec.cli.user:user",
    "register": "sipsec.cli.register:register",
    "call": "sipsec.cli.call:call",
    "answer": "sipsec.cli.answer:answer",
    "proxy": "sipsec.cli.proxy:proxy",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = target.partition(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):  # pragma: no cover - registry bug
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sipsec")
def cli() -> None:
    """sipsec: secure SIP calls — TLS hop by hop, Digest at the proxies,
    S/MIME end to end around the SDP, SRTP for the voice.

    \b
    Examples:
      sipsec demo                      Alice calls Bob across two domains
      sipsec ca init --dir pki         make a certificate authority
    """


def main() -> None:
    cli(prog_name="sipsec")
