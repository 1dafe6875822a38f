"""The S/MIME tests use the same small PKI as the CA tests (a CA, Alice
RSA-2048, Bob P-256, Carol RSA-3072, a domain, an untrusted stranger CA, PEM
copies for openssl): one definition, in ``tests/ca/conftest.py``."""

from __future__ import annotations

from ..ca.conftest import NOW, Party, Pki, pki

__all__ = ["NOW", "Party", "Pki", "pki"]
