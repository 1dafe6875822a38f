"""Private keys and PEM files.

Keys are written with mode 0600 from the moment the file exists (``os.open``
with the mode, never chmod after the fact), optionally encrypted with a
passphrase (PKCS#8, the best available scheme of the library).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import CaError

__all__ = [
    "KEY_KINDS",
    "KeyKind",
    "PrivateKey",
    "generate_key",
    "load_certificates",
    "load_private_key",
    "write_certificates",
    "write_private_key",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyKind = Literal["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"]
KEY_KINDS: tuple[KeyKind, ...] = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072")


def generate_key(kind: KeyKind = "ec-p256") -> PrivateKey:
    """A fresh key: EC P-256 by default (RFC 8551 §2.1 lists it as a MUST for ECDSA)."""
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise CaError(f"unknown key type {kind!r}; choose one of {', '.join(KEY_KINDS)}")


def write_private_key(path: Path, key: PrivateKey, passphrase: bytes | None = None) -> None:
    """Write ``key`` as PKCS#8 PEM, readable by its owner only (0600)."""
    algorithm: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm
    )
    _replace(path, pem, 0o600)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file beside ``path`` with ``mode``, then rename it
    over ``path``: a re-issue never leaves a truncated key behind (a crash
    mid-write loses nothing), and a symlink planted at ``path`` is replaced,
    not written through. O_EXCL: the file is new, so ``mode`` (less what the
    umask takes away) is its mode from the first instant."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_private_key(path: Path, passphrase: bytes | None = None) -> PrivateKey:
    """Read a PEM private key; a wrong or missing passphrase is a :class:`CaError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaError(f"cannot read key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError:
        raise CaError(f"{path} is encrypted: a passphrase is needed") from None
    except ValueError:
        # Deliberately vague: neither the key nor the passphrase goes in the message.
        raise CaError(f"cannot load key {path}: bad passphrase or not a PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CaError(f"{path}: only RSA and EC keys are supported")
    return key


def write_certificates(path: Path, certs: list[x509.Certificate]) -> None:
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    _replace(path, pem, 0o666)  # public (the umask decides), replaced whole like the key


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM file (a leaf, or a chain)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaError(f"cannot read certificate {path}: {exc.strerror}") from None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CaError(f"{path} holds no PEM certificate") from None
