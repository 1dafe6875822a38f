"""The fast relay against the full path: the same call flows through a
ProxyCore with :class:`FastRelay` in front and without it, compared byte for byte.

What is normalised before comparing (and nothing else): the branch of the
proxy's own Via (the relay's are ``z9hG4bKr.…``, the full path's an HMAC),
the To tag a proxy invents for a response of its own (a stand-in 408,
the 500 for a 503: random on both sides), and a Digest challenge's nonce
and opaque (random too; only the full path ever challenges).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sipsec.errors import RemoteProtocolError
from sipsec.proxy import (
    ContactUpdate,
    MemoryCredentialStore,
    MemoryLocationStore,
    ProxyConfig,
    ProxyCore,
    RegisterUpdate,
)
from sipsec.proxy import relay_scan as rs
from sipsec.proxy.relay import FastRelay
from sipsec.sip import Request, Response, SipParseError, make_response, parse_message
from sipsec.transaction import Peer
from sipsec.transport.resolver import Resolver
from sipsec.transport.routing import response_destination, stamp_via

SECRET = b"0123456789abcdef-proxy-secret"
PROXY = ("192.0.2.1", 5060)
ALICE = ("192.0.2.10", 5070)
BOB = ("192.0.2.20", 5080)
CAROL = ("192.0.2.30", 5090)  # biloxi.example's proxy in the hosts map
RR = "<sip:192.0.2.1:5060;lr>"
Address = tuple[str, int]


@dataclass
class Driver:
    """A ProxyCore fed datagrams as the asyncio shell feeds it: the relay
    first (when there is one), else parse, stamp the Via (§18.2.1), the
    transaction layer, the core, static resolution."""

    core: ProxyCore
    relay: FastRelay | None
    now: float = 1000.0
    sent: list[tuple[bytes, Address]] = field(default_factory=list)
    taken: int = 0

    def datagram(self, data: bytes, source: Address) -> None:
        if self.relay is not None and self.relay.receive(data, source, self.now):
            self.taken += 1
            self.sent += self.relay.datagrams_to_send()
            return
        try:
            message = parse_message(data)
            if isinstance(message, Request):
                stamp_via(message, source)
            self.core.layer.receive(message, Peer("udp", *source), self.now, reliable=False)
        except (SipParseError, RemoteProtocolError):
            self.sent.append((b"refused", source))
            return
        self.pump()

    def pump(self) -> None:
        core = self.core
        resolver = Resolver(core.config.hosts, use_dns=False)
        for _ in range(100):
            busy = False
            while (event := core.layer.next_event()) is not None:
                busy = True
                core.handle_event(event, self.now)
            for item in core.layer.messages_to_send():
                busy = True
                peer = item.destination
                assert isinstance(peer, Peer)
                if isinstance(item.message, Response):
                    peer = response_destination(item.message, peer)
                self.sent.append((bytes(item.message), peer.address))
            for token, uri in core.resolutions_needed():
                busy = True
                core.handle_resolution(token, resolver.resolve_static(uri) or [], self.now)
            if not busy:
                return
        raise AssertionError("the core kept the driver busy")

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while True:
            relay = self.relay
            deadlines = [self.core.layer.get_timer(), self.core.get_timer()]
            if relay is not None:
                deadlines.append(relay.get_timer())
            due = min((d for d in deadlines if d is not None), default=None)
            if due is None or due > target:
                break
            self.now = max(self.now, due)
            self.core.layer.handle_timer(self.now)
            self.core.handle_timer(self.now)
            if relay is not None:
                relay.handle_timer(self.now)
                self.sent += relay.datagrams_to_send()
            self.pump()
        self.now = target

    def last_to(self, address: Address) -> Request:
        for data, dest in reversed(self.sent):
            if dest == address and not data.startswith(b"SIP/2.0"):
                message = parse_message(data)
                assert isinstance(message, Request)
                return message
        raise AssertionError(f"nothing sent to {address}")


def make_driver(relay: bool, *, bindings: int = 1, **options: object) -> Driver:
    config: dict[str, object] = {
        "local": {"udp": PROXY},
        "authenticate_invites": False,
        "hosts": {"biloxi.example": [Peer("udp", *CAROL)]},
        "timer_c": 200.0,
    }
    config.update(options)
    cfg = ProxyConfig("atlanta.example", **config)  # type: ignore[arg-type]
    core = ProxyCore(cfg, MemoryLocationStore(), MemoryCredentialStore(), secret=SECRET)
    for i in range(bindings):
        contact = f"sip:bob@{BOB[0]}:{BOB[1] + i}"
        update = RegisterUpdate(f"reg-{i}", 1, (ContactUpdate(contact, 3600, None),))
        core.location.register("sip:bob@atlanta.example", update, 1000.0)
    return Driver(core, FastRelay(core, random=bytes(16)) if relay else None)


def req(
    method: str,
    uri: str,
    branch: str,
    *,
    source: Address = ALICE,
    cseq: int = 1,
    to_tag: str | None = None,
    call_id: str = "call-1@test",
    extra: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    max_forwards: str = "70",
) -> bytes:
    headers = [
        ("Via", f"SIP/2.0/UDP {source[0]}:{source[1]};branch={branch};rport"),
        ("Max-Forwards", max_forwards),
        ("From", "Alice <sip:alice@atlanta.example>;tag=atag"),
        ("To", "<sip:bob@atlanta.example>" + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        *extra,
    ]
    if body:
        headers.append(("Content-Type", "application/sdp"))
    headers.append(("Content-Length", str(len(body))))
    return bytes(Request(method, uri, headers, body))


def reply(request: Request, status: int, *, contact: bool = False) -> bytes:
    """Bob's answer to what the proxy sent him (Record-Route copied, §12.1.1)."""
    response = make_response(request, status, to_tag="btag")
    if contact:
        response.headers.add("Contact", f"<sip:bob@{BOB[0]}:{BOB[1]}>")
    for value in request.headers.get_all("record-route"):
        response.headers.add("Record-Route", value)
    return bytes(response)


_OUR_BRANCH = re.compile(rb"(Via: SIP/2\.0/UDP 192\.0\.2\.1:5060;branch=)[^;,\r]+")
_TO_TAG = re.compile(
    rb"(\r\n(?:To|t) *: *[^\r]*;tag=)(?!btag)[A-Za-z0-9_.!%*+`'~-]+", re.IGNORECASE
)


def normalised(sent: list[tuple[bytes, Address]]) -> dict[Address, list[bytes]]:
    """What each peer received, in order, with only our own branch and
    invented To tags replaced."""
    out: dict[Address, list[bytes]] = {}
    for data, dest in sent:
        data = _OUR_BRANCH.sub(rb"\1X", data)
        data = _NONCE.sub(rb'\1="N"', _TO_TAG.sub(rb"\1T", data))
        out.setdefault(dest, []).append(data)
    return out


_NONCE = re.compile(rb'(nonce|opaque)="[^"]*"')
Flow = Callable[[Driver], None]


def differential(flow: Flow, **options: object) -> tuple[Driver, Driver]:
    full, fast = make_driver(False, **options), make_driver(True, **options)
    flow(full)
    flow(fast)
    assert normalised(fast.sent) == normalised(full.sent)
    assert [(r.method, r.status, r.from_, r.to, r.branches, r.source) for r in fast.core.log] == [
        (r.method, r.status, r.from_, r.to, r.branches, r.source) for r in full.core.log
    ]
    assert {k: v for k, v in fast.core.stats.items() if v} == {
        k: v for k, v in full.core.stats.items() if v
    }
    return full, fast


# -- the call flows -------------------------------------------------------------------------------
SDP = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"


def basic_call(d: Driver) -> None:
    """INVITE–100–180–200–ACK–BYE–200, record-routed (RFC 3665 §3.2 shape)."""
    contact = (("Contact", f"<sip:alice@{ALICE[0]}:{ALICE[1]}>"),)
    d.datagram(
        req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv1", extra=contact, body=SDP), ALICE
    )
    invite = d.last_to(BOB)
    d.datagram(reply(invite, 100), BOB)
    d.datagram(reply(invite, 180), BOB)
    d.datagram(reply(invite, 200, contact=True), BOB)
    bob = f"sip:bob@{BOB[0]}:{BOB[1]}"
    route = (("Route", RR),)
    d.datagram(req("ACK", bob, "z9hG4bKack1", to_tag="btag", extra=route), ALICE)
    d.datagram(req("BYE", bob, "z9hG4bKbye1", to_tag="btag", cseq=2, extra=route), ALICE)
    d.datagram(reply(d.last_to(BOB), 200), BOB)
    d.advance(40)


def busy_call(d: Driver) -> None:
    """486 with its ACK (§17.1.1.3 downstream, absorbed upstream), and a
    retransmission of the 486 that only the proxy's ACK answers."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv2"), ALICE)
    invite = d.last_to(BOB)
    busy = reply(invite, 486)
    d.datagram(busy, BOB)
    d.datagram(busy, BOB)  # retransmitted: our ACK again, nothing upstream
    d.advance(1.0)  # Timer G: the 486 again upstream
    d.datagram(req("ACK", "sip:bob@atlanta.example", "z9hG4bKinv2", to_tag="btag"), ALICE)
    d.advance(40)


def cancelled_call(d: Driver) -> None:
    """CANCEL after 180: 200 to the CANCEL, CANCEL downstream, 487 forwarded."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv3"), ALICE)
    invite = d.last_to(BOB)
    d.datagram(reply(invite, 180), BOB)
    cancel = req("CANCEL", "sip:bob@atlanta.example", "z9hG4bKinv3")
    d.datagram(cancel, ALICE)
    d.datagram(cancel, ALICE)  # retransmitted: the same 200
    downstream = d.last_to(BOB)
    assert downstream.method == "CANCEL"
    d.datagram(reply(downstream, 200), BOB)
    d.datagram(reply(invite, 487), BOB)
    d.datagram(req("ACK", "sip:bob@atlanta.example", "z9hG4bKinv3", to_tag="btag"), ALICE)
    d.advance(40)


def early_cancel(d: Driver) -> None:
    """CANCEL before any 1xx: held (§9.1) until the 180, then sent."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv4"), ALICE)
    invite = d.last_to(BOB)
    d.datagram(req("CANCEL", "sip:bob@atlanta.example", "z9hG4bKinv4"), ALICE)
    d.datagram(reply(invite, 180), BOB)
    d.datagram(reply(invite, 487), BOB)
    d.advance(40)


def retransmitted_invite(d: Driver) -> None:
    """The INVITE again before and after a 180: the 100, then the 180, again."""
    invite_bytes = req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv5")
    d.datagram(invite_bytes, ALICE)
    d.datagram(invite_bytes, ALICE)
    invite = d.last_to(BOB)
    d.datagram(reply(invite, 180), BOB)
    d.datagram(invite_bytes, ALICE)
    d.datagram(reply(invite, 200, contact=True), BOB)
    d.datagram(invite_bytes, ALICE)  # Accepted: absorbed
    d.datagram(reply(invite, 200, contact=True), BOB)  # RFC 6026: forwarded again
    d.advance(40)


def lost_responses(d: Driver) -> None:
    """Nobody answers: Timer A retransmissions, then Timer B's 408 upstream."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv6"), ALICE)
    d.advance(80)


def bye_timeout(d: Driver) -> None:
    """A BYE nobody answers: Timer E (T1 doubling to T2), F → 408."""
    bob = f"sip:bob@{BOB[0]}:{BOB[1]}"
    d.datagram(req("BYE", bob, "z9hG4bKbye7", to_tag="btag", cseq=2), ALICE)
    d.advance(2.0)
    d.datagram(reply(d.last_to(BOB), 100), BOB)  # Proceeding: E at T2
    d.advance(80)


def timer_c(d: Driver) -> None:
    """180 and then silence: Timer C cancels the branch; the 487 goes up."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv8"), ALICE)
    invite = d.last_to(BOB)
    d.datagram(reply(invite, 180), BOB)
    d.advance(201)
    cancel = d.last_to(BOB)
    assert cancel.method == "CANCEL"
    d.datagram(reply(cancel, 200), BOB)
    d.datagram(reply(invite, 487), BOB)
    d.advance(40)


def timer_c_unanswered(d: Driver) -> None:
    """180, Timer C, and the CANCEL unanswered too: 408 after 64*T1."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv9"), ALICE)
    d.datagram(reply(d.last_to(BOB), 180), BOB)
    d.advance(300)


def foreign_domain(d: Driver) -> None:
    """A foreign domain from the hosts map, and a 503 that becomes 500 (§16.7 step 6)."""
    d.datagram(req("INVITE", "sip:carol@biloxi.example", "z9hG4bKinv10"), ALICE)
    d.datagram(reply(d.last_to(CAROL), 503), CAROL)
    d.datagram(req("ACK", "sip:carol@biloxi.example", "z9hG4bKinv10", to_tag="btag"), ALICE)
    d.advance(40)


def loose_routed_bye(d: Driver) -> None:
    """An in-dialog BYE whose Route names us and then the next proxy."""
    route = (("Route", RR), ("Route", "<sip:192.0.2.30:5090;lr>"))
    d.datagram(req("BYE", "sip:bob@192.0.2.99", "z9hG4bKbye11", to_tag="t", extra=route), ALICE)
    d.datagram(reply(d.last_to(CAROL), 200), CAROL)
    d.datagram(req("ACK", "sip:bob@192.0.2.99", "z9hG4bKack11", to_tag="t", extra=route), ALICE)
    d.advance(40)


def options_to_user(d: Driver) -> None:
    """A non-INVITE to a user (OPTIONS, §11) with a provisional and its retransmission."""
    data = req("OPTIONS", "sip:bob@atlanta.example", "z9hG4bKopt12")
    d.datagram(data, ALICE)
    d.datagram(data, ALICE)  # Trying: absorbed silently
    d.datagram(reply(d.last_to(BOB), 183), BOB)
    d.datagram(data, ALICE)  # Proceeding: the 183 again
    d.datagram(reply(d.last_to(BOB), 200), BOB)
    d.datagram(data, ALICE)  # Completed: the 200 again
    d.advance(40)


def _unparsable(response: bytes) -> bytes:
    """``response`` with a Contact the relay never reads and the parser refuses."""
    broken = response.replace(b"\r\n\r\n", b"\r\nContact: <sip:bob@h\r\n\r\n", 1)
    with pytest.raises(SipParseError):
        parse_message(broken)
    return broken


def refused_finals(d: Driver) -> None:
    """A 503 and a 486 the parser refuses are dropped, state untouched, as
    the full path drops them: the INVITE is retransmitted (Timer A) and
    Timer B answers 408 upstream; then a good 486 after a new INVITE."""
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKinv8"), ALICE)
    invite = d.last_to(BOB)
    d.datagram(_unparsable(reply(invite, 503)), BOB)
    d.datagram(_unparsable(reply(invite, 486)), BOB)
    d.advance(80)


def refused_bye_503(d: Driver) -> None:
    """A BYE's 503 the parser refuses: dropped, Timer E/F go on to 408."""
    bob = f"sip:bob@{BOB[0]}:{BOB[1]}"
    d.datagram(req("BYE", bob, "z9hG4bKbye9", to_tag="btag", cseq=2), ALICE)
    d.datagram(_unparsable(reply(d.last_to(BOB), 503)), BOB)
    d.advance(80)


FLOWS = [
    basic_call, busy_call, cancelled_call, early_cancel, retransmitted_invite, lost_responses,
    bye_timeout, timer_c, timer_c_unanswered, foreign_domain, loose_routed_bye, options_to_user,
    refused_finals, refused_bye_503,
]  # fmt: skip


@pytest.mark.parametrize("flow", FLOWS, ids=[f.__name__ for f in FLOWS])
def test_the_relay_sends_what_the_full_path_sends(flow: Flow) -> None:
    _, fast = differential(flow)
    assert fast.taken > 0  # the relay did the work, not the fallback
    assert fast.relay is not None and len(fast.relay) == 0  # Timer J/K/L/M/D cleaned up


@pytest.mark.parametrize("flow", FLOWS, ids=[f.__name__ for f in FLOWS])
def test_warm_caches_change_nothing(flow: Flow) -> None:
    """What the relay makes after a few sightings — a template per header-name
    sequence (relay_template), a route decision per Request-URI and Route set,
    the value memos — leaves every byte, record and counter as it was."""
    rs._TEMPLATES.clear()  # cold: other tests' shapes may have spent this generation's budget
    for _ in range(3):
        differential(flow)
    _, fast = differential(flow)
    assert fast.relay is not None and fast.relay.routes._decided
    assert len(rs._TEMPLATES) > 0


# -- generated and mutated requests: decline, or do exactly what the full path does ---------

_URIS = [
    "sip:bob@atlanta.example", "sip:Bob@atlanta.example", "sip:carol@atlanta.example",
    "sip:bob@192.0.2.1", "sip:bob@192.0.2.1:5060", "sip:atlanta.example", "sip:192.0.2.1:5060",
    "sip:carol@biloxi.example", "sip:carol@biloxi.example:5099", "sip:x@192.0.2.77:5062",
    "sip:x@192.0.2.77;transport=udp", "sip:x@192.0.2.77;transport=tcp", "sips:bob@atlanta.example",
    "tel:+15551234", "sip:x@unknown.example", "sip:x@192.0.2.77;maddr=192.0.2.78",
    "sip:bob@atlanta.example;user=phone", "sip:x@300.1.1.1",
]  # fmt: skip
_ROUTES = [
    (), (RR,), ("<sip:192.0.2.1;lr>",), ("<sip:atlanta.example;lr>",),
    (RR, "<sip:192.0.2.30:5090;lr>"), ("<sip:192.0.2.30:5090;lr>",),
    (f"{RR}, <sip:192.0.2.30:5090;lr>",), ("<sip:biloxi.example;lr>",),
    ("<sip:192.0.2.1:5060;lr;transport=tcp>",), ("garbage",), ("<sips:192.0.2.30;lr>",),
]  # fmt: skip
_VIAS = [
    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK{b};rport",
    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK{b}",
    "SIP/2.0/UDP host.example:5070;branch=z9hG4bK{b};rport",
    "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK{b}",
    "SIP/2.0/UDP 192.0.2.10:5070;rport;branch=z9hG4bK{b};x=1",
    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK{b};received=192.0.2.9",
    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK{b};rport=7",
    "SIP/2.0/TCP 192.0.2.10:5070;branch=z9hG4bK{b}",
    "SIP/2.0/UDP 192.0.2.10:5070;branch={b}",
    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK",
    "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK{b}, SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKo",
    "sip/2.0/udp 192.0.2.10:5070;branch=z9hG4bK{b}",
    "SIP/2.0/UDP 192.0.2.10:5070;BRANCH=z9hG4bK{b}",
]  # fmt: skip
_EXTRA = [
    (), (("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKold"),),
    (("Via", "SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKx"),),
    (("Proxy-Require", "foo"),), (("Require", "100rel"),), (("Supported", "timer"),),
    (("Record-Route", "<sip:192.0.2.5;lr>"),), (("Expires", "60"),), (("Expires", "x"),),
    (("Timestamp", "54"),), (("Contact", "<sip:alice@192.0.2.10:5070>"),),
    (("Proxy-Authorization", 'Digest username="a"'),), (("Content-Type", "bad type"),),
    (("Max-Forwards", "70"),), (("Call-ID", "other@x"),), (("User-Agent", "ü-agent"),),
]  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, str]:
    # Half the inputs are plain but for one dimension (the relay takes most
    # of those, so they are compared), the other half vary everything.
    varied = draw(
        st.sampled_from(
            ["all"] * 8
            + ["method", "uri", "via", "routes", "extra", "mf", "length", "mutation", "none"]
        )
    )

    def pick(name: str, plain: object, options: list[Any]) -> Any:
        return draw(st.sampled_from(options)) if varied in ("all", name) else plain

    methods = ["INVITE", "BYE", "OPTIONS", "MESSAGE", "ACK", "REGISTER", "CANCEL", "INFO"]
    method = pick("method", draw(st.sampled_from(["INVITE", "BYE", "ACK"])), methods)
    uri = pick("uri", draw(st.sampled_from(["sip:bob@atlanta.example", *_URIS[7:10]])), _URIS)
    branch = draw(st.sampled_from(["inv1", "a.b-c", "x" * 40]))
    via = pick("via", _VIAS[0], _VIAS).format(b=branch)
    routes = pick("routes", draw(st.sampled_from([(), (RR,)])), _ROUTES)
    extra = pick("extra", (), _EXTRA)
    to_tag = draw(st.sampled_from([None, "btag"]))
    mf = pick("mf", "70", ["70", "1", "0", "255", "256", "x", None])
    body = draw(st.sampled_from([b"", SDP]))
    compact = draw(st.booleans())
    cseq_methods = [method] if varied != "all" else [method, "INVITE"]
    headers = [("v" if compact else "Via", via)]
    if mf is not None:
        headers.append(("Max-Forwards", mf))
    headers += [
        ("f" if compact else "From", "Alice <sip:alice@atlanta.example>;tag=atag"),
        ("t" if compact else "To", "<sip:bob@atlanta.example>" + (f";tag={to_tag}" * bool(to_tag))),
        ("i" if compact else "Call-ID", "call-9@test"),
        ("CSeq", f"{draw(st.sampled_from([1, 7]))} {draw(st.sampled_from(cseq_methods))}"),
        *(("Route", r) for r in routes),
        *extra,
    ]  # fmt: skip
    if body:
        headers.append(("Content-Type", "application/sdp"))
    length = pick("length", len(body), [len(body), len(body) + 1, None])
    lines = [f"{method} {uri} SIP/2.0", *(f"{n}: {v}" for n, v in headers)]
    if length is not None:
        lines.append(f"{'l' if compact else 'Content-Length'}: {length}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    mutation = pick("mutation", "none", ["none", "replace", "insert", "delete"])
    if mutation != "none":
        at = draw(st.integers(0, len(data) - 1))
        byte = bytes([draw(st.sampled_from(b' \t\r\n:;,<>"=@0aZ\x00\xff'))])
        if mutation == "replace":
            data = data[:at] + byte + data[at + 1 :]
        elif mutation == "insert":
            data = data[:at] + byte + data[at:]
        else:
            data = data[:at] + data[at + 1 :]
    return data, method


_TRIED: list[int] = [0, 0]  # [inputs, taken by the relay]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.sampled_from([200, 486, 180]))
def test_relay_declines_or_matches_the_full_path(case: tuple[bytes, str], status: int) -> None:
    data, _ = case
    full, fast = make_driver(False), make_driver(True)
    for d in (full, fast):
        d.datagram(data, ALICE)
        hops = {dest for m, dest in d.sent if not m.startswith((b"SIP/2.0", b"refused"))}
        for hop in sorted(hops):
            forwarded = d.last_to(hop)
            if forwarded.method not in ("ACK", "CANCEL"):
                d.datagram(reply(forwarded, status), hop)
        d.datagram(data, ALICE)  # and once more: a retransmission
        d.advance(1.0)
    assert fast.relay is not None
    _TRIED[0] += 1
    _TRIED[1] += fast.taken > 0
    event("taken by the relay" if fast.taken else "declined")
    assert fast.relay.stats["relay_errors"] == 0
    assert normalised(fast.sent) == normalised(full.sent)
    assert [(r.method, r.status, r.from_, r.to) for r in fast.core.log] == [
        (r.method, r.status, r.from_, r.to) for r in full.core.log
    ]


def test_the_generated_requests_exercise_the_relay() -> None:
    """The property above is not vacuous: a fair share was taken, a fair share declined."""
    if _TRIED[0] == 0:
        pytest.skip("run with the property test")
    assert 0 < _TRIED[1] < _TRIED[0]


_SEED = req("INVITE", "sip:bob@atlanta.example", "z9hG4bKseed", body=SDP)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from([_SEED, reply(parse_message(_SEED), 180)]))  # type: ignore[arg-type]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=3)) + data[at + draw(st.integers(0, 3)) :]
    return data


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300) | mutated())
def test_the_relay_never_raises_and_takes_only_what_parses(data: bytes) -> None:
    """Any bytes: the relay declines, or takes a request the parser accepts too."""
    d = make_driver(True)
    assert d.relay is not None
    taken = d.relay.receive(data, ALICE, d.now)
    assert d.relay.stats["relay_errors"] == 0
    if taken:
        parse_message(data)


def test_a_full_relay_declines_and_the_full_path_answers() -> None:
    """Bounded memory: at max_transactions relayed transactions a new
    request is declined — the full path (and its own 503 rule) takes it."""
    d = make_driver(True, max_transactions=1)
    assert d.relay is not None
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKcap1", call_id="a"), ALICE)
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKcap2", call_id="b"), ALICE)
    assert d.taken == 1 and len(d.relay) == 1
    assert len(d.core.layer) > 0  # the second one is the full path's
    second = d.last_to(BOB)
    top = second.top_via
    assert top is not None and top.branch is not None and not top.branch.startswith("z9hG4bKr.")


@pytest.mark.parametrize("crlfs", [1, 2, 5])
def test_a_response_after_crlfs_reaches_its_relayed_transaction(crlfs: int) -> None:
    """§7.5: CRLFs before a response's status line are skipped, as the parser
    skips them, so a relayed INVITE's 180 and 200 still reach its client
    transaction and leave exactly as they do without them (the full path,
    which does not hold the relay's transactions, would drop them as stray)."""
    sent = []
    pad = b"\r\n" * crlfs
    for relay, before in ((True, b""), (True, pad), (False, pad)):
        d = make_driver(relay)
        d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKpad"), ALICE)
        invite = d.last_to(BOB)
        for status in (180, 200):
            d.datagram(before + reply(invite, status), BOB)
        assert d.taken == (3 if relay else 0)  # the INVITE, the 180, the 200
        assert d.core.stats["stray_responses"] == 0
        sent.append([m for m, dest in d.sent if dest == ALICE])
    assert sent[0] == sent[1] == sent[2]  # relay on, with or without; the full path
    assert [m.split(b"\r\n")[0] for m in sent[1][-2:]] == [
        b"SIP/2.0 180 Ringing",
        b"SIP/2.0 200 OK",
    ]


def test_a_response_the_relay_does_not_know_is_left_to_the_full_path() -> None:
    """Ownership, responses: our prefix but no transaction (a late 2xx after
    Timer M, a forgery) is declined; the full path drops it as a stray."""
    d = make_driver(True)
    assert d.relay is not None
    d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKown"), ALICE)
    invite = d.last_to(BOB)
    late = reply(invite, 200).replace(b"z9hG4bKr.", b"z9hG4bKr.9")
    assert not d.relay.receive(late, BOB, d.now)
    d.datagram(late, BOB)
    assert d.core.stats["stray_responses"] == 1
    assert not any(dest == ALICE and b" 200 " in m.split(b"\r\n")[0] for m, dest in d.sent)
