"""Fixtures for the whole suite: the one test PKI (see ``_pki.py``)."""

from __future__ import annotations

import pytest

from ._pki import Pki, shared


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Root CA, atlanta.example and biloxi.example domain certificates, Alice's
    and Bob's user certificates: built once, PEM files in a session temp dir.

    A directory's own ``pki`` fixture (tests/ca, tests/smime: a fixed clock and
    RSA keys) overrides this one there."""
    return shared(tmp_path_factory.mktemp("pki"))
