"""An in-memory SIP network for UA tests: every node is a transaction user
(a :class:`UserAgent`, or the test registrar below) with its own
:class:`TransactionLayer`; :meth:`Net.pump` carries what each layer wants
sent — serialized and parsed again, as a socket would — to the node at the
destination, feeds the layer events back to the node, and answers name
resolutions from a static hosts map. A fake clock moves only when the
test says so (aioquic ``tests/test_connection.py`` shape).

Far ends written for the tests: :class:`Registrar` (§10.3 with a real
``DigestServer``), :class:`ScriptedUas` (answers what the test says, for
forking and challenges) and :class:`RecordRoutingProxy` (stateless, adds
Record-Route)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from sipsec.auth import (
    Algorithm,
    Authenticated,
    DigestServer,
    FailureLimiter,
    MalformedCredentials,
    ReplayedNonce,
    StaleNonce,
    compute_ha1,
)
from sipsec.errors import RemoteProtocolError
from sipsec.sip import Request, Response, make_response, parse_message
from sipsec.transaction import Peer, RequestReceived, TimerConfig, TransactionLayer
from sipsec.ua import Call, IncomingCall, UaConfig, UaEvent, UserAgent

ALICE = Peer("udp", "192.0.2.1", 5060)
BOB = Peer("udp", "192.0.2.2", 5060)
REGISTRAR = Peer("udp", "192.0.2.10", 5060)
DOMAIN = "atlanta.example"
PASSWORD = "correct horse battery staple"


def line(message: Request | Response) -> str:
    return message.method if isinstance(message, Request) else str(message.status)


class Registrar:
    """A §10.3 registrar for tests, challenging with a real DigestServer."""

    def __init__(
        self, users: dict[str, str], *, expires_cap: int | None = None, qops: Any = None
    ) -> None:
        self.layer = TransactionLayer()
        self.users = users

        def lookup(username: str, realm: str, algorithm: Algorithm) -> str | None:
            password = users.get(username)
            return None if password is None else compute_ha1(algorithm, username, realm, password)

        self.digest = DigestServer(
            b"registrar-secret-0123456789",
            DOMAIN,
            lookup,
            nonce_lifetime=1000.0,
            **({"qops": qops} if qops is not None else {}),
            source_limiter=FailureLimiter(rate=100, burst=1000),
            user_limiter=FailureLimiter(rate=100, burst=1000),
        )
        self.expires_cap = expires_cap
        self.bindings: dict[str, tuple[str, float]] = {}  # contact -> (aor, expires at)
        self.received: list[Request] = []
        self.challenges = 0
        self.stale_next = False
        self.script: list[tuple[int, tuple[tuple[str, str], ...]]] = []

    def handle_event(self, event: Any, now: float) -> None:
        if not isinstance(event, RequestReceived) or event.transaction_id is None:
            return
        request = event.request
        self.received.append(request)
        tid = event.transaction_id
        if request.method != "REGISTER":
            self.layer.send_response(tid, make_response(request, 405), now)
            return
        if self.script:  # a canned answer the test asked for
            status, headers = self.script.pop(0)
            canned = make_response(request, status)
            for name, value in headers:
                canned.headers.add(name, value)
            self.layer.send_response(tid, canned, now)
            return
        result = self.digest.authenticate(
            request.authorization, method="REGISTER", uri=str(request.uri), now=1e6 + now,
            source=event.source,
        )  # fmt: skip
        if self.stale_next and isinstance(result, Authenticated):
            self.stale_next = False
            result = StaleNonce()
        if not isinstance(result, Authenticated):
            if isinstance(result, MalformedCredentials):
                self.layer.send_response(tid, make_response(request, 400), now)
                return
            stale = isinstance(result, StaleNonce | ReplayedNonce)
            response = make_response(request, 401)
            for challenge in self.digest.challenge(1e6 + now, stale=stale):
                response.headers.add("WWW-Authenticate", str(challenge))
            self.challenges += 1
            self.layer.send_response(tid, response, now)
            return
        assert request.to is not None and request.to.uri is not None
        aor = str(request.to.uri)
        expires = request.expires if request.expires is not None else 3600
        for contact in request.contacts:
            assert contact.uri is not None
            wanted = contact.expires if contact.expires is not None else expires
            if self.expires_cap is not None:
                wanted = min(wanted, self.expires_cap)
            if wanted == 0:
                self.bindings.pop(str(contact.uri), None)
            else:
                self.bindings[str(contact.uri)] = (aor, now + wanted)
        response = make_response(request, 200)
        for contact, (owner, until) in self.bindings.items():
            if owner == aor:
                response.headers.add("Contact", f"<{contact}>;expires={round(until - now)}")
        self.layer.send_response(tid, response, now)

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def resolutions_needed(self) -> list[Any]:
        return []

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        pass


@dataclass
class Net:
    config: TimerConfig = field(default_factory=TimerConfig)
    now: float = 0.0
    nodes: dict[Peer, Any] = field(default_factory=dict)
    hosts: dict[str, list[Peer]] = field(default_factory=dict)
    # (time, source, destination, line) of everything put on the wire
    wire: list[tuple[float, Peer, Peer, str]] = field(default_factory=list)
    # a message is lost when this says so: (source, destination, message)
    drop: Callable[[Peer, Peer, Request | Response], bool] | None = None
    delivered: list[tuple[Peer, Peer, Request | Response]] = field(default_factory=list)

    def ua(self, peer: Peer, aor: str, **kwargs: Any) -> UserAgent:
        config = UaConfig(
            aor,
            contact={peer.transport: peer.address},
            timers=self.config,
            **kwargs,
        )
        ua = UserAgent(config, rng=random.Random(7))
        self.nodes[peer] = ua
        return ua

    def pump(self) -> None:
        """Deliver until nothing moves."""
        for _ in range(10_000):
            moved = False
            for peer, node in list(self.nodes.items()):
                for event in iter(node.layer.next_event, None):
                    node.handle_event(event, self.now)
                    moved = True
                for token, uri in node.resolutions_needed():
                    node.handle_resolution(token, list(self.hosts.get(uri.host, [])), self.now)
                    moved = True
                for out in node.layer.messages_to_send():
                    moved = True
                    self.deliver(peer, out.destination, out.message)
            if not moved:
                return
        raise AssertionError("the network never went quiet")

    def deliver(self, source: Peer, destination: Peer, message: Request | Response) -> None:
        destination = destination.without_connection()
        self.wire.append((self.now, source, destination, line(message)))
        if self.drop is not None and self.drop(source, destination, message):
            return
        node = self.nodes.get(destination)
        if node is None:
            return
        parsed = parse_message(bytes(message))
        self.delivered.append((source, destination, parsed))
        try:
            node.layer.receive(parsed, source, self.now)
        except RemoteProtocolError:
            pass  # the driver answers 400 or drops it

    def next_deadline(self) -> float | None:
        deadlines = []
        for node in self.nodes.values():
            for deadline in (node.layer.get_timer(), node.get_timer()):
                if deadline is not None:
                    deadlines.append(deadline)
        return min(deadlines, default=None)

    def run(self, until: float) -> None:
        """Fire every timer due up to ``until``, in order, pumping after each."""
        self.pump()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > until:
                break
            self.now = max(self.now, deadline)
            for node in list(self.nodes.values()):
                node.layer.handle_timer(self.now)
                node.handle_timer(self.now)
            self.pump()
        self.now = max(self.now, until)

    def sent(self, source: Peer, what: str) -> list[float]:
        """When ``source`` put ``what`` (a method or status) on the wire."""
        return [t for t, s, _, name in self.wire if s == source and name == what]


def events(ua: UserAgent) -> list[UaEvent]:
    return list(iter(ua.next_ua_event, None))


@pytest.fixture
def net() -> Net:
    return Net()


class ScriptedUas:
    """A far end driven by the test: it records what arrives and answers
    what the test tells it to, through a real transaction layer."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.layer = TransactionLayer()
        self.requests: list[tuple[int | None, Request]] = []
        self.on_request: Callable[[int, Request, float], None] | None = None

    def handle_event(self, event: Any, now: float) -> None:
        if isinstance(event, RequestReceived):
            self.requests.append((event.transaction_id, event.request))
            if (
                event.transaction_id is not None
                and event.request.method != "ACK"
                and self.on_request is not None
            ):
                self.on_request(event.transaction_id, event.request, now)

    def respond(
        self, tid: int, request: Request, status: int, now: float, *, tag: str | None = None,
        contact: str | None = None, headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:  # fmt: skip
        response = make_response(request, status, to_tag=tag)
        if contact is not None:
            response.headers.add("Contact", f"<{contact}>")
        for name, value in headers:
            response.headers.add(name, value)
        self.layer.send_response(tid, response, now)
        return response

    def methods(self) -> list[str]:
        return [r.method for _, r in self.requests]

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def resolutions_needed(self) -> list[Any]:
        return []

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        pass


class RecordRoutingProxy:
    """A stateless, record-routing proxy (§16.11, much simplified) for tests:
    it pops its own Route, rewrites a known AOR to its contact, adds a Via
    (branch derived from the incoming one, so a CANCEL follows its INVITE,
    §16.11) and a Record-Route to dialog-making INVITEs, and sends responses
    back along the Vias. It is its own "layer"."""

    def __init__(self, peer: Peer, location: dict[str, str]) -> None:
        self.peer = peer
        self.location = location
        self.outgoing: list[Any] = []
        self.forwarded: list[str] = []

    @property
    def layer(self) -> RecordRoutingProxy:
        return self

    def receive(self, message: Request | Response, source: Peer, now: float) -> None:
        from hashlib import sha256

        from sipsec.sip import parse_uri
        from sipsec.transaction import Outgoing
        from sipsec.ua.addressing import static_peer

        message = parse_message(bytes(message))  # ours to change; the test keeps the original
        if isinstance(message, Response):
            message.headers.pop_first("Via")
            via = message.top_via
            assert via is not None
            destination = Peer("udp", via.received or via.host, via.port or 5060)
            self.outgoing.append(Outgoing(message, destination, None))
            return
        routes = message.headers.get_all("Route")
        if routes and self.peer.host in routes[0]:
            message.headers.pop_first("Route")
            routes = routes[1:]
        to = message.to
        if message.method == "INVITE" and to is not None and to.tag is None:
            message.headers.prepend("Record-Route", f"<sip:{self.peer.host};lr>")
        contact = self.location.get(str(message.uri))
        if contact is not None:
            message.uri = contact
        target = parse_uri(routes[0].strip("<>")) if routes else message.uri
        destination = static_peer(target)
        assert destination is not None
        via = message.top_via
        assert via is not None
        branch = "z9hG4bK" + sha256(f"{via.branch}".encode()).hexdigest()[:16]
        message.headers.prepend(
            "Via", f"SIP/2.0/UDP {self.peer.host}:{self.peer.port};branch={branch}"
        )
        self.forwarded.append(message.method)
        self.outgoing.append(Outgoing(message, destination, None))

    def messages_to_send(self) -> list[Any]:
        out, self.outgoing = self.outgoing, []
        return out

    def next_event(self) -> None:
        return None

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def resolutions_needed(self) -> list[Any]:
        return []


# -- two UAs and an established call, for the flow tests ----------------------------
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
BOB_URI = "sip:bob@192.0.2.2:5060"


def pair(net: Net) -> tuple[UserAgent, UserAgent]:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    return alice, bob


def incoming(bob: UserAgent) -> IncomingCall:
    found = [e for e in events(bob) if isinstance(e, IncomingCall)]
    assert len(found) == 1
    return found[0]


def establish(net: Net, alice: UserAgent, bob: UserAgent) -> tuple[Call, Call]:
    call = alice.invite(BOB_URI, net.now, body=SDP, content_type="application/sdp")
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.pump()
    bob.answer(theirs, net.now, body=SDP, content_type="application/sdp")
    net.pump()
    return call, theirs
