"""What the UaApp tests share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sipsec.transport.ua_app import UaApp, UaSettings


@contextlib.asynccontextmanager
async def running(settings: UaSettings) -> AsyncIterator[UaApp]:
    """A started UaApp, closed on the way out whatever happened."""
    app = UaApp(settings)
    try:
        await app.start()
        yield app
    finally:
        await app.close()
