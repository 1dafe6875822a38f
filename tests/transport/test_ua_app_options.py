"""``UaApp.options`` on loopback (RFC 3261 §11): the answer reaches the
one who asked, and an OPTIONS — even one whose Digest retry fails — never
disturbs a registration waiting at the same time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sipsec.sip import Request, make_response, parse_message
from sipsec.transport.ua_app import UaAppError, UaSettings
from sipsec.ua import ALLOWED_METHODS

from ._ua_helpers import running

ALICE, BOB = "sip:alice@atlanta.example", "sip:bob@biloxi.example"


async def test_options_to_another_app_returns_its_answer() -> None:
    async with running(UaSettings(BOB, timeout=5.0)) as bob:
        assert bob.local is not None
        async with running(UaSettings(ALICE, timeout=5.0)) as alice:
            target = f"sip:bob@127.0.0.1:{bob.local.port}"
            answer = await alice.options(target)
            assert alice.pump is not None and alice.pump.registration.empty()
            assert alice.pump.unclaimed == 0
    assert (answer.status, answer.target) == (200, target)
    assert answer.allow == list(ALLOWED_METHODS)
    assert answer.response is not None and answer.response.call_id == answer.call_id


async def test_a_bad_target_is_a_usage_error() -> None:
    async with running(UaSettings(ALICE, timeout=5.0)) as alice:
        with pytest.raises(UaAppError) as info:
            await alice.options("tel:+15551234567")
    assert info.value.kind == "usage"


class RegistrarThatChallengesOptions(asyncio.DatagramProtocol):
    """A registrar (REGISTER → 200 with the binding) that answers every
    OPTIONS with a 407 no password satisfies, and holds its REGISTER answer
    until the test releases it — so the OPTIONS's AuthenticationFailed is
    reported while the registration still waits."""

    CHALLENGE = 'Digest realm="atlanta.example", nonce="0123456789abcdef", algorithm=MD5'

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.release = asyncio.Event()
        self.options = 0
        self._registers: set[str] = set()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = parse_message(data)
        if not isinstance(request, Request):
            return
        if request.method == "OPTIONS":
            self.options += 1
            response = make_response(request, 407, to_tag="challenger")
            response.headers.add("Proxy-Authenticate", self.CHALLENGE)
            self._send(response, addr)
        elif request.method == "REGISTER":
            branch = str(request.top_via.branch) if request.top_via else ""
            if branch not in self._registers:  # not a retransmission
                self._registers.add(branch)
                asyncio.get_running_loop().create_task(self._registered(request, addr))

    async def _registered(self, request: Request, addr: tuple[str, int]) -> None:
        await self.release.wait()
        response = make_response(request, 200, to_tag="registrar")
        for contact in request.headers.get_lines("Contact"):
            response.headers.add("Contact", f"{contact};expires=60")
        self._send(response, addr)

    def _send(self, response: object, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)  # type: ignore[call-overload]


async def test_an_options_auth_failure_never_reaches_a_registration_waiter() -> None:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        RegistrarThatChallengesOptions, local_addr=("127.0.0.1", 0)
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        settings = UaSettings(
            ALICE, proxy=f"sip:127.0.0.1:{port}", password="not-the-one", timeout=10.0,
            use_dns=False,
        )  # fmt: skip
        async with running(settings) as alice:
            registering = asyncio.create_task(alice.register())
            # While the REGISTER waits, the OPTIONS is challenged, retried
            # with credentials, challenged again: AuthenticationFailed and a
            # 407 OptionsAnswered — both for the OPTIONS's caller only.
            answer = await alice.options(f"sip:bob@127.0.0.1:{port}")
            assert answer.status == 407 and answer.response is not None
            assert server.options == 2 and not registering.done()
            server.release.set()
            async with asyncio.timeout(10):
                bindings = await registering
            assert alice.pump is not None and alice.pump.registration.empty()
            assert alice.local is not None
            assert [b for b in bindings if f"@127.0.0.1:{alice.local.port}" in b]
    finally:
        transport.close()
