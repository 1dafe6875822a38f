"""The plumbing under UaApp (sipsec.transport.ua_app_base): state before
start, start and release on loopback UDP, media sessions kept and dropped,
and the event waits — with no call placed."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from sipsec.transport.ua_app import UaApp
from sipsec.transport.ua_app_base import UaAppBase, wall_clock
from sipsec.transport.ua_settings import UaAppError, UaSettings
from sipsec.ua import CallEnded, UaEvent, Unregistered

ALICE = "sip:alice@atlanta.example"


def test_wall_clock_is_aware_utc() -> None:
    now = wall_clock()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)


def test_the_app_is_built_on_the_base() -> None:
    app = UaApp(UaSettings(ALICE))
    assert isinstance(app, UaAppBase)
    assert app.transport == "udp" and app.ua is None and app.calls == {}
    assert not app.hop_is_tls  # no target


async def test_nothing_works_before_start() -> None:
    app = UaAppBase(UaSettings(ALICE))
    with pytest.raises(UaAppError) as info:
        app._parts()
    assert info.value.kind == "usage"
    await app._release()  # releasing what was never opened is fine


async def test_start_attaches_the_core_and_release_closes_everything() -> None:
    notes: list[str] = []
    app = UaAppBase(UaSettings(ALICE, on_note=notes.append))
    await app.start()
    try:
        endpoint, ua, pump = app._parts()
        assert pump.ua is ua and endpoint.resolver is not None
        assert app.local is not None and app.local.host == "127.0.0.1" and app.local.port > 0
        assert ua.config.contact["udp"] == (app.advertised, app.local.port)
        assert ua.config.outbound_proxy is None
        media = await app._new_media()
        assert media in app._sessions
        app._drop(media)
        assert media not in app._sessions
        kept = await app._new_media()
    finally:
        await app._release()
    assert app._sessions == set()
    assert kept not in app._sessions


async def test_waiting_takes_only_the_kinds_asked_for() -> None:
    app = UaAppBase(UaSettings(ALICE))
    queue: asyncio.Queue[UaEvent] = asyncio.Queue()
    queue.put_nowait(Unregistered())
    ended = CallEnded(None, True, "BYE")  # type: ignore[arg-type]
    queue.put_nowait(ended)
    got = await app._next_of(queue, (CallEnded,), 1.0)
    assert got is ended and queue.empty()
    assert await app._next_of(queue, (CallEnded,), 0.0) is None  # timed out, empty
