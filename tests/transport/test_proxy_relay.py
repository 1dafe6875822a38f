"""The fast relay's shell (:mod:`sipsec.transport.proxy_relay`) and run_proxy
with the relay on loopback UDP: raw sockets play the user
agents, so every byte is ours to choose; the relay takes the call, the full
path's transaction layer never sees its messages, and the full path keeps
what is its own (a challenged INVITE's ACK and CANCEL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.proxy import ContactUpdate, ProxyConfig, RegisterUpdate
from sipsec.proxy.relay import PREFIX, FastRelay
from sipsec.proxy.relay_timers import TimerQueue
from sipsec.proxy.relay_txn import RelayTxn
from sipsec.sip import Request, Response, make_response, parse_message
from sipsec.transaction import Peer as Hop
from sipsec.transaction import TimerConfig
from sipsec.transport.errors import TransportFailure
from sipsec.transport.proxy_app import ProxyServer
from sipsec.transport.proxy_relay import SLOTS_PER_T1, RelayShell, wake_slot
from sipsec.transport.sip import SipTransport, _Datagrams

from ._e1_fakes import FakeDatagrams
from ._e1_harness import private_loop
from ._proxy_helpers import ATLANTA, Closing, start_proxy

WAIT = 5.0  # seconds a scripted peer waits for a datagram before the test fails


class Peer(asyncio.DatagramProtocol):
    """A raw UDP socket on 127.0.0.1 and a queue of what it received."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.queue.put_nowait(data)

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    async def next(self) -> Request | Response:
        return parse_message(await asyncio.wait_for(self.queue.get(), WAIT))

    async def nothing(self, seconds: float = 0.3) -> None:
        """Nothing arrives for a while (a bounded wait, not a timing assertion)."""
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.queue.get(), seconds)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@pytest.fixture
async def closing() -> AsyncIterator[Closing]:
    items: Closing = []
    yield items
    for item in reversed(items):
        await item.close()


@pytest.fixture
async def peers() -> AsyncIterator[tuple[Peer, Peer]]:
    loop = asyncio.get_running_loop()
    made = []
    for _ in range(2):
        _, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
        made.append(peer)
    yield made[0], made[1]
    for peer in made:
        peer.close()


def _request(method: str, uri: str, branch: str, port: int, **kw: str) -> bytes:
    to = "<sip:bob@atlanta.example>" + (f";tag={kw['to_tag']}" if "to_tag" in kw else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport",
        "Max-Forwards: 70",
        "From: <sip:alice@atlanta.example>;tag=atag",
        f"To: {to}",
        f"Call-ID: {kw.get('call_id', 'relay-call')}",
        f"CSeq: {kw.get('cseq', '1')} {method}",
        *([f"Route: {kw['route']}"] if "route" in kw else []),
        f"Contact: <sip:alice@127.0.0.1:{port}>",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(request: Request | Response, status: int) -> bytes:
    assert isinstance(request, Request)
    response = make_response(request, status, to_tag="btag")
    for value in request.headers.get_all("record-route"):
        response.headers.add("Record-Route", value)
    return bytes(response)


async def _proxy(closing: Closing, bob: Peer, **config: object) -> ProxyServer:
    server = await start_proxy(closing, ProxyConfig(ATLANTA, authenticate_invites=False, **config))  # type: ignore[arg-type]
    update = RegisterUpdate("reg", 1, (ContactUpdate(f"sip:bob@127.0.0.1:{bob.port}", 3600),))
    now = server.core.wall(asyncio.get_running_loop().time())
    server.core.location.register("sip:bob@atlanta.example", update, now)
    return server


async def test_a_call_goes_through_the_relay_and_never_the_full_path(
    closing: Closing, peers: tuple[Peer, Peer]
) -> None:
    alice, bob = peers
    server = await _proxy(closing, bob)
    port = server.addresses[0].port
    assert server.relay is not None
    alice.send(_request("INVITE", "sip:bob@atlanta.example", "z9hG4bKi1", alice.port), port)
    trying = await alice.next()
    assert isinstance(trying, Response) and trying.status == 100
    invite = await bob.next()
    assert isinstance(invite, Request) and invite.method == "INVITE"
    top = invite.top_via
    assert top is not None and top.branch is not None and top.branch.encode().startswith(PREFIX)
    assert invite.headers.get_all("record-route") == [f"<sip:127.0.0.1:{port};lr>"]
    assert invite.max_forwards == 69 and str(invite.uri) == f"sip:bob@127.0.0.1:{bob.port}"
    bob.send(_answer(invite, 180), port)
    bob.send(_answer(invite, 200), port)
    assert [(await alice.next()).status for _ in range(2)] == [180, 200]  # type: ignore[union-attr]
    route = f"<sip:127.0.0.1:{port};lr>"
    bob_uri = f"sip:bob@127.0.0.1:{bob.port}"
    alice.send(_request("ACK", bob_uri, "z9hG4bKa1", alice.port, to_tag="btag", route=route), port)
    ack = await bob.next()
    assert isinstance(ack, Request) and ack.method == "ACK" and "route" not in ack.headers
    alice.send(
        _request("BYE", bob_uri, "z9hG4bKb1", alice.port, to_tag="btag", route=route, cseq="2"),
        port,
    )
    bye = await bob.next()
    bob.send(_answer(bye, 200), port)
    assert (await alice.next()).status == 200  # type: ignore[union-attr]
    stats = server.stats
    assert stats["relay_requests"] == 2 and stats["relay_acks"] == 1
    assert len(server.core.layer) == 0  # the full path's layer never saw a message of the call
    assert [(r.method, r.status) for r in server.core.log] == [("INVITE", 200), ("BYE", 200)]


async def test_the_full_path_keeps_the_ack_and_cancel_of_its_own_transactions(
    closing: Closing, peers: tuple[Peer, Peer]
) -> None:
    """A request the relay declines (here: a Require it will not judge) is the
    full path's; so is the ACK of its non-2xx and a retransmission of it, even
    though the relay could forward an ACK of that shape."""
    alice, bob = peers
    server = await _proxy(closing, bob)
    port = server.addresses[0].port
    invite = _request("INVITE", "sip:bob@atlanta.example", "z9hG4bKf1", alice.port)
    invite = invite.replace(b"Content-Length: 0", b"Require: foo\r\nContent-Length: 0")
    alice.send(invite, port)
    assert (await alice.next()).status == 100  # type: ignore[union-attr]
    forwarded = await bob.next()
    top = forwarded.top_via
    assert top is not None and not str(top.branch).encode().startswith(PREFIX)
    alice.send(invite, port)  # the full path's retransmission: its 100 again
    assert (await alice.next()).status == 100  # type: ignore[union-attr]
    alice.send(_request("CANCEL", "sip:bob@atlanta.example", "z9hG4bKf1", alice.port), port)
    assert (await alice.next()).status == 200  # type: ignore[union-attr]
    bob.send(_answer(forwarded, 486), port)
    ours = await bob.next()  # §17.1.1.3; the CANCEL never went: no 1xx came first (§9.1)
    assert isinstance(ours, Request) and ours.method == "ACK"
    busy = await alice.next()
    assert isinstance(busy, Response) and busy.status == 486
    ack = _request("ACK", "sip:bob@atlanta.example", "z9hG4bKf1", alice.port, to_tag="btag")
    alice.send(ack, port)
    await bob.nothing()  # the non-2xx ACK was absorbed by the full path, not forwarded
    stats = server.stats
    assert stats.get("relay_requests", 0) == 0 and stats.get("relay_acks", 0) == 0


async def test_fast_relay_off_leaves_the_transport_as_it_was(
    closing: Closing, peers: tuple[Peer, Peer]
) -> None:
    alice, bob = peers
    server = await _proxy(closing, bob, fast_relay=False)
    assert server.relay is None and server.endpoint.transport.on_datagram is None
    port = server.addresses[0].port
    alice.send(_request("OPTIONS", "sip:bob@atlanta.example", "z9hG4bKo1", alice.port), port)
    options = await bob.next()
    top = options.top_via
    assert top is not None and not str(top.branch).encode().startswith(PREFIX)
    bob.send(_answer(options, 200), port)
    assert (await alice.next()).status == 200  # type: ignore[union-attr]


async def test_a_hook_that_declines_or_fails_leaves_the_datagram_to_the_parser() -> None:
    received: list[Request | Response] = []
    transport = SipTransport(on_message=lambda m, p: received.append(m))
    calls: list[bytes] = []

    def hook(data: bytes, source: tuple[str, int]) -> bool:
        calls.append(data)
        if b"fail" in data:
            raise RuntimeError("boom")
        return b"take" in data

    transport.on_datagram = hook
    listener = await transport.listen("udp", "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        for word in ("take", "keep", "fail"):
            data = _request("OPTIONS", f"sip:{word}@atlanta.example", f"z9hG4bK{word}", 1)
            sender.sendto(data, listener.address)
        for _ in range(200):
            if len(calls) == 3 and len(received) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(calls) == 3
        assert sorted(str(m.uri) for m in received if isinstance(m, Request)) == [
            "sip:fail@atlanta.example",
            "sip:keep@atlanta.example",
        ]
        assert transport.stats["callback_errors"] == 1
    finally:
        sender.close()
        await transport.close()


# -- RelayShell: its timer slots and its datagram path, against a scripted relay ------------------
class ScriptedRelay:
    """FastRelay's sans-IO surface, scripted: ``deadline`` is what
    get_timer answers, ``taken`` what receive answers, ``out`` its output."""

    def __init__(self, t1: float = 0.5) -> None:
        self.timers = TimerConfig(t1=t1)
        self.stats: Counter[str] = Counter()
        self.deadline: float | None = None
        self.taken = True
        self.out: list[tuple[bytes, tuple[str, int]]] = []
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.fired: list[float] = []
        self.fired_event = asyncio.Event()
        self.queue = self  # its deadline moves as the script says: always "queued before"

    def queued_before(self, at: float) -> bool:
        return True

    def receive(self, data: bytes, source: tuple[str, int], now: float) -> bool:
        self.received.append((data, source))
        return self.taken

    def datagrams_to_send(self) -> list[tuple[bytes, tuple[str, int]]]:
        out, self.out = self.out, []
        return out

    def get_timer(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        self.fired.append(now)
        if self.deadline is not None and self.deadline <= now:
            self.deadline = None
        self.fired_event.set()


class SentDatagrams:
    """SipTransport.send_datagram, recorded; ``fail`` raises as a closed one would."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.fail = False

    def send_datagram(self, data: bytes, address: tuple[str, int]) -> None:
        if self.fail:
            raise TransportFailure("the transport is closed")
        self.sent.append((data, address))


def _shell(relay: ScriptedRelay, sent: SentDatagrams | None = None) -> RelayShell:
    return RelayShell(cast(FastRelay, relay), cast(SipTransport, sent or SentDatagrams()))


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    yield from private_loop()


@settings(max_examples=1000, deadline=None)
@given(
    due=st.floats(0, 1e7, allow_nan=False),
    step=st.sampled_from([0.001, 0.05, 0.5, 2.0, 1 / 3]).map(lambda t1: t1 / SLOTS_PER_T1),
)
def test_a_slot_is_never_before_its_deadline_and_at_most_one_slot_after(
    due: float, step: float
) -> None:
    wake = wake_slot(due, step)
    assert due <= wake <= due + step + 1e-9 * max(1.0, due)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.none(), st.floats(0, 100, allow_nan=False)), min_size=1, max_size=30))
def test_the_one_handle_wakes_no_later_than_the_slot_of_the_earliest_deadline(
    loop: asyncio.AbstractEventLoop, deadlines: list[float | None]
) -> None:
    """Whatever order the relay's earliest deadline moves in, after each
    datagram the handle is armed no later than that deadline's slot (so no
    timer is ever later than its slot, the general rule being "on time"),
    and it is re-armed only when that slot is earlier than the armed one."""

    async def check() -> None:
        relay = ScriptedRelay()
        shell = _shell(relay)
        loop = asyncio.get_running_loop()
        base = loop.time() + 1000  # far ahead: nothing fires during the test
        arms = 0
        for deadline in deadlines:
            relay.deadline = None if deadline is None else base + deadline
            before = shell.wake_at
            assert shell.datagram(b"x", ("127.0.0.1", 5060))
            after = shell.wake_at
            if relay.deadline is not None:
                assert after is not None and after <= shell.slot(relay.deadline)
                assert before is None or after <= before
            else:
                assert after == before
            arms += after != before
        shell.close()
        assert shell.wake_at is None
        assert arms <= len(deadlines)

    loop.run_until_complete(check())


class AlwaysAsks(TimerQueue):
    """A TimerQueue that never lets the shell skip reading its earliest deadline."""

    def queued_before(self, at: float) -> bool:
        super().queued_before(at)
        return True


class QueueRelay:
    """FastRelay's timer side on a real TimerQueue: each datagram applies
    one scripted queue operation, as a request or response would."""

    def __init__(self, queue: TimerQueue, script: list[tuple[str, int, float]], base: float):
        self.timers = TimerConfig()
        self.stats: Counter[str] = Counter()
        self.queue = queue
        self.script = iter(script)
        self.base = base
        self.txns = [
            RelayTxn((b"b%d" % i, b"h", b"M"), "INVITE", ("h", 1), None, 0.0) for i in range(4)
        ]

    def receive(self, data: bytes, source: tuple[str, int], now: float) -> bool:
        op, i, at = next(self.script)
        txn, deadline = self.txns[i], self.base + at
        if op == "push" and txn.due is None:
            self.queue.push(txn, deadline)
        elif op == "arm":
            self.queue.arm(txn, f"t{int(at) % 3}", deadline)
        elif op == "stop":
            txn.timers.clear()
        elif op == "pop":
            while (due := self.queue.pop_due(deadline)) is not None:
                for name in [n for n, d in due.timers.items() if d <= deadline]:
                    del due.timers[name]
                self.queue.reschedule(due)
        elif op == "gone":
            txn.gone = True
        return True

    def datagrams_to_send(self) -> list[tuple[bytes, tuple[str, int]]]:
        return []

    def get_timer(self) -> float | None:
        return self.queue.next()


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["push", "arm", "arm", "stop", "pop", "gone"]),
            st.integers(0, 3),
            st.floats(0, 10, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_skipping_get_timer_arms_exactly_what_reading_it_every_time_arms(
    loop: asyncio.AbstractEventLoop, script: list[tuple[str, int, float]]
) -> None:
    """The shell reads the relay's earliest deadline after a datagram only
    when the queue says something was queued before its armed wake-up
    (TimerQueue.queued_before): the same script on a queue that always says
    so must leave the handle armed at the same time after every datagram."""

    async def check() -> None:
        base = asyncio.get_running_loop().time() + 1000  # nothing fires during the test
        relays = [QueueRelay(TimerQueue(), script, base), QueueRelay(AlwaysAsks(), script, base)]
        shells = [
            RelayShell(cast(FastRelay, r), cast(SipTransport, SentDatagrams())) for r in relays
        ]
        for _ in script:
            for shell in shells:
                assert shell.datagram(b"x", ("127.0.0.1", 5060))
            assert shells[0].wake_at == shells[1].wake_at
            due = relays[1].get_timer()
            if due is not None:
                wake = shells[0].wake_at
                assert wake is not None and wake <= shells[0].slot(due)
        for shell in shells:
            shell.close()

    loop.run_until_complete(check())


async def test_a_due_timer_wakes_the_relay_and_what_it_sends_goes_out() -> None:
    relay, sent = ScriptedRelay(t1=0.05), SentDatagrams()
    shell = _shell(relay, sent)
    relay.deadline = asyncio.get_running_loop().time()
    relay.out = [(b"forwarded", ("127.0.0.1", 5080))]
    assert shell.datagram(b"INVITE", ("127.0.0.1", 5070))
    assert sent.sent == [(b"forwarded", ("127.0.0.1", 5080))]
    await asyncio.wait_for(relay.fired_event.wait(), WAIT)
    assert len(relay.fired) == shell.wakeups == 1
    assert relay.deadline is None and shell.wake_at is None  # nothing left to wait for
    shell.close()


async def test_a_declined_datagram_sends_nothing_and_a_failed_send_is_counted() -> None:
    relay, sent = ScriptedRelay(), SentDatagrams()
    shell = _shell(relay, sent)
    relay.taken = False
    relay.out = [(b"not yet", ("127.0.0.1", 5080))]
    assert not shell.datagram(b"REGISTER", ("127.0.0.1", 5070))
    assert sent.sent == []  # the full path takes it; the relay's output waits
    relay.taken, sent.fail = True, True
    assert shell.datagram(b"INVITE", ("127.0.0.1", 5070))
    assert relay.stats["relay_send_errors"] == 1 and relay.out == []
    shell.close()


async def test_a_failing_relay_timer_is_counted_and_retried_a_slot_later() -> None:
    relay = ScriptedRelay(t1=0.05)
    shell = _shell(relay)
    failed_at: list[float] = []

    def boom(now: float) -> None:
        failed_at.append(now)
        relay.fired_event.set()
        raise ValueError("boom")

    relay.handle_timer = boom  # type: ignore[method-assign]
    relay.deadline = asyncio.get_running_loop().time()  # due, and it stays due
    shell.datagram(b"x", ("127.0.0.1", 5070))
    await asyncio.wait_for(relay.fired_event.wait(), WAIT)
    assert relay.stats["relay_errors"] == len(failed_at) == 1
    # Not re-armed in the past (a loop spinning on the failure): a slot on.
    wake = shell.wake_at
    assert wake is not None and wake >= failed_at[0] + 0.05 / SLOTS_PER_T1
    shell.close()


def test_the_datagram_source_reaches_the_hook_as_it_reaches_the_parser() -> None:
    """The relay's hook and the full path see one source: the same IPv4
    tuple object (no copy per datagram), and (host, port) of an IPv6 one."""
    hooked: list[tuple[str, int]] = []
    parsed: list[Hop] = []
    transport = SipTransport(on_message=lambda m, p: parsed.append(p))
    transport.on_datagram = lambda data, source: bool(hooked.append(source)) or b"take" in data
    sock = _Datagrams(transport)
    sock.connection_made(FakeDatagrams(("127.0.0.1", 5060)))
    v4 = ("127.0.0.1", 5070)
    v6 = ("::1", 5071, 0, 0)
    for word, addr in (("take", v4), ("keep", v4), ("take", v6), ("keep", v6)):
        uri = f"sip:{word}@atlanta.example"
        sock.datagram_received(_request("OPTIONS", uri, f"z9hG4bK{word}", 1), addr)
    assert hooked[0] is v4 and hooked[1] is v4
    assert hooked[2:] == [("::1", 5071), ("::1", 5071)]
    assert [(p.host, p.port) for p in parsed] == [("127.0.0.1", 5070), ("::1", 5071)]
