"""Fixtures shared by the transport tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sipsec.transport.sip import SipTransport


@pytest.fixture
async def made() -> AsyncIterator[list[SipTransport]]:
    """Transports a test creates (see ``_e1_live.new_transport``), closed after it."""
    transports: list[SipTransport] = []
    yield transports
    for transport in transports:
        await transport.close()
