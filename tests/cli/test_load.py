"""``sipsec load``: help, argument errors (exit 2), a small real run, JSON."""

from __future__ import annotations

import json
import os
import socket

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.cli.load import _address, _proxy
from sipsec.cli.main import cli

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1000"))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["load", *args], catch_exceptions=False)


def test_listed_in_sipsec_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "load" in result.output


def test_help_names_every_option() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for option in ("--target", "--proxy", "--rate", "--calls", "--processes", "--role",
                   "--uas-listen", "--duration-hold", "--no-trying",
                   "--separate-processes", "--json"):  # fmt: skip
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "--rate"),
        (["--calls", "-5"], "--calls"),
        (["--processes", "0"], "--processes"),
        (["--role", "proxy"], "--role"),
        (["--role", "uac"], "needs a target"),
        (["--target", "mailto:bob@example.com"], "not a sip: URI"),
        (["--proxy", "tls:127.0.0.1:5061"], "only udp"),
        (["--proxy", "udp:127.0.0.1:99999"], "--proxy"),
        (["--uas-listen", "127.0.0.1:http"], "--uas-listen"),
        # Addresses go through sipsec.transport.hostport: each says what is wrong.
        (["--proxy", "sctp:127.0.0.1:5060"], "unknown transport 'sctp'"),
        (["--proxy", "udp:127.0.0.1:0"], "out of range 1-65535"),
        (["--proxy", "udp:127.0.0.1:"], "empty port"),
        (["--uas-listen", "::1:5070"], "IPv6 goes in brackets"),
        (["--uas-listen", "127.0.0.1:¹"], "is not a number"),
        (["--uas-listen", "127.0.0.1:65536"], "out of range 0-65535"),
        (["--cpus", "one"], "--cpus"),
        (["--cpus", "-1"], "--cpus"),
        (["--duration-hold", "-1"], "--duration-hold"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["load", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_small_run_as_json() -> None:
    result = run("--rate", "100", "--calls", "20", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["uac"]["calls_succeeded"] == 20 and data["uac"]["calls_failed"] == 0
    assert data["uas"]["calls_succeeded"] == 20
    assert data["uac"]["setup_latency_ms"]["max"] is not None


def test_small_run_human_readable() -> None:
    result = run("--rate", "100", "--calls", "10")
    assert result.exit_code == 0, result.output
    assert "UAC: 10 started, 10 succeeded, 0 failed" in result.output
    assert "setup latency INVITE→200 (ms): p50" in result.output


@pytest.mark.parametrize("extra", [["--no-trying"], ["--separate-processes"]])
def test_small_run_without_trying_or_in_separate_processes(extra: list[str]) -> None:
    result = run("--rate", "100", "--calls", "10", "--json", *extra)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["uac"]["calls_succeeded"] == 10 and data["uas"]["calls_succeeded"] == 10
    assert data["generator_cpu_seconds"] > 0


def test_failed_calls_exit_1() -> None:
    port = free_udp_port()  # nobody answers: Timer B after 64*T1 = 0.64 s
    result = run("--role", "uac", "--target", f"sip:uas@127.0.0.1:{port}", "--calls", "2",
                 "--t1", "0.01", "--json")  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.output)["uac"]["failures"] == {"INVITE timeout": 2}


def test_uas_role_prints_its_address() -> None:
    port = free_udp_port()
    result = run("--role", "uas", "--uas-listen", f"127.0.0.1:{port}", "--uas-time", "0", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["uas_addresses"] == [f"127.0.0.1:{port}"]


def test_port_in_use_exits_3() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["load", "--role", "uas", "--uas-listen", f"127.0.0.1:{port}", "--uas-time", "0"]
        )
    assert result.exit_code == 3 and "cannot bind" in result.output


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=40))
def test_address_parsing_never_raises_anything_else(text: str) -> None:
    try:
        host, port = _address(text)
    except click.BadParameter:
        return
    assert host and 0 <= port <= 65535


@pytest.mark.parametrize("text", ["127.0.0.1:¹", "127.0.0.1:٥٠٦٠", "[::1]:²⁵"])
def test_non_ascii_digits_are_not_a_port(text: str) -> None:
    # str.isdigit() accepts superscripts and other scripts' digits; a port is ASCII.
    with pytest.raises(click.BadParameter):
        _address(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 5060)),
        ("udp:127.0.0.1:5070", ("127.0.0.1", 5070)),
        ("UDP:[::1]", ("::1", 5060)),
        ("[2001:db8::1]:5062", ("2001:db8::1", 5062)),
        ("proxy.example:5080", ("proxy.example", 5080)),
    ],
)
def test_proxy_forms(value: str, expected: tuple[str, int]) -> None:
    ctx = click.Context(click.Command("load"))
    assert _proxy(ctx, click.Option(["--proxy"]), value) == expected


def test_listen_forms() -> None:
    assert _address("[::1]:5070", default_port=0) == ("::1", 5070)
    assert _address("127.0.0.1", default_port=0) == ("127.0.0.1", 0)
