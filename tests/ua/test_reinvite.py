"""re-INVITE (RFC 3261 §14): both directions, glare (491 and the §14.1
random delay), 481 and timeout ending the dialog, 500 for an overlap; a
re-INVITE held unanswered repeats its provisional every minute
(§13.3.1.1) until its final response or CANCEL."""

from __future__ import annotations

from typing import Any

import pytest

from sipsec.sip import Request
from sipsec.ua import (
    Call,
    CallEnded,
    CallState,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
    UserAgent,
)

from .conftest import ALICE, BOB, Net, establish, events, pair


def test_reinvite_both_directions(net: Net) -> None:
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    events(alice), events(bob)
    alice.reinvite(call, net.now, b"v=0 hold", "application/sdp")
    net.pump()
    [received] = events(bob)
    assert isinstance(received, ReinviteReceived) and theirs.remote_body == b"v=0 hold"
    bob.answer(theirs, net.now, body=b"v=0 held", content_type="application/sdp")
    net.pump()
    [answered] = events(alice)
    assert isinstance(answered, ReinviteAnswered) and call.remote_body == b"v=0 held"
    assert theirs.answer_pending is None  # the re-INVITE's 2xx was ACKed
    # Now Bob re-INVITEs; his CSeq counts from 1, Alice's from her INVITE's.
    bob.reinvite(theirs, net.now, b"v=0 resume", "application/sdp")
    net.pump()
    [received] = events(alice)
    assert isinstance(received, ReinviteReceived) and call.remote_body == b"v=0 resume"
    alice.answer(call, net.now, status=488)
    net.pump()
    [failed] = events(bob)
    assert isinstance(failed, ReinviteFailed) and failed.status == 488
    # §14.2: the refused offer is forgotten; the session is what it was.
    assert call.remote_body == b"v=0 held"
    assert call.state is CallState.ESTABLISHED and theirs.state is CallState.ESTABLISHED


def test_glare_491_then_retry_after_the_random_delay(net: Net) -> None:
    """§14.1/§14.2: both re-INVITE at once; each answers the other 491; the
    Call-ID owner (Alice, the caller) waits 2.1–4 s, Bob 0–2 s."""
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    events(alice), events(bob)
    alice.reinvite(call, net.now, b"a", "application/sdp")
    bob.reinvite(theirs, net.now, b"b", "application/sdp")
    net.pump()
    assert net.sent(ALICE, "491") == [0.0] and net.sent(BOB, "491") == [0.0]
    assert alice.stats["glare"] == 2 and bob.stats["glare"] == 2
    alice_retry, bob_retry = alice.get_timer(), bob.get_timer()
    assert alice_retry is not None and bob_retry is not None
    assert 2.1 <= alice_retry <= 4.0 and 0.0 <= bob_retry <= 2.0
    net.run(until=bob_retry)
    [_received] = [e for e in events(alice) if isinstance(e, ReinviteReceived)]
    alice.answer(call, net.now, body=b"a2", content_type="application/sdp")
    net.run(until=alice_retry)
    assert [type(e) for e in events(bob)] == [ReinviteAnswered, ReinviteReceived]
    bob.answer(theirs, net.now, body=b"b2", content_type="application/sdp")
    net.pump()
    assert [type(e) for e in events(alice)] == [ReinviteAnswered]
    assert call.remote_body == b"b2" and theirs.remote_body == b"a"


def test_reinvite_answered_481_ends_the_call(net: Net) -> None:
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    events(alice), events(bob)
    assert theirs.dialog is not None
    bob.dialogs.remove(theirs.dialog)  # Bob forgot the dialog (a restart, say)
    alice.reinvite(call, net.now, b"x", "application/sdp")
    net.pump()
    got = events(alice)
    assert [type(e) for e in got] == [ReinviteFailed, CallEnded]
    assert got[0].status == 481 and got[1].by_remote  # type: ignore[attr-defined]
    assert call.state is CallState.ENDED and len(alice.dialogs) == 0


def test_reinvite_timeout_hangs_up(net: Net) -> None:
    alice, bob = pair(net)
    call, _theirs = establish(net, alice, bob)
    events(alice), events(bob)
    net.drop = lambda s, d, m: s == ALICE and isinstance(m, Request) and m.method == "INVITE"
    alice.reinvite(call, net.now, b"x", "application/sdp")
    net.run(until=32.0)
    got = events(alice)
    assert [type(e) for e in got] == [ReinviteFailed, CallEnded]
    assert got[0].status == 408  # type: ignore[attr-defined]
    assert net.sent(ALICE, "BYE") == [32.0]
    assert [type(e) for e in events(bob)] == [CallEnded]


def test_overlapping_reinvite_gets_500_with_retry_after(net: Net) -> None:
    """§14.2: a second re-INVITE before we answered the first."""
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    events(alice), events(bob)
    alice.reinvite(call, net.now, b"one", "application/sdp")
    net.pump()
    assert call.dialog is not None
    second = call.dialog.create_request("INVITE")
    second.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsecondReinvite")
    alice.layer.send_request(second, BOB, net.now)
    net.pump()
    refused = [m for s, d, m in net.delivered if s == BOB and getattr(m, "status", 0) == 500]
    assert len(refused) == 1
    assert 0 <= int(refused[0].headers.get("Retry-After") or "x") <= 10
    assert theirs.incoming_reinvite is not None  # the first one still waits for Bob


def test_reinvite_needs_an_established_call(net: Net) -> None:
    from sipsec.errors import LocalProtocolError

    alice, bob = pair(net)
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    with pytest.raises(LocalProtocolError):
        alice.reinvite(call, net.now, b"", None)
    net.pump()
    theirs = events(bob)[0].call  # type: ignore[attr-defined]
    bob.answer(theirs, net.now)
    net.pump()
    alice.reinvite(call, net.now, b"", None)
    with pytest.raises(LocalProtocolError):
        alice.reinvite(call, net.now, b"", None)  # one at a time (§14.1)


# -- §13.3.1.1: a held re-INVITE's provisional, every minute -------------------------------
def held(net: Net, **bob_config: Any) -> tuple[UserAgent, UserAgent, Call, Call]:
    """An established call; at t=10 Alice re-INVITEs and Bob answers 183
    (an application that asks its user before taking the new offer)."""
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    bob = net.ua(BOB, "sip:bob@biloxi.example", **bob_config)
    call, theirs = establish(net, alice, bob)
    net.run(until=10.0)
    events(alice), events(bob)
    alice.reinvite(call, net.now, b"v=0 hold", "application/sdp")
    net.pump()
    assert [type(e) for e in events(bob)] == [ReinviteReceived]
    bob.answer(theirs, net.now, status=183)
    net.pump()
    return alice, bob, call, theirs


def test_a_held_reinvite_repeats_its_provisional_until_the_answer(net: Net) -> None:
    alice, bob, call, theirs = held(net)
    net.run(until=250.0)
    assert net.sent(BOB, "183") == [10.0, 70.0, 130.0, 190.0, 250.0]
    sent = [m for s, _, m in net.delivered if s == BOB and getattr(m, "status", 0) == 183]
    assert len({bytes(m) for m in sent}) == 1  # the same provisional each time
    assert bob.stats["provisionals_resent"] == 4
    assert theirs.incoming_reinvite is not None and call.outgoing_reinvite is not None
    bob.answer(theirs, net.now, body=b"v=0 held", content_type="application/sdp")
    net.run(until=600.0)
    assert net.sent(BOB, "183") == [10.0, 70.0, 130.0, 190.0, 250.0]
    assert [type(e) for e in events(alice)] == [ReinviteAnswered]
    assert call.state is CallState.ESTABLISHED and theirs.answer_pending is None
    assert bob.get_timer() is None


def test_a_failure_answer_stops_the_repeating(net: Net) -> None:
    alice, bob, _call, theirs = held(net)
    net.run(until=100.0)
    bob.answer(theirs, net.now, status=488)
    net.run(until=600.0)
    assert net.sent(BOB, "183") == [10.0, 70.0] and net.sent(BOB, "488") == [100.0]
    [failed] = events(alice)
    assert isinstance(failed, ReinviteFailed) and failed.status == 488
    assert bob.get_timer() is None


def test_a_bye_while_held_stops_the_repeating(net: Net) -> None:
    alice, bob, call, theirs = held(net)
    net.run(until=100.0)
    alice.bye(call, net.now)
    net.run(until=600.0)
    assert net.sent(BOB, "183") == [10.0, 70.0]
    assert theirs.state is CallState.ENDED
    assert bob.get_timer() is None


def test_the_interval_applies_and_none_turns_it_off(net: Net) -> None:
    _alice, bob, _call, _theirs = held(net, provisional_interval=25.0)
    net.run(until=100.0)
    assert net.sent(BOB, "183") == [10.0, 35.0, 60.0, 85.0]
    other = Net()
    _alice, bob, _call, _theirs = held(other, provisional_interval=None)
    other.run(until=400.0)
    assert other.sent(BOB, "183") == [10.0]
    assert bob.get_timer() is None


def test_the_latest_provisional_is_repeated_and_a_100_never(net: Net) -> None:
    _alice, bob, _call, theirs = held(net)
    net.run(until=20.0)
    bob.answer(theirs, net.now, status=180)
    net.run(until=90.0)
    assert net.sent(BOB, "183") == [10.0]
    assert [t for t in net.sent(BOB, "180") if t > 0] == [20.0, 80.0]  # t=0: the INVITE's

    other = Net()
    alice, bob = pair(other)
    call, theirs = establish(other, alice, bob)
    alice.reinvite(call, other.now, b"v=0", "application/sdp")
    other.pump()
    bob.answer(theirs, other.now, status=100)  # a 100 says nothing to repeat
    other.run(until=400.0)
    assert other.sent(BOB, "100") and max(other.sent(BOB, "100")) == 0.0
    assert bob.stats.get("provisionals_resent", 0) == 0 and bob.get_timer() is None


def cancel_reinvite(net: Net, alice: UserAgent, call: Call) -> None:
    assert call.outgoing_reinvite is not None and call.outgoing_reinvite.transaction_id
    alice.layer.cancel(call.outgoing_reinvite.transaction_id, net.now)
    net.pump()


def test_cancel_of_a_held_reinvite_gets_487_and_stops_the_repeating(net: Net) -> None:
    alice, bob, call, theirs = held(net)
    net.run(until=100.0)
    reinvite = theirs.incoming_reinvite
    assert reinvite is not None
    # Another transaction's id is not this re-INVITE: nothing is answered.
    assert not bob._reinvite_cancelled(theirs, reinvite.transaction_id + 1000, net.now)
    assert theirs.incoming_reinvite is reinvite
    before = reinvite.previous_body
    assert theirs.remote_body == b"v=0 hold" and before != b"v=0 hold"
    cancel_reinvite(net, alice, call)  # §9.2 through UasMixin._on_cancel
    assert net.sent(BOB, "200") and net.sent(BOB, "487") == [100.0]
    assert theirs.remote_body == before  # §14.2: the session is unchanged
    net.run(until=600.0)
    assert net.sent(BOB, "183") == [10.0, 70.0] and net.sent(BOB, "487") == [100.0]
    [failed] = events(alice)
    assert isinstance(failed, ReinviteFailed) and failed.status == 487
    assert call.state is CallState.ESTABLISHED and theirs.state is CallState.ESTABLISHED
    assert theirs.incoming_reinvite is None and bob.get_timer() is None


def test_cancel_of_a_held_reinvite_through_the_uas(net: Net) -> None:
    alice, bob, call, _theirs = held(net)
    net.run(until=100.0)
    cancel_reinvite(net, alice, call)
    net.run(until=600.0)
    assert net.sent(BOB, "487") == [100.0] and net.sent(BOB, "183") == [10.0, 70.0]
    assert bob.get_timer() is None
