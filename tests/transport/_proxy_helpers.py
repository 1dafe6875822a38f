"""Scripted user agents and proxies for the ``run_proxy`` tests
(``test_proxy_app.py``): the steps every one of those tests repeats.

A :class:`ScriptedUa` is a TransactionUser over a real SipEndpoint that only
records: the test writes every message. :func:`start_proxy` runs a proxy on
loopback ports with its users in SQLite; :func:`register`, :func:`call` and
:func:`invite_answered_486` are the exchanges of RFC 3261 §10, §13 and §22
the tests check along the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sipsec.auth import DigestClient, Retry
from sipsec.proxy import ProxyConfig, SqliteCredentialStore, make_credential
from sipsec.sip import Request, Response, SipUri, make_response
from sipsec.transaction import (
    Event,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionLayer,
    TransportName,
)
from sipsec.transport.endpoint import SipEndpoint
from sipsec.transport.proxy_app import ProxyServer, run_proxy
from sipsec.transport.resolver import Resolver

from ..proxy._e3_harness import request, retried

TIMEOUT = 5.0
ATLANTA = "atlanta.example"
# What a test started, closed in reverse order at teardown (the ``closing`` fixture).
Closing = list[ProxyServer | SipEndpoint]


class ScriptedUa:
    """A TransactionUser that only records; the test writes every message."""

    def __init__(self, endpoint: SipEndpoint, name: str, domain: str) -> None:
        self._layer = TransactionLayer()
        self.endpoint, self.name, self.domain = endpoint, name, domain
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.address: Peer | None = None

    @property
    def layer(self) -> TransactionLayer:
        return self._layer

    def handle_event(self, event: Event, now: float) -> None:
        self.events.append(event)
        self.changed.set()

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        return []

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        pass

    @property
    def aor(self) -> str:
        return f"sip:{self.name}@{self.domain}"

    @property
    def contact(self) -> str:
        assert self.address is not None
        return f"<sip:{self.name}@{self.address.host}:{self.address.port}>"

    async def wait(self, match: Callable[[Event], bool]) -> Event:
        async def loop() -> Event:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if match(event):
                        self.events.remove(event)
                        return event
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(loop(), TIMEOUT)

    async def final(self, tid: int) -> Response:
        def is_final(event: Event) -> bool:
            return (
                isinstance(event, ResponseReceived)
                and event.transaction_id == tid
                and event.response.status >= 200
            )

        event = await self.wait(is_final)
        assert isinstance(event, ResponseReceived)
        return event.response

    async def incoming(self, method: str) -> RequestReceived:
        def wanted(event: Event) -> bool:
            return isinstance(event, RequestReceived) and event.request.method == method

        event = await self.wait(wanted)
        assert isinstance(event, RequestReceived)
        return event

    def send(self, req: Request, proxy: Peer) -> int:
        tid = self._layer.send_request(req, proxy, self.endpoint.now())
        self.endpoint.poke()
        return tid

    def reply(self, event: RequestReceived, status: int, **headers: str) -> Response:
        response = make_response(event.request, status, to_tag=f"{self.name}tag")
        for name, value in headers.items():
            response.headers.add(name.replace("_", "-"), value)
        for value in event.request.headers.get_all("record-route"):
            response.headers.add("Record-Route", value)
        assert event.transaction_id is not None
        self._layer.send_response(event.transaction_id, response, self.endpoint.now())
        self.endpoint.poke()
        return response

    async def authorized(self, req: Request, proxy: Peer, password: str) -> tuple[int, Request]:
        """Send, answer the 401/407 with Digest, send again; (tid, request)."""
        first = await self.final(self.send(req, proxy))
        assert first.status in (401, 407), first
        headers = first.www_authenticate if first.status == 401 else first.proxy_authenticate
        flow = DigestClient(self.name, password).start(req.method, str(req.uri), req.body)
        step = flow.challenged(first.status, headers)
        assert isinstance(step, Retry)
        again = retried(req)
        for cred in step.credentials:
            again.headers.add(cred.header_name, str(cred.value))
        return self.send(again, proxy), again


def add_users(db: Path, domain: str, *names: str) -> None:
    """Digest users ``name`` with password ``pw-name`` in the SQLite file ``db``."""
    store = SqliteCredentialStore(str(db))
    try:
        for name in names:
            store.put(make_credential(name, domain, f"pw-{name}"))
    finally:
        store.close()


async def start_proxy(
    closing: Closing,
    config: ProxyConfig | str = ATLANTA,
    *transports: TransportName,
    database: Path | None = None,
    users: Sequence[str] = (),
    **options: Any,
) -> ProxyServer:
    """``run_proxy`` for ``config`` (a domain name for the default config)
    listening on 127.0.0.1 over ``transports`` (UDP when none), on free ports.

    ``users`` go into ``database`` first; ``options`` go to ``run_proxy``
    (``tls`` and ``redis_url`` default to None). Closed after the test."""
    if isinstance(config, str):
        config = ProxyConfig(config)
    if users:
        assert database is not None, "users live in the database"
        add_users(database, config.domain, *users)
    options.setdefault("tls", None)
    options.setdefault("redis_url", None)
    server = await run_proxy(
        config,
        listen=[(t, "127.0.0.1", 0) for t in transports or ("udp",)],
        database=None if database is None else str(database),
        **options,
    )
    closing.append(server)
    return server


async def new_ua(
    closing: Closing,
    name: str,
    domain: str = ATLANTA,
    transport: TransportName = "udp",
    tls: object = None,
) -> ScriptedUa:
    """A scripted UA for ``name@domain`` listening on a free loopback port."""
    endpoint = SipEndpoint(tls=tls, resolver=Resolver(use_dns=False))  # type: ignore[arg-type]
    closing.append(endpoint)
    ua = ScriptedUa(endpoint, name, domain)
    ua.address = await endpoint.listen(transport, "127.0.0.1", 0)
    endpoint.attach(ua)
    return ua


async def new_uas(closing: Closing, *names: str, domain: str = ATLANTA) -> list[ScriptedUa]:
    """One UDP :func:`new_ua` per name, all of ``domain``."""
    return [await new_ua(closing, name, domain) for name in names]


def register_request(
    ua: ScriptedUa, *, call_id: str, contact: str | None = None, cseq: int = 1
) -> Request:
    """REGISTER of ``ua``'s address-of-record at its domain (RFC 3261 §10.2)."""
    assert ua.address is not None
    return request(
        "REGISTER", f"sip:{ua.domain}", from_=ua.aor, to=ua.aor, via=ua.address,
        contact=contact or ua.contact, call_id=call_id, cseq=cseq,
    )  # fmt: skip


async def register(ua: ScriptedUa, proxy: Peer, contact: str | None = None) -> Response:
    """REGISTER through the 401 (Digest with ``pw-name``); the final response."""
    assert ua.address is not None
    req = register_request(ua, call_id=f"reg-{ua.name}-{ua.address.port}", contact=contact)
    tid, _ = await ua.authorized(req, proxy, f"pw-{ua.name}")
    return await ua.final(tid)


def invite(caller: ScriptedUa, target: str, call_id: str, **fields: Any) -> Request:
    """An INVITE from ``caller`` to ``target`` with the caller's Contact."""
    assert caller.address is not None
    return request(
        "INVITE", target, from_=caller.aor, via=caller.address, contact=caller.contact,
        call_id=call_id, **fields,
    )  # fmt: skip


async def invite_answered_486(
    caller: ScriptedUa, callee: ScriptedUa, req: Request, proxy: Peer
) -> tuple[RequestReceived, Request]:
    """``req`` sent through the 407 (Digest), the callee answers 486 Busy Here,
    the caller gets the 486; (what the callee got, what the caller sent)."""
    tid, sent = await caller.authorized(req, proxy, f"pw-{caller.name}")
    incoming = await callee.incoming("INVITE")
    callee.reply(incoming, 486)
    assert (await caller.final(tid)).status == 486
    return incoming, sent


async def call(alice: ScriptedUa, bob: ScriptedUa, proxy: Peer, target: str) -> list[str]:
    """INVITE (with 407), 180, 200, ACK and BYE along the recorded route;
    returns the Record-Route the callee saw."""
    assert alice.address is not None
    req = invite(alice, target, f"call-{alice.address.port}", to=target)
    tid, _ = await alice.authorized(req, proxy, f"pw-{alice.name}")
    incoming = await bob.incoming("INVITE")
    record_route = incoming.request.headers.get_all("record-route")
    bob.reply(incoming, 180)
    bob.reply(incoming, 200, Contact=bob.contact)
    ok = await alice.final(tid)
    assert ok.status == 200
    route = list(reversed(ok.headers.get_all("record-route")))
    remote = ok.contacts[0].uri
    assert remote is not None and ok.to is not None and ok.to.tag is not None
    for method, cseq in (("ACK", 2), ("BYE", 3)):
        req = request(
            method, str(remote), from_=alice.aor, to=target, via=alice.address,
            call_id=f"call-{alice.address.port}", cseq=cseq, to_tag=ok.to.tag,
            extra=[("Route", r) for r in route],
        )  # fmt: skip
        if method == "ACK":
            alice.endpoint.transport.try_send(req, proxy) or await alice.endpoint.transport.send(
                req, proxy
            )
            ack = await bob.incoming("ACK")
            assert ack.request.cseq is not None and ack.request.cseq.seq == 2
        else:
            bye_tid = alice.send(req, proxy)
            bye = await bob.incoming("BYE")
            bob.reply(bye, 200)
            assert (await alice.final(bye_tid)).status == 200
    return record_route
