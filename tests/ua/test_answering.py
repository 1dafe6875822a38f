"""The callee answering an INVITE (sipsec.ua.answering): the provisional
resent about every minute while the call rings (RFC 3261 §13.3.1.1), and
its end on the final response, on CANCEL, on a BYE and on the answer
timeout."""

from __future__ import annotations

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.proxy import MemoryCredentialStore, MemoryLocationStore, ProxyConfig, ProxyCore
from sipsec.sip import Response
from sipsec.transaction import Peer
from sipsec.ua import (
    CallAnswered,
    CallConfirmed,
    CallFailed,
    CallRinging,
    CallState,
    UaConfig,
    UserAgent,
)

from .conftest import ALICE, BOB, BOB_URI, SDP, Net, events, incoming


def ringing_pair(net: Net, **bob_config: object) -> tuple[UserAgent, UserAgent]:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    bob = net.ua(BOB, "sip:bob@biloxi.example", **bob_config)
    return alice, bob


def provisionals(net: Net, status: int) -> list[tuple[float, Response]]:
    """Every ``status`` response Bob put on the wire that reached Alice, with when."""
    times = net.sent(BOB, str(status))
    delivered = [
        m
        for s, _, m in net.delivered
        if s == BOB and isinstance(m, Response) and m.status == status
    ]
    assert len(times) == len(delivered)  # nothing was dropped in these tests
    return list(zip(times, delivered, strict=True))


def test_a_ringing_call_resends_its_180_every_minute(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None)
    call = alice.invite(BOB_URI, net.now, body=SDP, content_type="application/sdp")
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.pump()
    early = call.dialog
    assert early is not None and early.is_early
    net.run(until=250.0)
    sent = provisionals(net, 180)
    assert [t for t, _ in sent] == [0.0, 60.0, 120.0, 180.0, 240.0]
    # The same provisional each time: Bob's To tag, one early dialog at Alice.
    assert {r.to.tag for _, r in sent if r.to is not None} == {theirs.local_tag}
    assert len({bytes(r) for _, r in sent}) == 1
    assert call.dialog is early and len(alice.dialogs) == 1
    assert call.state is CallState.RINGING and theirs.state is CallState.RINGING
    assert [type(e) for e in events(alice)] == [CallRinging] * 5
    assert bob.stats["provisionals_resent"] == 4
    # Without the resends a proxy's Timer C (180 s) would have ended it; the
    # call is still answerable, and answering stops the resending.
    bob.answer(theirs, net.now, body=SDP, content_type="application/sdp")
    net.run(until=net.now + 300.0)
    assert [type(e) for e in events(alice)] == [CallAnswered]
    assert [type(e) for e in events(bob)] == [CallConfirmed]
    assert net.sent(BOB, "180") == [0.0, 60.0, 120.0, 180.0, 240.0]
    assert call.state is CallState.ESTABLISHED
    assert bob.get_timer() is None


def test_the_latest_provisional_is_the_one_repeated(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None, provisional_interval=10.0)
    alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=15.0)
    bob.answer(theirs, net.now, status=183)  # Session Progress replaces Ringing
    net.run(until=36.0)
    assert net.sent(BOB, "180") == [0.0, 10.0]
    assert net.sent(BOB, "183") == [15.0, 25.0, 35.0]


def test_a_100_alone_is_not_repeated(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None)
    alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.answer(theirs, net.now, status=100)
    net.run(until=200.0)
    assert net.sent(BOB, "100") == [0.0, 0.0]  # the transaction's own, then ours
    assert bob.get_timer() is None


def test_cancel_stops_the_resending(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=90.0)
    alice.cancel(call, net.now)
    net.pump()
    assert bob.get_timer() is None  # nothing left to resend
    net.run(until=400.0)
    assert net.sent(BOB, "180") == [0.0, 60.0]
    assert net.sent(BOB, "487") == [90.0]
    assert theirs.state is CallState.FAILED
    assert [type(e) for e in events(bob)][-1] is CallFailed
    assert bob.get_timer() is None


def test_reject_and_the_answer_timeout_stop_the_resending(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=150.0)
    alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=400.0)
    assert net.sent(BOB, "180") == [0.0, 60.0, 120.0]
    assert net.sent(BOB, "480") == [150.0]
    assert bob.get_timer() is None

    other = Net()
    alice, bob = ringing_pair(other, answer_timeout=None)
    alice.invite(BOB_URI, other.now)
    other.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, other.now)
    other.run(until=70.0)
    bob.reject(theirs, other.now, 603)
    other.run(until=400.0)
    assert other.sent(BOB, "180") == [0.0, 60.0]
    assert other.sent(BOB, "603") == [70.0]
    assert bob.get_timer() is None


def test_the_defaults_ring_three_times_then_give_up_with_480(net: Net) -> None:
    """60 s resends and the 180 s answer timeout: no 180 right before the 480."""
    alice, bob = ringing_pair(net)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=400.0)
    assert net.sent(BOB, "180") == [0.0, 60.0, 120.0]
    assert net.sent(BOB, "480") == [180.0]
    assert call.state is CallState.FAILED and call.final_status == 480
    assert bob.get_timer() is None


def test_a_bye_on_the_early_dialog_stops_the_resending(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=61.0)
    # An early-dialog BYE (§15.1.2) from a caller that gave up: the INVITE
    # ends with 487, and nothing rings any more.
    assert call.dialog is not None
    alice._send_bye(call.dialog, None, net.now)
    net.run(until=400.0)
    assert net.sent(BOB, "180") == [0.0, 60.0]
    assert theirs.state is CallState.FAILED
    assert bob.get_timer() is None


def test_none_turns_the_resending_off(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None, provisional_interval=None)
    alice.invite(BOB_URI, net.now)
    net.pump()
    bob.ring(incoming(bob).call, net.now)
    net.run(until=400.0)
    assert net.sent(BOB, "180") == [0.0]
    assert bob.get_timer() is None


def test_a_lost_resend_is_followed_by_the_next(net: Net) -> None:
    alice, bob = ringing_pair(net, answer_timeout=None)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.pump()
    net.drop = lambda s, d, m: s == BOB and 59.0 < net.now < 61.0
    net.run(until=130.0)
    assert net.sent(BOB, "180") == [0.0, 60.0, 120.0]
    assert [type(e) for e in events(alice)] == [CallRinging, CallRinging]
    assert call.state is CallState.RINGING


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan"), float("inf")])
def test_the_interval_must_be_a_positive_number(interval: float) -> None:
    with pytest.raises(LocalProtocolError):
        UaConfig("sip:bob@biloxi.example", provisional_interval=interval)


# -- through sipsec's own stateful proxy and its Timer C (§16.6 step 11, §16.7) --------
PROXY = Peer("udp", "192.0.2.10", 5060)


def through_a_proxy(net: Net, **bob_config: object) -> tuple[UserAgent, UserAgent, ProxyCore]:
    config = ProxyConfig("biloxi.example", local={"udp": PROXY.address}, authenticate_invites=False)
    proxy = ProxyCore(config, MemoryLocationStore(), MemoryCredentialStore(), secret=bytes(32))
    net.nodes[PROXY] = proxy
    net.hosts["192.0.2.2"] = [BOB]  # the proxy resolves every next hop through its driver
    alice = net.ua(ALICE, "sip:alice@atlanta.example", outbound_proxy=PROXY)
    bob = net.ua(BOB, "sip:bob@biloxi.example", answer_timeout=None, **bob_config)
    return alice, bob, proxy


def test_the_resent_180_keeps_a_proxys_timer_c_from_cancelling(net: Net) -> None:
    alice, bob, _ = through_a_proxy(net)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=590.0)  # more than three Timer C periods
    assert net.sent(BOB, "180") == [
        0.0,
        60.0,
        120.0,
        180.0,
        240.0,
        300.0,
        360.0,
        420.0,
        480.0,
        540.0,
    ]
    assert net.sent(PROXY, "CANCEL") == []
    assert call.state is CallState.RINGING and theirs.state is CallState.RINGING
    bob.answer(theirs, net.now)
    net.run(until=net.now + 10.0)
    assert call.state is CallState.ESTABLISHED


def test_without_the_resends_timer_c_cancels_the_call(net: Net) -> None:
    """The control: the same call, ringing once, is cancelled by the proxy
    when its Timer C (180 s) fires."""
    alice, bob, _ = through_a_proxy(net, provisional_interval=None)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=600.0)
    assert net.sent(BOB, "180") == [0.0]
    assert net.sent(PROXY, "CANCEL") == [180.0]
    assert theirs.state is CallState.FAILED and theirs.final_status == 487
    assert call.state is CallState.FAILED


def test_over_tcp_the_core_resends_too(net: Net) -> None:
    """A reliable transport never retransmits a provisional by itself
    (§17.2.1): the minute-by-minute resend is the only one."""
    alice_tcp, bob_tcp = Peer("tcp", "192.0.2.1", 5060), Peer("tcp", "192.0.2.2", 5060)
    alice = net.ua(alice_tcp, "sip:alice@atlanta.example")
    bob = net.ua(bob_tcp, "sip:bob@biloxi.example", answer_timeout=None)
    call = alice.invite("sip:bob@192.0.2.2;transport=tcp", net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=130.0)
    assert net.sent(bob_tcp, "180") == [0.0, 60.0, 120.0]
    assert [type(e) for e in events(alice)] == [CallRinging] * 3
    bob.answer(theirs, net.now)
    net.run(until=200.0)
    assert call.state is CallState.ESTABLISHED and net.sent(bob_tcp, "180") == [0.0, 60.0, 120.0]
