"""Hypothesis: random and mutated requests (and responses) into ProxyCore.

The invariant (h11's fuzz/afl-server.py, applied to a proxy): whatever
parses as SIP is either answered with a well-formed response, forwarded, or
dropped — never an exception out of the core. The only error allowed to
escape is the transaction layer's RemoteProtocolError for a message it
cannot match (the driver answers that statelessly with 400).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sipsec.errors import RemoteProtocolError
from sipsec.sip import Request, Response, SipParseError, parse_message

from ._e3_harness import ALICE, BOB, Net, bind, make_net, request

# Kept moderate for the suite; SIPSEC_FUZZ_EXAMPLES=5000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "500"))

_METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "MESSAGE", "SUBSCRIBE"]
_URIS = [
    "sip:bob@atlanta.example", "sip:atlanta.example", "sips:bob@atlanta.example",
    "sip:carol@biloxi.example", "sip:192.0.2.1:5060;lr", "tel:+15551234", "mailto:x@y",
    "sip:bob@192.0.2.1", "sips:bob@192.0.2.20:5080",
]  # fmt: skip
_HEADERS = [
    "Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Route", "Expires",
    "Record-Route", "Proxy-Require", "Require", "Authorization", "Proxy-Authorization",
    "Content-Type",
]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from([
        "0", "70", "-1", "*", "<sip:192.0.2.1:5060;lr>", "<sip:bob@192.0.2.20:5080>;q=0.5",
        'Digest username="bob", realm="atlanta.example", nonce="x", uri="sip:a", response="0"',
        "Basic Ym9iOnB3", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx.0", "foo, bar",
        "<sip:alice@atlanta.example>;tag=1", "1 INVITE", "99999999999 REGISTER", "sips:x@y",
        "<tel:+1>", "application/sdp", "<sip:bob@atlanta.example>;expires=0",
    ]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)  # fmt: skip


def _net(auth: bool = True) -> Net:
    """With ``auth`` off, requests reach the registrar and the forwarder
    without credentials, so their parsing paths are fuzzed too."""
    net = make_net(hosts={"biloxi.example": [BOB]}, authenticate_invites=auth)
    net.core.authenticate_registers = auth
    bind(net, "bob", f"sip:bob@{BOB.host}:{BOB.port}")
    return net


def _feed(net: Net, data: bytes) -> None:
    """Deliver, let every timer run out, check the caller got its final answer."""
    try:
        message = parse_message(data)
    except SipParseError:
        event("refused by the parser")
        return  # the transport answers or drops it; the core never sees it
    try:
        net.deliver(message, ALICE)
    except RemoteProtocolError:
        event("refused by the transaction layer")
        return  # the layer refused to match it: the driver's stateless 400
    event(f"reached the core: {type(message).__name__}")
    net.advance(300)  # every timer of what it started fires, none raises
    if isinstance(message, Request) and message.method != "ACK":
        answered = [
            s.message
            for s in net.sent
            if isinstance(s.message, Response)
            and s.message.status >= 200
            and s.destination.address == ALICE.address
        ]
        assert answered, f"{message.method} {message.uri} got no final response"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(_METHODS),
    uri=st.sampled_from(_URIS),
    changes=st.lists(st.tuples(st.sampled_from(_HEADERS), _VALUES, st.booleans()), max_size=5),
    auth=st.booleans(),
)
def test_structured_requests_never_raise(
    method: str, uri: str, changes: list[tuple[str, str, bool]], auth: bool
) -> None:
    net = _net(auth)
    try:
        req = request(method, uri)
        for name, value, replace in changes:
            if replace:
                req.headers.set(name, value)
            else:
                req.headers.add(name, value)
    except Exception:
        return  # the builder refused (CR/LF, bad token): not a message at all
    _feed(net, bytes(req))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_METHODS),
    cuts=st.lists(st.tuples(st.integers(0, 400), st.binary(max_size=8)), max_size=4),
    auth=st.booleans(),
)
def test_mutated_bytes_never_raise(seed: str, cuts: list[tuple[int, bytes]], auth: bool) -> None:
    net = _net(auth)
    data = bytearray(bytes(request(seed, "sip:bob@atlanta.example", contact="<sip:a@1.2.3.4>")))
    for position, replacement in cuts:
        at = min(position, len(data))
        data[at : at + len(replacement)] = replacement
    _feed(net, bytes(data))


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(status=st.integers(100, 699), branch=st.sampled_from(["z9hG4bKx.0", "z9hG4bKua1", ""]))
def test_responses_from_anywhere_never_raise(status: int, branch: str) -> None:
    net = _net()
    net.deliver(request("INVITE", "sip:bob@atlanta.example", from_="sip:x@biloxi.example"), ALICE)
    forwarded = [s.message for s in net.take() if isinstance(s.message, Request)]
    target = forwarded[0] if forwarded else request("INVITE", "sip:x@y")
    if branch:
        target.headers.set("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch}")
    from sipsec.sip import make_response

    try:
        net.deliver(make_response(target, status), BOB)
    except RemoteProtocolError:
        pass
    net.advance(300)
