"""Keys written 0600, optionally under a passphrase, never leaked in errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sipsec.ca import CaError, generate_key, load_certificates, load_private_key, write_private_key


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        (
            "ec-p256",
            lambda k: isinstance(k, ec.EllipticCurvePrivateKey) and k.curve.name == "secp256r1",
        ),
        (
            "ec-p384",
            lambda k: isinstance(k, ec.EllipticCurvePrivateKey) and k.curve.name == "secp384r1",
        ),
        ("rsa-2048", lambda k: isinstance(k, rsa.RSAPrivateKey) and k.key_size == 2048),
    ],
)
def test_generate(kind, check) -> None:  # type: ignore[no-untyped-def]
    assert check(generate_key(kind))


def test_unknown_kind() -> None:
    with pytest.raises(CaError, match="unknown key type"):
        generate_key("dsa-1024")  # type: ignore[arg-type]


def test_written_0600_even_over_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_private_key(path, generate_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in path.read_bytes()


def test_passphrase_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = generate_key()
    write_private_key(path, key, b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = load_private_key(path, b"correct horse")
    assert loaded.private_numbers() == key.private_numbers()  # type: ignore[union-attr]


def test_missing_and_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_private_key(path, generate_key(), b"correct horse")
    with pytest.raises(CaError, match="passphrase is needed"):
        load_private_key(path)
    with pytest.raises(CaError, match="bad passphrase") as info:
        load_private_key(path, b"battery staple")
    assert "battery" not in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CaError, match="cannot read key"):
        load_private_key(tmp_path / "missing.key")
    (tmp_path / "junk.pem").write_bytes(b"not pem")
    with pytest.raises(CaError, match="bad passphrase or not a PEM key"):
        load_private_key(tmp_path / "junk.pem")
    with pytest.raises(CaError, match="no PEM certificate"):
        load_certificates(tmp_path / "junk.pem")
    with pytest.raises(CaError, match="cannot read certificate"):
        load_certificates(tmp_path / "missing.pem")
