"""No password, HA1, SRTP master key or S/MIME content key in any output.

``sipsec demo`` runs the whole trapezoid in this process (CA, two proxies
with SQLite registrars, Digest, S/MIME, SRTP, the attack views) with every
logger at DEBUG. Each secret is recorded where it is born — the demo's
passwords, every HA1 computed, every SRTP key generated, every CMS content
key — and then looked for, in every form a leak takes, in the CLI's whole
output and in every log record. The ``-v`` trace of the UA commands goes
through :func:`sipsec.transport.ua_events.redact_keys`, checked the same way.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import sipsec.auth.client as auth_client
import sipsec.proxy.credentials as proxy_credentials
import sipsec.smime.enveloped as enveloped
import sipsec.transport.demo_trapezoid as demo_trapezoid
from sipsec.cli.main import cli
from sipsec.sdp import SrtpKeyParams
from sipsec.transport.ua_events import redact_keys


def forms(secret: bytes | str) -> set[str]:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    b64 = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    out = {raw.hex(), raw.hex().upper(), b64.rstrip("="), url.rstrip("="), repr(raw)[2:-1]}
    if isinstance(secret, str):
        out.add(secret)
    return {f for f in out if len(f) >= 16}


class Secrets:
    """Everything secret the run makes, recorded at birth."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.found: dict[str, list[bytes | str]] = {
            "password": [], "HA1": [], "SRTP key": [], "CMS key": []
        }  # fmt: skip

        def token_urlsafe(n: int | None = None) -> str:
            value = secrets.token_urlsafe(n)
            self.found["password"].append(value)
            return value

        fake = types.SimpleNamespace(
            **{k: getattr(secrets, k) for k in dir(secrets) if not k.startswith("__")}
        )
        fake.token_urlsafe = token_urlsafe
        monkeypatch.setattr(demo_trapezoid, "secrets", fake)

        for module in (auth_client, proxy_credentials):
            original = module.compute_ha1

            def recording(*args: Any, _f: Any = original, **kw: Any) -> str:
                value: str = _f(*args, **kw)
                self.found["HA1"].append(value)
                return value

            monkeypatch.setattr(module, "compute_ha1", recording)

        generate = SrtpKeyParams.generate.__func__  # type: ignore[attr-defined]

        def generated(cls: type[SrtpKeyParams], *args: Any, **kw: Any) -> SrtpKeyParams:
            params: SrtpKeyParams = generate(cls, *args, **kw)
            self.found["SRTP key"].append(params.key_salt)
            return params

        monkeypatch.setattr(SrtpKeyParams, "generate", classmethod(generated))

        # The CMS content-encryption key, wherever AES is keyed with it
        # (CBC for EnvelopedData, GCM for AuthEnvelopedData; both directions).
        real_aes, real_gcm = enveloped.algorithms.AES, enveloped.AESGCM

        def aes(key: bytes) -> Any:
            self.found["CMS key"].append(bytes(key))
            return real_aes(key)

        def gcm(key: bytes) -> Any:
            self.found["CMS key"].append(bytes(key))
            return real_gcm(key)

        monkeypatch.setattr(enveloped, "algorithms", types.SimpleNamespace(AES=aes))
        monkeypatch.setattr(enveloped, "AESGCM", gcm)

    def leaks(self, text: str) -> list[str]:
        return [
            f"{kind} {form!r}"
            for kind, values in self.found.items()
            for value in values
            for form in forms(value)
            if form in text
        ]


@pytest.mark.parametrize(
    "args",
    [
        ["--duration", "1", "--attack"],  # TLS, S/MIME, k=
        ["--duration", "1", "--attack", "--keys", "sdes", "--no-smime"],  # a=crypto over TLS
        ["--duration", "1", "--transport", "tcp", "--keys", "sdes"],  # S/MIME over TCP
    ],
    ids=["tls-smime-k", "tls-sdes-cleartext-sdp", "tcp-smime-sdes"],
)
def test_demo_output_and_debug_logs_hold_no_secret(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    born = Secrets(monkeypatch)
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", *args], env={"COLUMNS": "200"})
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    # 1 is "a check failed" (the demo's audio checks can miss on a loaded
    # machine); the secrets crossed all the same, and that is what is audited.
    assert result.exit_code in (0, 1) and "checks" in output, output
    # The recording is real: both passwords, their HA1s, keys both ways.
    assert len(born.found["password"]) == 2 and len(born.found["HA1"]) >= 2
    assert len(born.found["SRTP key"]) >= 2
    if "--no-smime" not in args:
        assert born.found["CMS key"]
    assert len(caplog.records) >= 2  # the proxies' own log lines were captured
    formatter = logging.Formatter()
    logs = "\n".join(
        f"{r.getMessage()} {r.args!r} "
        + (formatter.formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert not born.leaks(output), born.leaks(output)
    assert not born.leaks(logs), born.leaks(logs)


def test_the_leak_finder_finds_a_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    born = Secrets(monkeypatch)
    key = SrtpKeyParams.generate("AES_CM_128_HMAC_SHA1_80", os.urandom)
    inline = base64.b64encode(key.key_salt).decode()
    assert born.leaks(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{inline}")
    assert born.leaks(key.key_salt.hex())
    assert not born.leaks(repr(key))


_MESSAGE = (
    "INVITE sip:bob@biloxi.example SIP/2.0\r\nContent-Type: application/sdp\r\n"
    "Content-Length: 0\r\n\r\n"
)


@settings(max_examples=500, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=30, max_size=46), min_size=1, max_size=3),
    eol=st.sampled_from(["\r\n", "\n"]),
    kline=st.booleans(),
    lifetime=st.sampled_from(["", "|2^31", "|2^20|1:4"]),
)
def test_the_verbose_trace_redacts_every_key(
    keys: list[bytes], eol: str, kline: bool, lifetime: str
) -> None:
    lines = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0"]
    if kline:
        lines.append("k=base64:" + base64.b64encode(keys[0]).decode())
    lines.append("m=audio 4000 RTP/SAVP 0")
    for tag, key in enumerate(keys, 1):
        inline = base64.b64encode(key).decode()
        lines.append(f"a=crypto:{tag} AES_CM_128_HMAC_SHA1_80 inline:{inline}{lifetime}")
    body = eol.join(lines) + eol
    message = _MESSAGE.replace("Content-Length: 0", f"Content-Length: {len(body)}") + body
    shown = redact_keys(message.encode()).decode()
    for key in keys:
        for form in forms(key):
            assert form not in shown, shown
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80" in shown  # what helps debugging stays
