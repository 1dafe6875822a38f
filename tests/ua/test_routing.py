"""A call through a record-routing proxy: the route set in use (§12.2.1.1,
§16.12), CANCEL following its INVITE, and the CANCEL/2xx race (§9.1)."""

from __future__ import annotations

from sipsec.sip import Request
from sipsec.transaction import Peer
from sipsec.ua import CallAnswered, CallConfirmed, CallEnded, CallFailed, CallState, IncomingCall

from .conftest import ALICE, BOB, Net, RecordRoutingProxy, events

PROXY = Peer("udp", "192.0.2.10", 5060)


def setup(net: Net):  # type: ignore[no-untyped-def]
    proxy = RecordRoutingProxy(PROXY, {"sip:bob@biloxi.example": "sip:bob@192.0.2.2:5060"})
    net.nodes[PROXY] = proxy
    alice = net.ua(ALICE, "sip:alice@atlanta.example", outbound_proxy=PROXY)
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    return alice, bob, proxy


def test_in_dialog_requests_follow_the_record_route(net: Net) -> None:
    alice, bob, proxy = setup(net)
    call = alice.invite("sip:bob@biloxi.example", net.now)
    net.pump()
    [incoming] = events(bob)
    assert isinstance(incoming, IncomingCall)
    theirs = incoming.call
    bob.answer(theirs, net.now)
    net.pump()
    assert [type(e) for e in events(alice)] == [CallAnswered]
    assert [type(e) for e in events(bob)] == [CallConfirmed]
    assert call.dialog is not None and theirs.dialog is not None
    assert [str(r) for r in call.dialog.route_set] == ["<sip:192.0.2.10;lr>"]
    assert [str(r) for r in theirs.dialog.route_set] == ["<sip:192.0.2.10;lr>"]
    # The ACK went to the proxy (the route), carrying the Route and Bob's Contact as URI.
    acks = [(s, d, m) for s, d, m in net.delivered if isinstance(m, Request) and m.method == "ACK"]
    assert [(s, d) for s, d, _ in acks] == [(ALICE, PROXY), (PROXY, BOB)]
    first_ack = acks[0][2]
    assert first_ack.headers.get_all("Route") == ["<sip:192.0.2.10;lr>"]
    assert str(first_ack.uri) == "sip:bob@192.0.2.2:5060;transport=udp"
    assert acks[1][2].headers.get_all("Route") == []  # the proxy popped its own
    bob.bye(theirs, net.now)
    net.pump()
    byes = [(s, d) for s, d, m in net.delivered if isinstance(m, Request) and m.method == "BYE"]
    assert byes == [(BOB, PROXY), (PROXY, ALICE)]
    assert isinstance(events(alice)[0], CallEnded) and isinstance(events(bob)[0], CallEnded)
    assert proxy.forwarded == ["INVITE", "ACK", "BYE"]


def test_cancel_follows_the_invite_through_the_proxy(net: Net) -> None:
    alice, bob, proxy = setup(net)
    call = alice.invite("sip:bob@biloxi.example", net.now)
    net.pump()
    theirs = events(bob)[0].call  # type: ignore[attr-defined]
    bob.ring(theirs, net.now)
    net.pump()
    events(alice)
    alice.cancel(call, net.now)
    net.pump()
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 487
    assert theirs.state is CallState.FAILED
    assert "CANCEL" in proxy.forwarded


def test_2xx_that_wins_the_race_with_cancel_is_acked_and_hung_up(net: Net) -> None:
    """§9.1: the CANCEL crossed Bob's 200 — the call exists; Alice ends it with a BYE."""
    alice, bob, _proxy = setup(net)
    call = alice.invite("sip:bob@biloxi.example", net.now)
    net.pump()
    theirs = events(bob)[0].call  # type: ignore[attr-defined]
    bob.ring(theirs, net.now)
    net.pump()
    events(alice)
    # Bob's 200 is on its way when Alice cancels: hold Bob's output, cancel, release.
    bob.answer(theirs, net.now)
    held = bob.layer.messages_to_send()
    alice.cancel(call, net.now)
    net.pump()  # Bob gets the CANCEL after answering: 200 for it, nothing else
    for item in held:
        net.deliver(BOB, item.destination, item.message)
    net.pump()
    got = [type(e) for e in events(alice)]
    assert got == [CallAnswered, CallEnded]
    assert call.state is CallState.ENDED and theirs.state is CallState.ENDED
    assert net.sent(ALICE, "BYE") == [0.0]
