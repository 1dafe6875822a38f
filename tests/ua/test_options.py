"""OPTIONS as the client (sipsec.ua.options, RFC 3261 §11.1): the request,
the answer reported as OptionsAnswered, the outbound proxy, the Digest
retry of a 407, failures, and — end to end — sipsec's own UA answering
(§11.2) over the in-memory network."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.auth import Algorithm, Authenticated, DigestServer, compute_ha1
from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import Request, Response, SipParseError, make_response, parse_message
from sipsec.transaction import Peer
from sipsec.ua import (
    ALLOWED_METHODS,
    AuthenticationFailed,
    OptionsAnswered,
    UaConfig,
    UaEvent,
    UserAgent,
)

from .conftest import ALICE, BOB, BOB_URI, PASSWORD, Net, RecordRoutingProxy, ScriptedUas, events

PROXY = Peer("udp", "192.0.2.10", 5060)
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "300"))
OUTCOMES: Counter[str] = Counter()


def answered(ua: UserAgent) -> OptionsAnswered:
    [event] = events(ua)
    assert isinstance(event, OptionsAnswered)
    return event


def test_end_to_end_against_sipsecs_own_ua(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example", supported=("path",))
    bob = net.ua(BOB, "sip:bob@biloxi.example", supported=("timer", "100rel"))
    call_id = alice.options(BOB_URI, net.now)
    net.pump()
    event = answered(alice)
    assert event.call_id == call_id and event.target == BOB_URI
    assert (event.status, event.reason) == (200, "OK")
    assert event.allow == list(ALLOWED_METHODS)
    assert event.accept == list(bob.config.accept)
    assert event.supported == ["timer", "100rel"]
    assert event.response is not None and event.response.call_id == call_id
    # §11.1: the request Bob got, and that no dialog or call was made.
    [request] = [m for _, d, m in net.delivered if d == BOB and isinstance(m, Request)]
    assert request.method == "OPTIONS" and str(request.uri) == BOB_URI
    assert request.to is not None and request.to.tag is None and str(request.to.uri) == BOB_URI
    assert request.from_ is not None and request.from_.tag is not None
    assert request.cseq is not None and request.cseq.method == "OPTIONS"
    assert request.headers.get("Accept") == ", ".join(alice.config.accept)
    assert request.headers.get("Supported") == "path"
    assert request.headers.get("Max-Forwards") == "70"
    assert request.contacts and request.body == b""
    assert len(alice.dialogs) == 0 and len(bob.dialogs) == 0
    assert events(bob) == []
    assert alice.stats["options_sent"] == 1 and alice.stats["options_answered"] == 1


def test_two_queries_are_told_apart_by_call_id(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    net.ua(BOB, "sip:bob@biloxi.example")
    first = alice.options(BOB_URI, net.now)
    second = alice.options("sip:nobody@192.0.2.99", net.now)  # nobody listens there
    net.run(until=64 * net.config.t1 + 1)
    got = {e.call_id: e for e in events(alice) if isinstance(e, OptionsAnswered)}
    assert first != second
    assert got[first].status == 200
    assert got[second].status == 408 and got[second].response is None
    assert got[second].allow == got[second].accept == got[second].supported == []


def test_through_the_outbound_proxy(net: Net) -> None:
    proxy = RecordRoutingProxy(PROXY, {"sip:bob@biloxi.example": "sip:bob@192.0.2.2:5060"})
    net.nodes[PROXY] = proxy
    alice = net.ua(ALICE, "sip:alice@atlanta.example", outbound_proxy=PROXY)
    net.ua(BOB, "sip:bob@biloxi.example")
    alice.options("sip:bob@biloxi.example", net.now)
    net.pump()  # biloxi.example is never resolved: the proxy is the next hop
    assert proxy.forwarded == ["OPTIONS"]
    event = answered(alice)
    assert event.status == 200 and event.target == "sip:bob@biloxi.example"
    # A record-routing proxy does not Record-Route an OPTIONS: no dialog.
    assert len(alice.dialogs) == 0


def challenger(far: ScriptedUas, digest: DigestServer, verdicts: list[object]) -> None:
    def on_request(tid: int, request: Request, now: float) -> None:
        result = digest.authenticate(
            request.proxy_authorization, method="OPTIONS", uri=str(request.uri),
            now=1e6 + now, source="alice",
        )  # fmt: skip
        verdicts.append(result)
        if isinstance(result, Authenticated):
            far.respond(tid, request, 200, now, headers=(("Allow", "INVITE, BYE"),))
        else:
            headers = tuple(("Proxy-Authenticate", str(c)) for c in digest.challenge(1e6 + now))
            far.respond(tid, request, 407, now, headers=headers)

    far.on_request = on_request


def test_a_407_is_answered_with_credentials(net: Net) -> None:
    def lookup(username: str, realm: str, algorithm: Algorithm) -> str | None:
        return compute_ha1(algorithm, username, realm, PASSWORD) if username == "alice" else None

    digest = DigestServer(b"proxy-secret-0123456789", "atlanta.example", lookup)
    far = ScriptedUas(BOB)
    verdicts: list[object] = []
    challenger(far, digest, verdicts)
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password=PASSWORD)
    call_id = alice.options("sip:bob@192.0.2.2", net.now)
    net.pump()
    event = answered(alice)
    assert event.status == 200 and event.call_id == call_id and event.allow == ["INVITE", "BYE"]
    first, second = (r for _, r in far.requests)
    assert first.proxy_authorization == [] and second.proxy_authorization
    # §22.2: the same Call-ID and From tag, CSeq incremented.
    assert second.call_id == first.call_id == call_id
    assert second.cseq.seq == first.cseq.seq + 1  # type: ignore[union-attr]
    assert second.from_.tag == first.from_.tag  # type: ignore[union-attr]
    assert isinstance(verdicts[-1], Authenticated)
    assert alice.stats["auth_retries"] == 1


def test_a_wrong_password_is_reported_once(net: Net) -> None:
    digest = DigestServer(b"proxy-secret-0123456789", "atlanta.example", lambda u, r, a: None)
    far = ScriptedUas(BOB)
    challenger(far, digest, [])
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password="wrong")
    alice.options("sip:bob@192.0.2.2", net.now)
    net.pump()
    got = events(alice)
    assert [type(e) for e in got] == [AuthenticationFailed, OptionsAnswered]
    assert got[1].status == 407  # type: ignore[attr-defined]
    assert got[1].response is not None  # type: ignore[attr-defined]
    assert far.methods() == ["OPTIONS", "OPTIONS"]


def test_a_failure_response_still_lists_its_headers(net: Net) -> None:
    far = ScriptedUas(BOB)
    lines = (("Allow", "INVITE, ACK"), ("Allow", "BYE"), ("k", "100rel , timer"))

    def on_request(tid: int, request: Request, now: float) -> None:
        far.respond(tid, request, 180, now)
        far.respond(tid, request, 404, now, headers=lines)

    far.on_request = on_request
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    alice.options("sip:bob@192.0.2.2", net.now)
    net.pump()
    event = answered(alice)  # the 180 is not reported
    assert (event.status, event.reason) == (404, "Not Found")
    assert event.allow == ["INVITE", "ACK", "BYE"]
    assert event.supported == ["100rel", "timer"]  # the compact form, §7.3.3
    assert event.accept == []


def test_an_unresolvable_target_is_a_503(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    alice.options("sip:bob@nowhere.example", net.now)
    net.pump()
    event = answered(alice)
    assert event.status == 503 and event.response is None


def test_a_tls_target_without_a_tls_listener_is_a_503(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    alice.options("sips:bob@192.0.2.2", net.now)
    net.pump()
    assert answered(alice).status == 503


@pytest.mark.parametrize("target", ["not a uri", "tel:+15551234", "sip:", ""])
def test_a_bad_target_is_a_local_protocol_error(net: Net, target: str) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    with pytest.raises(LocalProtocolError):
        alice.options(target, net.now)
    assert events(alice) == [] and alice.layer.messages_to_send() == []


def test_extra_headers_go_on_the_request(net: Net) -> None:
    far = ScriptedUas(BOB)
    far.on_request = lambda tid, request, now: far.respond(tid, request, 200, now)
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    alice.options("sip:bob@192.0.2.2", net.now, headers=[("Subject", "ping")])
    net.pump()
    [(_, request)] = far.requests
    assert request.headers.get("Subject") == "ping"
    assert answered(alice).allow == []


# -- any response the peer sends --------------------------------------------------------
TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./+", min_size=0, max_size=12)
LINE = st.lists(st.tuples(TOKEN, st.sampled_from([",", " ,", ", ", ",,"])), max_size=5).map(
    lambda items: "".join(t + sep for t, sep in items).strip(", ")
)
NAMES = st.sampled_from(["Allow", "Accept", "Supported", "k", "Content-Type", "Contact", "To"])
ANY = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    status=st.integers(100, 699),
    headers=st.lists(st.tuples(NAMES, st.one_of(LINE, ANY)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 400)),
)
def test_any_response_gives_one_answer_and_never_raises(
    status: int, headers: list[tuple[str, str]], cut: int | None
) -> None:
    """Whatever comes back — any status, header lines, a truncated message —
    the UA reports exactly one OptionsAnswered for a final response (with
    what its headers list) and nothing for the rest, and raises nothing."""
    OUTCOMES["tried"] += 1
    ua = UserAgent(UaConfig("sip:alice@atlanta.example", contact={"udp": ALICE.address}))
    ua.options(BOB_URI, 0.0)
    [out] = ua.layer.messages_to_send()
    assert isinstance(out.message, Request)
    response = make_response(out.message, status, to_tag="t1")
    for name, value in headers:
        response.headers.add(name, value)
    data = bytes(response)
    try:
        parsed = parse_message(data if cut is None else data[:cut])
        ua.layer.receive(parsed, BOB, 1.0)
    except (SipParseError, RemoteProtocolError):
        OUTCOMES["refused below the UA"] += 1
        return
    assert isinstance(parsed, Response)  # a cut response is a response or nothing
    for layer_event in iter(ua.layer.next_event, None):
        ua.handle_event(layer_event, 1.0)
    got: list[UaEvent] = events(ua)
    if parsed.status < 200:
        assert got == []
        OUTCOMES["provisional"] += 1
        return
    reported = [e for e in got if isinstance(e, OptionsAnswered)]
    assert len(reported) == 1
    answer = reported[0]
    assert answer.status == parsed.status
    for name in ("Allow", "Accept", "Supported"):
        items = getattr(answer, name.lower())
        assert all(item and item == item.strip(" \t") for item in items)
        values = [v for n, v in headers if n == name or (n, name) == ("k", "Supported")]
        if cut is None and not any(c in v for v in values for c in '"<'):
            # Plain tokens: the elements of every line, in order (§7.3.1).
            expected = [x.strip(" \t") for v in values for x in v.split(",")]
            assert items == [x for x in expected if x]
            OUTCOMES["lists checked"] += 1
    OUTCOMES[f"answered {parsed.status // 100}xx"] += 1


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    target=st.one_of(
        ANY,
        st.builds(
            "{}:{}@{}{}".format,
            st.sampled_from(["sip", "sips", "tel", "SIP", "mailto"]),
            TOKEN,
            st.sampled_from(["192.0.2.2", "biloxi.example", "[2001:db8::1]", "", "300.1.1.1"]),
            st.sampled_from(["", ":5060", ":0", ":99999", ";transport=tcp", ";maddr=x y"]),
        ),
    )
)
def test_any_target_is_queried_or_refused_with_a_local_protocol_error(target: str) -> None:
    """options() takes any string: a LocalProtocolError, or a query that is
    on its way (sent, or waiting for the driver to resolve it) or already
    answered by a failure — never another exception, never silence."""
    OUTCOMES["targets tried"] += 1
    ua = UserAgent(UaConfig("sip:alice@atlanta.example", contact={"udp": ALICE.address}))
    try:
        call_id = ua.options(target, 0.0)
    except LocalProtocolError:
        OUTCOMES["target refused"] += 1
        return
    sent = ua.layer.messages_to_send()
    waiting = ua.resolutions_needed()
    got = [e for e in events(ua) if isinstance(e, OptionsAnswered)]
    assert len(sent) + len(waiting) + len(got) == 1
    assert all(e.call_id == call_id and e.status >= 400 for e in got)
    OUTCOMES["sent" if sent else "resolving" if waiting else "failed at once"] += 1
