"""``sipsec smime``: MIME entity in, MIME entity out; typed failures on stderr."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sipsec.cli.main import cli

SDP = (
    b"Content-Type: application/sdp\r\n\r\n"
    b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    b"m=audio 49170 RTP/SAVP 0\r\n"
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    b"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
)


def run(*args: str, data: bytes = b"") -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args), input=data)
    return result.exit_code, result.stdout_bytes, result.stderr


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    assert run("ca", "init", "--dir", str(directory))[0] == 0
    assert (
        run(
            "ca",
            "issue",
            "--dir",
            str(directory),
            "sip:alice@atlanta.example",
            "--key-type",
            "rsa-2048",
        )[0]
        == 0
    )
    assert run("ca", "issue", "--dir", str(directory), "sip:bob@biloxi.example")[0] == 0
    assert run("ca", "issue", "--dir", str(directory), "sip:carol@chicago.example")[0] == 0
    return directory


def files(pki: Path, name: str) -> list[str]:
    return ["--cert", str(pki / f"{name}.pem"), "--key", str(pki / f"{name}.key")]


@pytest.mark.parametrize("binary", [[], ["--binary"]])
def test_sign_encrypt_decrypt_verify(pki: Path, binary: list[str]) -> None:
    code, enveloped, err = run(
        "smime", "encrypt", "--to", str(pki / "bob@biloxi.example.pem"), *binary, data=SDP
    )
    assert code == 0, err
    assert b"smime-type=enveloped-data" in enveloped and b"inline:" not in enveloped
    code, signed, err = run(
        "smime", "sign", *files(pki, "alice@atlanta.example"), *binary, data=enveloped
    )
    assert code == 0, err
    assert signed.startswith(b"Content-Type: multipart/signed")

    code, inner, err = run(
        "smime",
        "verify",
        "--ca",
        str(pki / "ca.pem"),
        "--from",
        "sip:alice@atlanta.example",
        data=signed,
    )
    assert code == 0, err
    assert "alice@atlanta.example" in err
    code, plain, err = run("smime", "decrypt", *files(pki, "bob@biloxi.example"), data=inner)
    assert code == 0, err
    assert plain == SDP


def test_failures_say_why(pki: Path) -> None:
    _, signed, _ = run("smime", "sign", *files(pki, "alice@atlanta.example"), data=SDP)
    code, _, err = run(
        "smime", "verify", "--ca", str(pki), "--from", "sip:bob@biloxi.example", data=signed
    )
    assert code == 1 and "from-mismatch (SIP 403)" in err
    code, _, err = run("smime", "verify", "--ca", str(pki / "ca.pem"), data=signed[:-40])
    assert code == 1 and "(SIP 400)" in err
    _, enveloped, _ = run(
        "smime",
        "encrypt",
        "--to",
        str(pki / "bob@biloxi.example.pem"),
        "--cipher",
        "aes256-gcm",
        data=SDP,
    )
    code, _, err = run("smime", "decrypt", *files(pki, "carol@chicago.example"), data=enveloped)
    assert code == 1 and "not-for-us (SIP 493)" in err
    code, _, err = run("smime", "decrypt", *files(pki, "bob@biloxi.example"), data=SDP)
    assert code == 1 and "(SIP 415)" in err
    code, _, err = run("smime", "verify", "--ca", str(pki / "ca.pem"), data=b"no empty line")
    assert code == 1 and "malformed" in err


def test_revoked_signer_through_the_ca_directory(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    run("ca", "init", "--dir", str(pki))
    run("ca", "issue", "--dir", str(pki), "sip:dave@denver.example")
    _, signed, _ = run("smime", "sign", *files(pki, "dave@denver.example"), "--opaque", data=SDP)
    code, _, err = run("smime", "verify", "--ca", str(pki), data=signed)
    assert code == 0 and "not checked" in err
    run("ca", "revoke", "--dir", str(pki), "dave@denver.example")
    code, _, err = run("smime", "verify", "--ca", str(pki), data=signed)
    assert code == 1 and "revoked (SIP 403)" in err
    # The same with the anchor file and an explicit --crl.
    code, _, err = run(
        "smime", "verify", "--ca", str(pki / "ca.pem"), "--crl", str(pki / "crl.pem"), data=signed
    )
    assert code == 1 and "revoked" in err


@pytest.mark.interop
def test_openssl_reads_cli_output(pki: Path, tmp_path: Path) -> None:
    _, signed, _ = run("smime", "sign", *files(pki, "alice@atlanta.example"), data=SDP)
    (tmp_path / "s.eml").write_bytes(signed)
    result = subprocess.run(
        [
            "openssl",
            "smime",
            "-verify",
            "-in",
            str(tmp_path / "s.eml"),
            "-CAfile",
            str(pki / "ca.pem"),
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == SDP
