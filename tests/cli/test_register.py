"""``sipsec register AOR --proxy URI``: help, usage errors, passwords, exit codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization

from sipsec.ca import build_root, generate_key
from sipsec.cli._ua_options import settings_from
from sipsec.cli.main import cli

AOR = "sip:alice@atlanta.example"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_listed_with_examples_and_exit_codes() -> None:
    assert "register" in run("--help").output
    result = run("register", "--help")
    assert result.exit_code == 0
    for text in ("Examples:", "Exit status:", "--password-env", "--password-file", "--host"):
        assert text in result.output
    assert "3  authentication failed" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([AOR], "Missing option '--proxy'"),
        ([AOR, "--proxy", "sip:127.0.0.1", "--password", "x"], "No such option"),
        ([AOR, "--proxy", "sip:127.0.0.1", "--listen", "nowhere"], "missing port"),
        ([AOR, "--proxy", "sip:127.0.0.1", "--host", "a.example=1.2.3"], "hosts entry"),
        ([AOR, "--proxy", "sip:127.0.0.1", "--media", "zrtp"], "Invalid value"),
        ([AOR, "--proxy", "sip:127.0.0.1", "--password-env", "SIPSEC_UNSET_X"], "is not set"),
        ([AOR, "--proxy", "sip:127.0.0.1", "--keys", "smime"], "--keys smime needs"),
        (["sip:nouser", "--proxy", "sip:127.0.0.1", "--timeout", "0.2"], "AOR"),
        ([AOR, "--proxy", "mailto:x@y", "--timeout", "0.2"], "not a sip"),
    ],
)
def test_bad_usage_exits_2(args: list[str], message: str) -> None:
    result = run("register", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cert_needs_key(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    result = run("register", AOR, "--proxy", "sip:127.0.0.1", "--cert", str(cert))
    assert result.exit_code == 2 and "--cert and --key go together" in result.output


def _options(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"listen": ("127.0.0.1", 0), "media": "srtp", "keys": "sdes",
                            "timeout": 1.0, "hosts": []}  # fmt: skip
    base.update(kw)
    return base


def test_password_from_a_file_or_the_environment_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "correct horse battery staple"
    path = tmp_path / "alice.pass"
    path.write_text(secret + "\nignored second line\n")
    settings = settings_from(AOR, "sip:127.0.0.1", _options(password_file=path))
    assert settings.password == secret and secret not in repr(settings)
    monkeypatch.setenv("ALICE_PW", "from-env")
    assert settings_from(AOR, None, _options(password_env="ALICE_PW")).password == "from-env"
    with pytest.raises(click.UsageError, match="not both"):
        settings_from(AOR, None, _options(password_env="ALICE_PW", password_file=path))
    path.write_text("")
    with pytest.raises(click.UsageError, match="empty"):
        settings_from(AOR, None, _options(password_file=path))


def test_no_registrar_exits_4_quickly() -> None:
    # Port 9 (discard) on loopback: nobody answers; --timeout bounds the wait.
    result = run("register", AOR, "--proxy", "sip:127.0.0.1:9", "--timeout", "0.5")
    assert result.exit_code == 4, result.output
    assert "no answer from the registrar" in result.output


def test_tls_without_a_certificate_connects_and_says_it_does_not_listen(tmp_path: Path) -> None:
    """A TLS client needs no --cert: no listener, said under -v; here the
    registrar is missing, so the failure is the connection, not our setup."""
    now = dt.datetime.now(dt.UTC)
    ca = build_root(generate_key("ec-p256"), "register test CA", now)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    result = run(
        "register", "sips:alice@atlanta.example", "--proxy", "sips:127.0.0.1:9",
        "--ca-file", str(ca_file), "--timeout", "0.5", "-v",
    )  # fmt: skip
    assert result.exit_code == 4, result.output
    assert "not listening on TLS" in result.output
    assert "needs a certificate" not in result.output
