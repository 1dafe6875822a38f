"""Whatever a peer sends into a UA with a live call — random or mutated
in-dialog requests — the UA answers with a status and never raises
(h11 ``fuzz/afl-server.py`` invariant, Hypothesis-driven)."""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.errors import RemoteProtocolError
from sipsec.sip import Headers, Request, Response, SipParseError, parse_message
from sipsec.transaction import Peer, RequestReceived
from sipsec.ua import IncomingCall, ReinviteReceived, UserAgent

from .conftest import ALICE, BOB, Net, establish, events, pair

# Moderate in the suite; run once by hand with SIPSEC_FUZZ_EXAMPLES=5000.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "300"))
#: What became of the inputs (read by hand after a big run).
OUTCOMES: Counter[str] = Counter()
METHODS = ["BYE", "INVITE", "OPTIONS", "ACK", "CANCEL", "INFO", "UPDATE", "REGISTER", "FOO"]
HEADER_NAMES = [
    "Require", "Contact", "Record-Route", "Content-Type", "Expires", "Route", "Supported",
    "Max-Forwards", "CSeq", "To", "From", "Call-ID", "Via", "Proxy-Require", "Content-Length",
]  # fmt: skip
VALUE = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=40
)


def live_call() -> tuple[Net, UserAgent, UserAgent, object]:
    net = Net()
    alice, bob = pair(net)
    call, _theirs = establish(net, alice, bob)
    events(alice), events(bob)
    return net, alice, bob, call


def feed(net: Net, bob: UserAgent, data: bytes) -> None:
    """What the driver does with bytes from Alice, then the checks."""
    OUTCOMES["fed"] += 1
    try:
        message = parse_message(data)
    except SipParseError:
        OUTCOMES["refused by the parser"] += 1
        return  # the transport answers these itself
    try:
        bob.layer.receive(message, ALICE, net.now)
    except RemoteProtocolError:
        OUTCOMES["refused by the transaction layer"] += 1
        return  # the driver answers 400 or drops it
    OUTCOMES["reached the UA"] += 1
    pending: list[int] = []
    for event in iter(bob.layer.next_event, None):
        bob.handle_event(event, net.now)
        if (
            isinstance(event, RequestReceived)
            and event.transaction_id is not None
            and event.request.method != "ACK"
        ):
            pending.append(event.transaction_id)
    for event in events(bob):  # the application answers what it is asked
        if isinstance(event, IncomingCall):
            bob.reject(event.call, net.now, 480)
        elif isinstance(event, ReinviteReceived):
            bob.answer(event.call, net.now, status=488)
    out = bob.layer.messages_to_send()
    finals = {
        item.transaction_id
        for item in out
        if isinstance(item.message, Response) and item.message.status >= 200
    }
    for tid in pending:
        assert tid in finals, f"transaction {tid} got no final response"
    for item in out:
        if isinstance(item.message, Response) and item.message.status >= 200:
            OUTCOMES[f"answered {item.message.status}"] += 1
    bob.handle_timer(net.now + 100)
    bob.layer.handle_timer(net.now + 100)
    for event in iter(bob.layer.next_event, None):
        bob.handle_event(event, net.now + 100)


@st.composite
def in_dialog_requests(draw: st.DrawFn, call: object) -> bytes:
    dialog = call.dialog  # type: ignore[attr-defined]
    method = draw(st.sampled_from(METHODS))
    to_tag = draw(st.sampled_from([dialog.remote_tag, "wrong", None]))
    from_tag = draw(st.sampled_from([dialog.local_tag, "other", None]))
    call_id = draw(st.sampled_from([dialog.call_id, "another@call"]))
    cseq = draw(st.integers(min_value=0, max_value=2**32 - 1))
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{draw(st.integers(0, 10**9))}")
    headers.add("Max-Forwards", "70")
    headers.add("From", "<sip:alice@atlanta.example>" + (f";tag={from_tag}" if from_tag else ""))
    headers.add("To", "<sip:bob@biloxi.example>" + (f";tag={to_tag}" if to_tag else ""))
    headers.add("Call-ID", call_id)
    headers.add("CSeq", f"{cseq} {method}")
    for name, value in draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), VALUE), max_size=4)):
        if draw(st.booleans()):
            headers.set(name, value)
        else:
            headers.add(name, value)
    # Not st.binary: under ``python -bb`` Hypothesis' own example cache can
    # compare a bytes choice with an int one and raise BytesWarning.
    body = bytes(draw(st.lists(st.integers(0, 255), max_size=30)))
    uri = draw(st.sampled_from(["sip:bob@192.0.2.2:5060", "sips:bob@biloxi.example", "tel:+1"]))
    return bytes(Request(method, uri, headers, body))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_in_dialog_requests_always_get_a_status(data: st.DataObject) -> None:
    net, _alice, bob, call = live_call()
    for _ in range(data.draw(st.integers(1, 3))):
        feed(net, bob, data.draw(in_dialog_requests(call)))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_requests_always_get_a_status(data: st.DataObject) -> None:
    net, _alice, bob, call = live_call()
    dialog = call.dialog  # type: ignore[attr-defined]
    method = data.draw(st.sampled_from(["BYE", "INVITE", "OPTIONS", "ACK"]))
    request = dialog.create_request(method, body=b"v=0\r\n", content_type="application/sdp")
    request.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmutant1")
    original = bytearray(bytes(request))
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    feed(net, bob, bytes(original))


def test_peer_is_the_source_for_answers() -> None:
    """Sanity for the fuzz harness: a clean BYE ends the call with a 200."""
    net, _alice, bob, call = live_call()
    request = call.dialog.create_request("BYE")  # type: ignore[attr-defined]
    request.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKclean1")
    bob.layer.receive(parse_message(bytes(request)), Peer("udp", *ALICE.address), net.now)
    for event in iter(bob.layer.next_event, None):
        bob.handle_event(event, net.now)
    [out] = bob.layer.messages_to_send()
    assert isinstance(out.message, Response) and out.message.status == 200
    assert out.destination == ALICE and BOB in net.nodes


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_and_mutated_responses_never_raise(data: st.DataObject) -> None:
    """Responses to our INVITE with garbage where a UAC looks (Contact,
    Record-Route, challenges), then mutated bytes: dropped or used, never a crash."""
    from sipsec.sip import make_response

    from .conftest import ScriptedUas

    net = Net()
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password="pw")
    far = ScriptedUas(BOB)
    net.nodes[BOB] = far
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    net.pump()
    [(_, invite)] = far.requests
    for _ in range(data.draw(st.integers(1, 3))):
        status = data.draw(st.sampled_from([180, 183, 200, 202, 401, 407, 423, 486, 491, 500]))
        response = make_response(invite, status, to_tag=data.draw(st.sampled_from(["t1", "t2"])))
        for name in data.draw(st.lists(st.sampled_from(RESPONSE_HEADERS), max_size=4)):
            response.headers.add(name, data.draw(VALUE))
        raw = bytearray(bytes(response))
        for _ in range(data.draw(st.integers(0, 3))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        try:
            message = parse_message(bytes(raw))
            alice.layer.receive(message, BOB, net.now)
        except RemoteProtocolError:
            continue
        for event in iter(alice.layer.next_event, None):
            alice.handle_event(event, net.now)
        alice.layer.messages_to_send()
    net.run(until=100.0)
    assert call.state.value in {"calling", "ringing", "established", "failed", "ended"}


RESPONSE_HEADERS = ["Contact", "Record-Route", "WWW-Authenticate", "Proxy-Authenticate", "Expires"]
