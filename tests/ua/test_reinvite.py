"""re-INVITE (RFC 3261 §14): both directions, glare (491 and the §14.1
random delay), 481 and timeout ending the dialog, 500 for an overlap."""

from __future__ import annotations

from sipsec.sip import Request
from sipsec.ua import (
    CallEnded,
    CallState,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
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
    assert isinstance(received, ReinviteReceived)
    alice.answer(call, net.now, status=488)
    net.pump()
    [failed] = events(bob)
    assert isinstance(failed, ReinviteFailed) and failed.status == 488
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
    import pytest

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
