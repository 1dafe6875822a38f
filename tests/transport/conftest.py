"""Fixtures shared by the transport tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sipsec.transport.sip import SipTransport

from .._pki import Pki as SharedPki
from ._e1_pki import Pki, make_pki
from ._proxy_helpers import Closing


@pytest.fixture
async def made() -> AsyncIterator[list[SipTransport]]:
    """Transports a test creates (see ``_e1_live.new_transport``), closed after it."""
    transports: list[SipTransport] = []
    yield transports
    for transport in transports:
        await transport.close()


@pytest.fixture
async def closing() -> AsyncIterator[Closing]:
    """Proxies and endpoints a test starts (see ``_proxy_helpers.start_proxy``),
    closed after it in reverse order."""
    items: Closing = []
    yield items
    for item in reversed(items):
        await item.close()


@pytest.fixture(scope="session")
def pki(pki: SharedPki, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The suite's PKI (this overrides the top-level fixture and builds on it)
    plus the deliberately wrong certificates of the TLS peer-check tests."""
    return make_pki(tmp_path_factory.mktemp("tls-pki"), pki)
