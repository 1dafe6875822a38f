"""In-memory harness for the proxy core: a fake driver, a fake clock, and
scripted user agents that are nothing but hand-built ``sipsec.sip`` messages.

Every message crosses a byte boundary (``parse_message(bytes(m))``) as it
would on the wire, so what the proxy sends must serialize and parse.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from sipsec.auth import DigestClient, Retry
from sipsec.proxy import (
    MemoryCredentialStore,
    MemoryLocationStore,
    ProxyConfig,
    ProxyCore,
    make_credential,
)
from sipsec.sip import Request, Response, SipUri, make_response, parse_message
from sipsec.transaction import Peer

SECRET = b"0123456789abcdef-proxy-secret"
PROXY = Peer("udp", "192.0.2.1", 5060)
ALICE = Peer("udp", "192.0.2.10", 5070)
BOB = Peer("udp", "192.0.2.20", 5080)
BOB2 = Peer("udp", "192.0.2.21", 5081)
BILOXI = Peer("tls", "192.0.2.30", 5061, "biloxi.example")
_DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}
_counter = itertools.count(1)


def wire(message: Request | Response) -> Request | Response:
    """The message as the next hop parses it."""
    return parse_message(bytes(message))


def static_resolve(uri: SipUri, hosts: dict[str, list[Peer]]) -> list[Peer]:
    """What the driver's resolver does for IP literals and the hosts map."""
    if uri.host.lower() in hosts:
        return list(hosts[uri.host.lower()])
    if not uri.host[:1].isdigit():
        return []
    transport = uri.transport or ("tls" if uri.secure else "udp")
    if transport not in ("udp", "tcp", "tls"):
        return []
    return [Peer(transport, uri.host, uri.port or _DEFAULT_PORT[transport])]  # type: ignore[arg-type]


@dataclass
class Sent:
    message: Request | Response
    destination: Peer


@dataclass
class Net:
    """A proxy core and the fake driver around it."""

    core: ProxyCore
    hosts: dict[str, list[Peer]] = field(default_factory=dict)
    now: float = 1000.0
    sent: list[Sent] = field(default_factory=list)
    unresolved: bool = False  # hold resolutions (to test CANCEL before forwarding)
    held: list[tuple[int, SipUri]] = field(default_factory=list)

    def pump(self) -> None:
        core = self.core
        for _ in range(100):
            busy = False
            while (event := core.layer.next_event()) is not None:
                busy = True
                core.handle_event(event, self.now)
            for item in core.layer.messages_to_send():
                busy = True
                self.sent.append(Sent(wire(item.message), item.destination))
            for token, uri in core.resolutions_needed():
                busy = True
                if self.unresolved:
                    self.held.append((token, uri))
                else:
                    core.handle_resolution(token, static_resolve(uri, self.hosts), self.now)
            if not busy:
                return
        raise AssertionError("the core kept the driver busy")

    def release(self) -> None:
        self.unresolved = False
        held, self.held = self.held, []
        for token, uri in held:
            self.core.handle_resolution(token, static_resolve(uri, self.hosts), self.now)
        self.pump()

    def deliver(self, message: Request | Response, source: Peer) -> None:
        self.core.layer.receive(wire(message), source, self.now, reliable=source.reliable)
        self.pump()

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while True:
            deadlines = [self.core.layer.get_timer(), self.core.get_timer()]
            due = min((d for d in deadlines if d is not None), default=None)
            if due is None or due > target:
                break
            self.now = max(self.now, due)
            self.core.layer.handle_timer(self.now)
            self.core.handle_timer(self.now)
            self.pump()
        self.now = target

    def take(self) -> list[Sent]:
        out, self.sent = self.sent, []
        return out

    def to(self, peer: Peer) -> list[Request | Response]:
        """Take what was sent to ``peer`` (other messages stay queued)."""
        mine = [s.message for s in self.sent if s.destination.address == peer.address]
        self.sent = [s for s in self.sent if s.destination.address != peer.address]
        return mine


def make_net(
    *,
    users: Iterable[tuple[str, str]] = (("alice", "secret-a"), ("bob", "secret-b")),
    domain: str = "atlanta.example",
    **config: object,
) -> Net:
    credentials = MemoryCredentialStore()
    for user, password in users:
        credentials.put(make_credential(user, domain, password))
    options: dict[str, object] = {"local": {"udp": PROXY.address, "tls": ("192.0.2.1", 5061)}}
    options.update(config)
    cfg = ProxyConfig(domain, **options)  # type: ignore[arg-type]
    hosts = {k: list(v) for k, v in cfg.hosts.items()}
    core = ProxyCore(cfg, MemoryLocationStore(), credentials, secret=SECRET)
    return Net(core, hosts)


def request(
    method: str,
    uri: str,
    *,
    from_: str = "sip:alice@atlanta.example",
    to: str = "sip:bob@atlanta.example",
    via: Peer = ALICE,
    call_id: str | None = None,
    cseq: int = 1,
    from_tag: str = "ftag",
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    contact: str | None = None,
    body: bytes = b"",
) -> Request:
    """A request as a UA builds it (§8.1.1), with a fresh branch."""
    n = next(_counter)
    headers = [
        ("Via", f"SIP/2.0/{via.transport.upper()} {via.host}:{via.port};branch=z9hG4bKua{n}"),
        ("Max-Forwards", "70"),
        ("From", f"<{from_}>;tag={from_tag}"),
        ("To", f"<{to}>" + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", call_id or f"call-{n}@test"),
        ("CSeq", f"{cseq} {method}"),
    ]
    if contact is not None:
        headers.append(("Contact", contact))
    headers += list(extra)
    return Request(method, uri, headers, body)


def answer(
    req: Request, status: int, *, tag: str = "bobtag", contact: str | None = None
) -> Response:
    """A UAS response to a request the proxy forwarded."""
    response = make_response(req, status, to_tag=tag)
    if contact is not None:
        response.headers.add("Contact", contact)
    for value in req.headers.get_all("record-route"):
        response.headers.add("Record-Route", value)
    return response


def authorize(
    net: Net,
    req: Request,
    source: Peer,
    client: DigestClient,
    *,
    status: int,
) -> Request:
    """Send ``req``, expect a ``status`` challenge, return the retried request
    (CSeq + 1, credentials added) — already delivered."""
    net.deliver(req, source)
    replies = [m for m in net.to(source) if isinstance(m, Response) and m.status != 100]
    assert [r.status for r in replies] == [status], replies
    challenge = replies[0]
    flow = client.start(req.method, str(req.uri), req.body, preemptive=False)
    headers = challenge.www_authenticate if status == 401 else challenge.proxy_authenticate
    step = flow.challenged(status, headers)
    assert isinstance(step, Retry), step
    retry = retried(req)
    for cred in step.credentials:
        retry.headers.add(cred.header_name, str(cred.value))
    net.deliver(retry, source)
    return retry


def retried(req: Request) -> Request:
    """The same request with CSeq + 1 and a new branch (§22.2)."""
    copy = Request(req.method, req.uri, req.headers.copy(), req.body)
    cseq = req.cseq
    assert cseq is not None
    copy.headers.set("CSeq", f"{cseq.seq + 1} {req.method}")
    via = req.headers.get("Via") or ""
    copy.headers.set("Via", via.split(";branch=")[0] + f";branch=z9hG4bKretry{next(_counter)}")
    return copy


def register(
    net: Net,
    user: str,
    password: str,
    contact: str,
    source: Peer,
    *,
    expires: int | None = None,
    call_id: str | None = None,
    cseq: int = 1,
) -> Response:
    """A full Digest REGISTER exchange; returns the final response."""
    extra = [("Expires", str(expires))] if expires is not None else []
    aor = f"sip:{user}@{net.core.config.domain}"
    req = request(
        "REGISTER", f"sip:{net.core.config.domain}", from_=aor, to=aor, via=source,
        contact=contact, extra=extra, call_id=call_id or f"reg-{user}", cseq=cseq,
    )  # fmt: skip
    authorize(net, req, source, DigestClient(user, password), status=401)
    replies = [m for m in net.to(source) if isinstance(m, Response)]
    assert len(replies) == 1, replies
    return replies[0]


def bind(net: Net, user: str, contact: str, *, q: float | None = None, call_id: str = "") -> None:
    """Put a binding straight into the location store (what a REGISTER does)."""
    from sipsec.proxy import ContactUpdate, RegisterUpdate

    update = RegisterUpdate(call_id or f"bind-{contact}", 1, (ContactUpdate(contact, 3600, q),))
    net.core.location.register(f"sip:{user}@{net.core.config.domain}", update, net.now)


def finals(messages: list[Request | Response]) -> list[int]:
    return [m.status for m in messages if isinstance(m, Response) and m.status >= 200]


def requests_of(messages: list[Request | Response], method: str) -> list[Request]:
    return [m for m in messages if isinstance(m, Request) and m.method == method]
