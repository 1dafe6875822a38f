"""Calls between two UserAgents over the in-memory network: INVITE / 180 /
200 / ACK / BYE both ways, CANCEL, 2xx retransmission, lost ACK, 481."""

from __future__ import annotations

from sipsec.sip import Request
from sipsec.ua import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    CallFailed,
    CallRinging,
    CallState,
)

from .conftest import ALICE, BOB, BOB_URI, SDP, Net, establish, events, incoming, pair


def test_call_answer_ack_bye_from_caller(net: Net) -> None:
    alice, bob = pair(net)
    call = alice.invite(BOB_URI, net.now, body=SDP, content_type="application/sdp")
    net.pump()
    got = incoming(bob)
    theirs = got.call
    assert theirs.remote_body == SDP and theirs.remote_content_type == "application/sdp"
    assert theirs.state is CallState.INCOMING
    bob.ring(theirs, net.now)
    net.pump()
    ringing = events(alice)
    assert [type(e) for e in ringing] == [CallRinging]
    assert call.state is CallState.RINGING
    assert call.dialog is not None and call.dialog.is_early
    bob.answer(theirs, net.now, body=b"answer", content_type="application/sdp")
    net.pump()
    answered = events(alice)
    assert [type(e) for e in answered] == [CallAnswered]
    assert call.state is CallState.ESTABLISHED and call.remote_body == b"answer"
    assert call.dialog.is_confirmed
    confirmed = events(bob)
    assert [type(e) for e in confirmed] == [CallConfirmed]
    assert theirs.state is CallState.ESTABLISHED
    # Both sides name the same dialog, mirrored.
    assert call.dialog.id.call_id == theirs.dialog.id.call_id
    assert call.dialog.local_tag == theirs.dialog.remote_tag
    assert call.dialog.remote_tag == theirs.dialog.local_tag
    # The ACK carried the INVITE's CSeq number (§13.2.2.4).
    ack = next(m for s, d, m in net.delivered if isinstance(m, Request) and m.method == "ACK")
    assert ack.cseq is not None and ack.cseq.seq == call.request.cseq.seq
    assert net.sent(ALICE, "INVITE") == [0.0] and net.sent(BOB, "100") == [0.0]
    alice.bye(call, net.now)
    net.pump()
    [ended] = events(alice)
    assert isinstance(ended, CallEnded) and not ended.by_remote and "200" in ended.reason
    [ended] = events(bob)
    assert isinstance(ended, CallEnded) and ended.by_remote
    assert call.state is CallState.ENDED and theirs.state is CallState.ENDED
    assert len(alice.dialogs) == 0 and len(bob.dialogs) == 0


def test_callee_hangs_up(net: Net) -> None:
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    events(alice), events(bob)
    bob.bye(theirs, net.now)
    net.pump()
    [ended] = events(alice)
    assert isinstance(ended, CallEnded) and ended.by_remote
    [ended] = events(bob)
    assert isinstance(ended, CallEnded) and not ended.by_remote
    bye = next(m for s, d, m in net.delivered if isinstance(m, Request) and m.method == "BYE")
    # Bob's BYE goes to Alice's Contact, with Bob's CSeq starting afresh.
    assert str(bye.uri) == "sip:alice@192.0.2.1:5060;transport=udp"
    assert bye.cseq is not None and bye.cseq.seq == 1
    assert bye.to is not None and bye.to.tag == call.local_tag


def test_reject_is_a_failed_call(net: Net) -> None:
    alice, bob = pair(net)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    bob.reject(incoming(bob).call, net.now, 486)
    net.pump()
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 486
    assert call.state is CallState.FAILED
    assert net.sent(ALICE, "ACK") == [0.0]  # the transaction's ACK for a non-2xx
    [failed] = events(bob)
    assert isinstance(failed, CallFailed) and failed.status == 486


def test_cancel_before_answer_gives_487(net: Net) -> None:
    alice, bob = pair(net)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.pump()
    events(alice)
    alice.cancel(call, net.now)
    net.pump()
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 487
    [failed] = events(bob)
    assert isinstance(failed, CallFailed) and failed.status == 487
    assert theirs.state is CallState.FAILED
    assert [line for _, s, _, line in net.wire if s == BOB] == ["100", "180", "200", "487"]


def test_2xx_retransmitted_until_ack(net: Net) -> None:
    """§13.3.1.4: T1, 2T1, 4T1 … capped at T2 while the ACKs are lost; the
    first ACK that gets through stops it. Every resent 2xx is re-ACKed."""
    alice, bob = pair(net)
    acks_lost = 4
    lost: list[float] = []

    def drop(source, destination, message):  # type: ignore[no-untyped-def]
        if isinstance(message, Request) and message.method == "ACK" and len(lost) < acks_lost:
            lost.append(net.now)
            return True
        return False

    net.drop = drop
    call, theirs = establish(net, alice, bob)
    assert theirs.state is CallState.ANSWERED
    net.run(until=60.0)
    assert net.sent(BOB, "200") == [0.0, 0.5, 1.5, 3.5, 7.5]
    assert net.sent(ALICE, "ACK") == [0.0, 0.5, 1.5, 3.5, 7.5]
    assert lost == [0.0, 0.5, 1.5, 3.5]
    assert theirs.state is CallState.ESTABLISHED
    assert any(isinstance(e, CallConfirmed) for e in events(bob))
    assert call.state is CallState.ESTABLISHED


def test_no_ack_at_all_ends_with_bye(net: Net) -> None:
    """64*T1 without an ACK: the callee gives up and sends BYE (§13.3.1.4)."""
    alice, bob = pair(net)
    net.drop = lambda s, d, m: isinstance(m, Request) and m.method == "ACK"
    call, theirs = establish(net, alice, bob)
    net.run(until=40.0)
    resent = net.sent(BOB, "200")
    assert resent[:8] == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]
    assert resent[-1] <= 32.0
    assert net.sent(BOB, "BYE") == [32.0]
    assert theirs.state is CallState.ENDED
    ended = [e for e in events(bob) if isinstance(e, CallEnded)]
    assert len(ended) == 1 and not ended[0].by_remote
    assert ended[0].reason == "no ACK for our 2xx; BYE answered 200 OK"
    assert next(e for e in events(alice) if isinstance(e, CallEnded)).by_remote
    assert call.state is CallState.ENDED


def test_bye_for_an_unknown_dialog_gets_481(net: Net) -> None:
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    assert call.dialog is not None
    bye = call.dialog.create_request("BYE")
    bye.headers.set("To", bye.headers.get("To").replace(call.dialog.remote_tag, "nosuchtag"))  # type: ignore[union-attr]
    bye.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKstrayBYE1")
    alice.layer.send_request(bye, BOB, net.now)
    net.pump()
    assert net.sent(BOB, "481") == [0.0]
    assert theirs.state is CallState.ESTABLISHED


def test_callee_hangs_up_before_the_ack_waits_for_it(net: Net) -> None:
    """§15: the callee's BYE waits for the ACK of its 2xx."""
    alice, bob = pair(net)
    held: list[object] = []
    net.drop = lambda s, d, m: (
        isinstance(m, Request) and m.method == "ACK" and not held and not held.append(m)  # type: ignore[func-returns-value]
    )
    call, theirs = establish(net, alice, bob)
    bob.bye(theirs, net.now)
    net.pump()
    assert net.sent(BOB, "BYE") == [] and theirs.state is CallState.ANSWERED
    net.run(until=1.0)  # the 2xx resent at 0.5 s, re-ACKed, and now the BYE
    assert net.sent(BOB, "BYE") == [0.5]
    assert call.state is CallState.ENDED and theirs.state is CallState.ENDED


def test_cancel_for_an_unknown_invite_gets_481(net: Net) -> None:
    alice, bob = pair(net)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.answer(theirs, net.now)
    net.pump()
    # Too late to cancel: Bob's INVITE transaction is answered; a CANCEL now
    # still gets 200 (§9.2) and changes nothing.
    alice.layer.cancel(call.invite_transaction_id or 0, net.now)
    net.pump()
    assert theirs.state is CallState.ESTABLISHED
    from sipsec.transaction import build_cancel

    stray = build_cancel(call.request)
    stray.headers.set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnoSuchInvite")
    alice.layer.send_request(stray, BOB, net.now)
    net.pump()
    assert net.sent(BOB, "481") == [0.0]


def test_bye_on_an_early_dialog_ends_the_invite_with_487(net: Net) -> None:
    alice, bob = pair(net)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.pump()
    assert call.dialog is not None and call.dialog.is_early
    bye = call.dialog.create_request("BYE")  # §15: the caller may BYE an early dialog
    bye.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKearlyBye1")
    alice.layer.send_request(bye, BOB, net.now)
    net.pump()
    assert [line for _, s, _, line in net.wire if s == BOB][-2:] == ["200", "487"]
    [failed] = [e for e in events(bob) if isinstance(e, CallFailed)]
    assert failed.status == 487 and theirs.state is CallState.FAILED
    assert [e.status for e in events(alice) if isinstance(e, CallFailed)] == [487]


def test_options_inside_a_dialog(net: Net) -> None:
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    assert call.dialog is not None
    options = call.dialog.create_request("OPTIONS")
    options.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinDialogOpt")
    alice.layer.send_request(options, BOB, net.now)
    net.pump()
    ok = [m for s, d, m in net.delivered if s == BOB and getattr(m, "status", 0) == 200]
    assert ok[-1].headers.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS"  # type: ignore[union-attr]
    assert theirs.dialog is not None and theirs.dialog.remote_cseq == options.cseq.seq  # type: ignore[union-attr]


def test_2xx_retransmitted_after_the_bye_is_only_reacked(net: Net) -> None:
    alice, bob = pair(net)
    net.drop = lambda s, d, m: isinstance(m, Request) and m.method in ("ACK", "BYE")
    call, _theirs = establish(net, alice, bob)
    alice.bye(call, net.now)
    net.run(until=0.6)  # Bob resends his 2xx at 0.5 s; Alice's call is over
    assert net.sent(ALICE, "ACK") == [0.0, 0.5]
    assert net.sent(ALICE, "BYE") == [0.0, 0.5]  # the BYE's own retransmission only
    assert call.state is CallState.TERMINATING
    assert alice.stats.get("forked_2xx_released") is None


def test_call_over_tcp_has_no_request_retransmissions(net: Net) -> None:
    from sipsec.transaction import Peer

    alice_tcp, bob_tcp = Peer("tcp", "192.0.2.1", 5060), Peer("tcp", "192.0.2.2", 5060)
    alice = net.ua(alice_tcp, "sip:alice@atlanta.example")
    bob = net.ua(bob_tcp, "sip:bob@biloxi.example")
    call = alice.invite("sip:bob@192.0.2.2;transport=tcp", net.now)
    net.run(until=10.0)
    assert net.sent(alice_tcp, "INVITE") == [0.0]  # no Timer A on a reliable transport
    theirs = incoming(bob).call
    assert theirs.dialog is not None
    assert str(theirs.dialog.remote_target) == "sip:alice@192.0.2.1:5060;transport=tcp"
    bob.answer(theirs, net.now)
    net.run(until=20.0)
    assert call.state is CallState.ESTABLISHED and theirs.state is CallState.ESTABLISHED
    assert net.sent(bob_tcp, "200") == [10.0]  # the ACK came at once: no resend


def test_sips_over_tls_makes_secure_dialogs(net: Net) -> None:
    from sipsec.transaction import Peer

    alice_tls, bob_tls = Peer("tls", "192.0.2.1", 5061), Peer("tls", "192.0.2.2", 5061)
    alice = net.ua(alice_tls, "sips:alice@atlanta.example")
    bob = net.ua(bob_tls, "sips:bob@biloxi.example")
    call = alice.invite("sips:bob@192.0.2.2", net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.answer(theirs, net.now)
    net.pump()
    assert call.dialog is not None and theirs.dialog is not None
    assert call.dialog.secure and theirs.dialog.secure
    assert str(call.dialog.remote_target) == "sips:bob@192.0.2.2:5061"
    assert str(theirs.dialog.remote_target) == "sips:alice@192.0.2.1:5061"


def test_nothing_is_left_behind_after_calls(net: Net) -> None:
    """Memory stays bounded: every index of the core is empty once the calls
    are over and the transactions have ended."""
    alice, bob = pair(net)
    for hang_up_by_alice in (True, False):
        call, theirs = establish(net, alice, bob)
        if hang_up_by_alice:
            alice.bye(call, net.now)
        else:
            bob.bye(theirs, net.now)
        net.pump()
    rejected = alice.invite(BOB_URI, net.now)
    net.pump()
    bob.reject(incoming(bob).call, net.now)
    cancelled = alice.invite(BOB_URI, net.now)
    net.pump()
    alice.cancel(cancelled, net.now)
    net.run(until=net.now + 100.0)
    assert rejected.state is CallState.FAILED and cancelled.state is CallState.FAILED
    for ua in (alice, bob):
        assert len(ua.dialogs) == 0 and len(ua.layer) == 0
        assert ua._call_of == {} and ua._acks == {} and ua._clients == {}
        assert ua._server_calls == {} and ua._resolving == {} and ua.get_timer() is None


def test_an_unanswered_incoming_call_is_refused_after_the_timeout(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    bob = net.ua(BOB, "sip:bob@biloxi.example", answer_timeout=60.0)
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    bob.ring(theirs, net.now)
    net.run(until=59.9)
    assert theirs.state is CallState.RINGING
    net.run(until=60.0)
    [failed] = events(bob)
    assert isinstance(failed, CallFailed) and failed.status == 480
    assert failed.reason == "not answered in time"
    assert [e.status for e in events(alice) if isinstance(e, CallFailed)] == [480]
    assert call.state is CallState.FAILED


def test_api_misuse_is_a_local_protocol_error(net: Net) -> None:
    import pytest

    from sipsec.errors import LocalProtocolError

    alice, bob = pair(net)
    for target in ("garbage", "tel:+1555", "sip:bob@h\r\nX: y", ""):
        with pytest.raises(LocalProtocolError):
            alice.invite(target, net.now)
    with pytest.raises(LocalProtocolError):
        alice.invite(BOB_URI, net.now, headers=[("Bad Name", "x")])
    call = alice.invite(BOB_URI, net.now)
    net.pump()
    theirs = incoming(bob).call
    for misuse in (
        lambda: alice.ring(call, net.now),  # not an incoming call
        lambda: alice.answer(call, net.now),
        lambda: bob.cancel(theirs, net.now),  # only the caller cancels
        lambda: bob.bye(theirs, net.now),  # not answered yet
        lambda: bob.reject(theirs, net.now, 200),
        lambda: bob.answer(theirs, net.now, status=99),
        lambda: bob.answer(theirs, net.now, status=700),
        lambda: alice.bye(call, net.now),  # ringing: cancel instead
    ):
        with pytest.raises(LocalProtocolError):
            misuse()
    bob.answer(theirs, net.now)
    net.pump()
    with pytest.raises(LocalProtocolError):
        bob.answer(theirs, net.now)  # answered already
    assert call.state is CallState.ESTABLISHED and theirs.state is CallState.ESTABLISHED
