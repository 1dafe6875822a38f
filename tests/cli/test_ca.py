"""``sipsec ca``: the command-line contract (file names, 0600 keys, exit codes)."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509

from sipsec.ca import CertificateStore, Purpose, load_certificates
from sipsec.cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_contract(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert run("ca", "init", "--dir", str(pki))[0] == 0
    assert (pki / "ca.pem").exists()
    assert stat.S_IMODE((pki / "ca.key").stat().st_mode) == 0o600

    code, out, _ = run("ca", "issue", "--dir", str(pki), "sip:alice@atlanta.example")
    assert code == 0 and "alice@atlanta.example.pem" in out
    assert (
        run(
            "ca",
            "issue",
            "--dir",
            str(pki),
            "--domain",
            "atlanta.example",
            "--key-type",
            "rsa-2048",
        )[0]
        == 0
    )
    for name in ("alice@atlanta.example", "atlanta.example"):
        assert (pki / f"{name}.pem").exists()
        assert stat.S_IMODE((pki / f"{name}.key").stat().st_mode) == 0o600

    alice = load_certificates(pki / "alice@atlanta.example.pem")[0]
    code, out, _ = run("ca", "list", "--dir", str(pki))
    assert code == 0 and f"{alice.serial_number:x}" in out and "valid" in out

    code, out, _ = run("ca", "revoke", "--dir", str(pki), "alice@atlanta.example")
    assert code == 0 and "revoked" in out
    crl = x509.load_pem_x509_crl((pki / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(alice.serial_number) is not None
    assert "revoked" in run("ca", "list", "--dir", str(pki))[1]
    assert run("ca", "crl", "--dir", str(pki))[0] == 0

    store = CertificateStore.from_directory(pki)
    domain = load_certificates(pki / "atlanta.example.pem")[0]
    store.validate(
        domain, purpose=Purpose.TLS_SERVER, now=domain.not_valid_before_utc.replace(microsecond=1)
    )


def test_passphrases(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    secret = tmp_path / "pass.txt"
    secret.write_text("hunter2\n")
    assert (
        run(
            "ca",
            "init",
            "--dir",
            str(pki),
            "--passphrase-file",
            str(secret),
            "--key-type",
            "rsa-2048",
        )[0]
        == 0
    )
    code, _, err = run("ca", "issue", "--dir", str(pki), "sip:a@b.example")
    assert code != 0 and "passphrase" in err
    assert "hunter2" not in err
    code, _, _ = run(
        "ca",
        "issue",
        "--dir",
        str(pki),
        "sip:a@b.example",
        "--ca-passphrase-file",
        str(secret),
        "--key-passphrase-file",
        str(secret),
    )
    assert code == 0
    assert b"ENCRYPTED" in (pki / "a@b.example.key").read_bytes()


def test_usage_errors(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert run("ca", "issue", "--dir", str(pki), "sip:a@b.example")[0] != 0  # no CA yet
    run("ca", "init", "--dir", str(pki))
    code, _, err = run("ca", "init", "--dir", str(pki))
    assert code != 0 and "already holds a CA" in err
    assert run("ca", "issue", "--dir", str(pki))[0] != 0
    assert run("ca", "issue", "--dir", str(pki), "sip:a@b.example", "--domain", "b.example")[0] != 0
    code, _, err = run("ca", "issue", "--dir", str(pki), "tel:+1555")
    assert code != 0 and "not a SIP address" in err
    code, _, err = run("ca", "revoke", "--dir", str(pki), "nobody@b.example")
    assert code != 0 and "no unrevoked" in err
    assert run("ca", "list", "--dir", str(tmp_path / "nothing"))[0] != 0


def test_help_lists_both_commands() -> None:
    out = run("--help")[1]
    assert "ca" in out and "smime" in out
