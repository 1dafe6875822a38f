"""The transaction layer end to end: Alice's client transactions against
Bob's server transactions, in memory, with every timer asserted at its exact
time (RFC 3261 §17 with T1 = 0.5 s, T2 = 4 s, T4 = 5 s; RFC 6026)."""

from __future__ import annotations

from typing import Any

import pytest

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import Request, Response, make_response, parse_message
from sipsec.transaction import (
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    State,
    Timer,
    TimerConfig,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)

Kit = Any


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def statuses(events: list[Any]) -> list[int]:
    return [e.response.status for e in events if isinstance(e, ResponseReceived)]


def start_invite(kit: Kit, pair: Any, transport: str = "UDP") -> tuple[int, int]:
    """Alice sends an INVITE; returns (client id, server id)."""
    tid = pair.client.send_request(
        kit.make_request("INVITE", transport=transport), kit.BOB, pair.now
    )
    pair.pump()
    [event] = pair.events("server")
    assert isinstance(event, RequestReceived) and event.transaction_id is not None
    return tid, event.transaction_id


def respond(pair: Any, sid: int, status: int, to_tag: str = "a6c85cf") -> None:
    request = pair.server._by_id[sid].request
    pair.server.send_response(sid, make_response(request, status, to_tag=to_tag), pair.now)


# -- INVITE client: figure 5 ---------------------------------------------------------------
def test_timer_a_doubles_and_timer_b_times_out(kit: Kit) -> None:
    """§17.1.1.2: retransmit at T1, 2T1, 4T1 … intervals; Timer B at 64*T1."""
    pair = kit.Pair()
    pair.drop = {"client"}
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.pump()
    assert pair.client.get_timer() == 0.5
    pair.advance(100.0)
    assert pair.sent_by("client", "INVITE") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    events = pair.events("client")
    assert events == [TransactionTimedOut(tid, Timer.B), TransactionTerminated(tid)]
    assert pair.client.state_of(tid) is None and len(pair.client) == 0
    assert pair.client.get_timer() is None


def test_timers_follow_configured_t1(kit: Kit) -> None:
    pair = kit.Pair(TimerConfig(t1=0.1, t2=1.0, t4=2.0))
    pair.drop = {"client"}
    pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.pump()
    pair.advance(100.0)
    assert pair.sent_by("client", "INVITE") == pytest.approx([0.0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3])
    assert pair.now == 100.0 and pair.client.get_timer() is None  # Timer B at 6.4 ended it


def test_invite_provisional_stops_retransmissions(kit: Kit, pair: Any) -> None:
    tid, _sid = start_invite(kit, pair)
    assert pair.sent_by("server", "100") == [0.0]  # §17.2.1: Trying at once
    assert statuses(pair.events("client")) == [100]
    assert pair.client.state_of(tid) is State.PROCEEDING
    assert pair.client.get_timer() is None  # A and B stopped (figure 5)
    pair.advance(100.0)
    assert pair.sent_by("client", "INVITE") == [0.0]


def test_invite_non_2xx_ack_and_timer_d(kit: Kit, pair: Any) -> None:
    """§17.1.1.2/3: ACK sent by the transaction; Completed for Timer D (32 s)."""
    tid, sid = start_invite(kit, pair)
    pair.events("client")
    pair.now = 1.0
    respond(pair, sid, 486)
    pair.pump()
    assert pair.sent_by("client", "ACK") == [1.0]
    assert statuses(pair.events("client")) == [486]
    assert pair.client.state_of(tid) is State.COMPLETED
    assert pair.server.state_of(sid) is State.CONFIRMED
    assert pair.client.get_timer() == 33.0
    assert pair.server.get_timer() == 6.0  # Timer I = T4
    pair.advance(6.0)
    assert pair.events("server") == [TransactionTerminated(sid)]
    pair.advance(33.0)
    assert pair.events("client") == [TransactionTerminated(tid)]


def test_ack_built_per_17_1_1_3(kit: Kit, pair: Any) -> None:
    invite = kit.make_request("INVITE", routes=("<sip:p1.example;lr>", "<sip:p2.example;lr>"))
    pair.client.send_request(invite, kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    pair.server.send_response(
        event.transaction_id, make_response(event.request, 603, to_tag="xyz"), 0.0
    )
    pair.flush("server")
    [ack] = [m.message for m in pair.client.messages_to_send()]
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.uri == invite.uri and ack.call_id == invite.call_id
    assert ack.headers.get_all("Via") == invite.headers.get_all("Via")[:1]  # same branch
    assert ack.headers.get_all("Route") == invite.headers.get_all("Route")
    assert ack.to is not None and ack.to.tag == "xyz"
    assert ack.from_ is not None and ack.from_.tag == "1928301774"
    assert ack.cseq is not None and (ack.cseq.seq, ack.cseq.method) == (1, "ACK")
    assert ack.body == b""


def test_retransmitted_final_is_acked_again_not_passed_up(kit: Kit, pair: Any) -> None:
    _tid, sid = start_invite(kit, pair)
    pair.events("client")
    pair.drop = {"client"}  # the ACK is lost: Bob retransmits 486 on Timer G
    respond(pair, sid, 486)
    pair.pump()
    pair.advance(2.0)
    assert pair.sent_by("server", "486") == [0.0, 0.5, 1.5]
    assert pair.sent_by("client", "ACK") == [0.0, 0.5, 1.5]
    assert statuses(pair.events("client")) == [486]  # only once to the TU


def test_timer_g_caps_at_t2_and_timer_h_times_out(kit: Kit, pair: Any) -> None:
    """§17.2.1: G at T1, doubling up to T2; H at 64*T1 → inform TU."""
    _tid, sid = start_invite(kit, pair)
    pair.drop = {"server", "client"}
    respond(pair, sid, 486)
    pair.pump()
    pair.advance(100.0)
    assert pair.sent_by("server", "486") == [
        0.0,
        0.5,
        1.5,
        3.5,
        7.5,
        11.5,
        15.5,
        19.5,
        23.5,
        27.5,
        31.5,
    ]
    assert pair.events("server") == [TransactionTimedOut(sid, Timer.H), TransactionTerminated(sid)]


def test_2xx_goes_to_accepted_both_sides(kit: Kit, pair: Any) -> None:
    """RFC 6026: Accepted with Timer M (client) and L (server), 64*T1 each;
    2xx retransmissions by the TU reach the client TU every time."""
    tid, sid = start_invite(kit, pair)
    pair.events("client")
    pair.now = 2.0
    respond(pair, sid, 200)
    pair.pump()
    assert pair.client.state_of(tid) is State.ACCEPTED
    assert pair.server.state_of(sid) is State.ACCEPTED
    assert pair.sent_by("client", "ACK") == []  # the 2xx ACK is the TU's (§13.2.2.4)
    pair.now = 2.5
    respond(pair, sid, 200)  # the UAS core retransmits (§13.3.1.4)
    pair.pump()
    assert statuses(pair.events("client")) == [200, 200]
    assert pair.client.get_timer() == 34.0 and pair.server.get_timer() == 34.0
    pair.advance(34.0)
    assert pair.events("client") == [TransactionTerminated(tid)]
    assert pair.events("server") == [TransactionTerminated(sid)]


def test_ack_for_2xx_reaches_tu_outside_transaction(kit: Kit, pair: Any) -> None:
    _tid, sid = start_invite(kit, pair)
    respond(pair, sid, 200)
    pair.pump()
    ack = kit.make_request("ACK")  # a new branch: its own "transaction" (§17.1.1.3)
    pair.client.send_stateless(ack, kit.BOB)
    pair.pump()
    [event] = pair.events("server")
    assert isinstance(event, RequestReceived) and event.transaction_id is None
    assert event.request.method == "ACK" and event.source == kit.ALICE


def test_ack_same_branch_in_accepted_passed_up(kit: Kit, pair: Any) -> None:
    """RFC 6026 §8.7 figure 7: an ACK matching the Accepted transaction goes to the TU."""
    invite = kit.make_request("INVITE")
    pair.client.send_request(invite, kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    respond(pair, event.transaction_id, 200)
    pair.pump()
    ack = kit.make_request("ACK", branch=invite.top_via.branch, to_tag="a6c85cf")
    pair.server.receive(ack, kit.ALICE, 0.1)
    assert pair.events("server") == [RequestReceived(event.transaction_id, ack, kit.ALICE)]


def test_stray_2xx_after_timer_m_passed_up(kit: Kit, pair: Any) -> None:
    tid, sid = start_invite(kit, pair)
    respond(pair, sid, 200)
    pair.pump()
    response = pair.server._by_id[sid].last_response
    pair.advance(40.0)
    assert pair.client.state_of(tid) is None
    pair.events("client")
    pair.client.receive(response, kit.BOB, 40.0)
    [event] = pair.events("client")
    assert isinstance(event, ResponseReceived) and event.transaction_id is None


def test_duplicated_invite_absorbed_and_provisional_resent(kit: Kit, pair: Any) -> None:
    pair.duplicate = {"client"}
    _tid, sid = start_invite(kit, pair)
    assert pair.sent_by("server", "100") == [0.0, 0.0]  # resent for the retransmission
    respond(pair, sid, 180)
    pair.flush("server")
    pair.client.messages_to_send()
    pair.server.receive(parse_message(bytes(pair.server._by_id[sid].request)), kit.ALICE, 0.2)
    assert [kit.line(m.message) for m in pair.server.messages_to_send()] == ["180"]
    assert names(pair.events("server")) == []  # absorbed


def test_no_trying_when_disabled(kit: Kit) -> None:
    server = TransactionLayer(send_trying=False)
    invite = kit.make_request("INVITE")
    server.receive(invite, kit.ALICE, 0.0)
    assert server.messages_to_send() == []
    server.receive(invite, kit.ALICE, 0.1)  # nothing to resend yet
    assert server.messages_to_send() == []
    assert len(server) == 1


# -- non-INVITE client and server: figures 6 and 8 -----------------------------------------
def test_timer_e_caps_at_t2_and_timer_f(kit: Kit, pair: Any) -> None:
    pair.drop = {"client"}
    tid = pair.client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0)
    pair.pump()
    pair.advance(100.0)
    assert pair.sent_by("client", "OPTIONS") == [
        0.0,
        0.5,
        1.5,
        3.5,
        7.5,
        11.5,
        15.5,
        19.5,
        23.5,
        27.5,
        31.5,
    ]
    assert pair.events("client") == [TransactionTimedOut(tid, Timer.F), TransactionTerminated(tid)]


def test_timer_e_resets_to_t2_in_proceeding(kit: Kit, pair: Any) -> None:
    """§17.1.2.2: in Proceeding, E fires every T2."""
    tid = pair.client.send_request(kit.make_request("REGISTER"), kit.BOB, 0.0)
    pair.flush("client")
    [event] = pair.events("server")
    pair.server.send_response(event.transaction_id, make_response(event.request, 100), 0.0)
    pair.drop = {"client"}
    pair.pump()
    assert pair.client.state_of(tid) is State.PROCEEDING
    pair.advance(20.0)
    assert pair.sent_by("client", "REGISTER") == [0.0, 0.5, 4.5, 8.5, 12.5, 16.5]


def test_non_invite_final_timer_k_and_j(kit: Kit, pair: Any) -> None:
    tid = pair.client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    sid = event.transaction_id
    pair.now = 0.25
    pair.server.send_response(sid, make_response(event.request, 200), 0.25)
    pair.pump()
    assert statuses(pair.events("client")) == [200]
    assert pair.client.get_timer() == 5.25  # K = T4
    assert pair.server.get_timer() == 32.25  # J = 64*T1
    pair.advance(5.25)
    assert pair.events("client") == [TransactionTerminated(tid)]
    pair.server.receive(event.request, kit.ALICE, 10.0)  # a late retransmission
    assert [kit.line(m.message) for m in pair.server.messages_to_send()] == ["200"]
    pair.advance(32.25)
    assert pair.events("server") == [TransactionTerminated(sid)]


def test_non_invite_server_trying_absorbs_and_proceeding_resends(kit: Kit) -> None:
    server = TransactionLayer()
    request = kit.make_request("BYE")
    server.receive(request, kit.ALICE, 0.0)
    event = server.next_event()
    assert isinstance(event, RequestReceived) and event.transaction_id is not None
    server.receive(request, kit.ALICE, 0.1)
    assert server.messages_to_send() == [] and server.next_event() is None
    server.send_response(event.transaction_id, make_response(request, 180), 0.2)
    server.messages_to_send()
    server.receive(request, kit.ALICE, 0.3)
    assert [kit.line(m.message) for m in server.messages_to_send()] == ["180"]
    server.send_response(event.transaction_id, make_response(request, 200), 0.4)
    server.send_response(event.transaction_id, make_response(request, 500), 0.5)  # discarded
    assert [kit.line(m.message) for m in server.messages_to_send()] == ["200"]
    with pytest.raises(LocalProtocolError):
        server.send_response(event.transaction_id, make_response(request, 180), 0.6)


def test_late_responses_after_completed_ignored(kit: Kit, pair: Any) -> None:
    pair.duplicate = {"server"}
    pair.client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    pair.server.send_response(event.transaction_id, make_response(event.request, 404), 0.0)
    pair.pump()
    assert statuses(pair.events("client")) == [404]


# -- reliable transports: timers that become zero ------------------------------------------
def test_reliable_invite_no_retransmission_d_and_i_zero(kit: Kit, pair: Any) -> None:
    pair.drop = {"client"}
    tid = pair.client.send_request(kit.make_request("INVITE", transport="TCP"), kit.BOB, 0.0)
    pair.pump()
    assert pair.client.get_timer() == 32.0  # only Timer B
    pair.drop = set()
    pair.client.send_request(kit.make_request("INVITE", transport="TCP", cseq=2), kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    respond(pair, event.transaction_id, 486)
    pair.pump()
    assert pair.sent_by("client", "ACK") == [0.0]
    # Timer D (client) and Timer I (server) are zero: both terminated at once.
    assert pair.events("server") == [TransactionTerminated(event.transaction_id)]
    assert names(pair.events("client")) == [
        "ResponseReceived",
        "ResponseReceived",
        "TransactionTerminated",
    ]
    assert pair.server.get_timer() is None
    pair.advance(100.0)
    assert pair.sent_by("client", "INVITE") == [0.0, 0.0]
    assert pair.sent_by("server", "486") == [0.0]  # no Timer G on TCP
    assert pair.events("client") == [TransactionTimedOut(tid, Timer.B), TransactionTerminated(tid)]


def test_reliable_non_invite_k_and_j_zero(kit: Kit, pair: Any) -> None:
    pair.client.send_request(kit.make_request("OPTIONS", transport="TLS"), kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    pair.server.send_response(event.transaction_id, make_response(event.request, 200), 0.0)
    pair.pump()
    assert names(pair.events("client")) == ["ResponseReceived", "TransactionTerminated"]
    assert pair.events("server") == [TransactionTerminated(event.transaction_id)]
    assert len(pair.client) == len(pair.server) == 0


def test_reliable_flag_overrides_via(kit: Kit) -> None:
    client = TransactionLayer()
    client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0, reliable=True)
    assert client.get_timer() == 32.0  # no Timer E


# -- transport errors: §17.1.4, §17.2.4 ----------------------------------------------------
def test_transport_error_client(kit: Kit) -> None:
    client = TransactionLayer()
    tid = client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    [out] = client.messages_to_send()
    assert out.transaction_id == tid and out.destination == kit.BOB
    client.handle_transport_error(tid, 0.1, "connection refused")
    assert [client.next_event(), client.next_event()] == [
        TransportErrorOccurred(tid, "connection refused"),
        TransactionTerminated(tid),
    ]
    client.handle_transport_error(tid, 0.2)  # late: ignored
    assert client.next_event() is None and client.get_timer() is None


def test_transport_error_server_accepted_stays(kit: Kit, pair: Any) -> None:
    """RFC 6026 figure 7: in Accepted a transport error is reported, the
    transaction stays for Timer L; in Completed it ends."""
    tid, sid = start_invite(kit, pair)
    respond(pair, sid, 200)
    pair.server.handle_transport_error(sid, 0.0)
    assert pair.events("server") == [TransportErrorOccurred(sid, "transport error")]
    assert pair.server.state_of(sid) is State.ACCEPTED
    tid2 = pair.client.send_request(kit.make_request("INVITE", cseq=2), kit.BOB, 0.0)
    pair.pump()
    sid2 = pair.events("server")[0].transaction_id
    respond(pair, sid2, 500)
    pair.server.handle_transport_error(sid2, 0.0)
    assert names(pair.events("server")) == ["TransportErrorOccurred", "TransactionTerminated"]
    assert tid2 != tid


# -- CANCEL: §9.1 and §9.2 -----------------------------------------------------------------
def test_cancel_waits_for_provisional(kit: Kit) -> None:
    pair = kit.Pair()
    pair.server = TransactionLayer(send_trying=False)
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.pump()
    [invite_event] = pair.events("server")
    cid = pair.client.cancel(tid, 0.1)
    assert cid is not None and pair.client.cancel(tid, 0.1) == cid
    assert pair.client.messages_to_send() == []  # §9.1: not before a 1xx
    pair.now = 0.2
    respond(pair, invite_event.transaction_id, 180)
    pair.pump()
    assert pair.sent_by("client", "CANCEL") == [0.2]
    events = pair.events("server")
    [cancel_event] = [e for e in events if isinstance(e, CancelReceived)]
    assert cancel_event.invite_transaction_id == invite_event.transaction_id
    cancel = cancel_event.request
    assert cancel.top_via is not None and invite_event.request.top_via is not None
    assert cancel.method == "CANCEL"
    assert cancel.top_via.branch == invite_event.request.top_via.branch
    assert cancel.cseq is not None and (cancel.cseq.seq, cancel.cseq.method) == (1, "CANCEL")
    assert cancel.to == invite_event.request.to or str(cancel.to) == str(invite_event.request.to)
    # The UAS answers 200 to the CANCEL and 487 to the INVITE (§9.2).
    pair.server.send_response(cancel_event.transaction_id, make_response(cancel, 200), 0.2)
    respond(pair, invite_event.transaction_id, 487)
    pair.pump()
    client_events = pair.events("client")
    assert [
        (e.transaction_id, e.response.status)
        for e in client_events
        if isinstance(e, ResponseReceived)
    ] == [
        (tid, 180),
        (cid, 200),
        (tid, 487),
    ]
    assert pair.sent_by("client", "ACK") == [0.2]


def test_cancel_dropped_when_final_comes_first(kit: Kit) -> None:
    pair = kit.Pair()
    pair.server = TransactionLayer(send_trying=False)
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.pump()
    [event] = pair.events("server")
    cid = pair.client.cancel(tid, 0.1)
    respond(pair, event.transaction_id, 200)
    pair.pump()
    assert pair.events("client")[-1] == TransactionTerminated(cid)
    assert pair.sent_by("client", "CANCEL") == []
    assert pair.client.cancel(tid, 0.3) == cid


def test_cancel_pending_ends_with_invite_timeout(kit: Kit) -> None:
    client = TransactionLayer()
    tid = client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    cid = client.cancel(tid, 0.0)
    assert cid is not None
    client.handle_timer(32.0)
    events = []
    while (event := client.next_event()) is not None:
        events.append(event)
    assert events[-2:] == [TransactionTerminated(tid), TransactionTerminated(cid)]


def test_cancel_rules(kit: Kit, pair: Any) -> None:
    tid, sid = start_invite(kit, pair)
    oid = pair.client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0)
    with pytest.raises(LocalProtocolError):
        pair.client.cancel(oid, 0.0)
    with pytest.raises(LocalProtocolError):
        pair.client.cancel(999, 0.0)
    respond(pair, sid, 486)
    pair.pump()
    assert pair.client.cancel(tid, 0.0) is None  # a final response is in
    pair.advance(100.0)
    assert pair.client.cancel(tid, 100.0) is None  # gone


def test_cancel_without_invite_gets_none(kit: Kit) -> None:
    server = TransactionLayer()
    from sipsec.transaction import build_cancel

    server.receive(build_cancel(kit.make_request("INVITE")), kit.ALICE, 0.0)
    event = server.next_event()
    assert isinstance(event, CancelReceived) and event.invite_transaction_id is None


# -- RFC 2543 fallback: §17.2.3 ------------------------------------------------------------
def test_rfc2543_invite_and_ack_matching(kit: Kit) -> None:
    server = TransactionLayer()
    invite = kit.make_request("INVITE", branch="old-style-1")
    server.receive(invite, kit.ALICE, 0.0)
    event = server.next_event()
    assert isinstance(event, RequestReceived) and event.transaction_id is not None
    sid = event.transaction_id
    server.receive(kit.make_request("INVITE", branch="old-style-1"), kit.ALICE, 0.1)
    assert server.next_event() is None  # the retransmission matched
    server.send_response(sid, make_response(invite, 486, to_tag="t1"), 0.2)
    ack = kit.make_request("ACK", branch="old-style-1", to_tag="t1")
    server.receive(ack, kit.ALICE, 0.3)
    assert server.state_of(sid) is State.CONFIRMED
    other = kit.make_request("ACK", branch="old-style-1", to_tag="t2")
    server.receive(other, kit.ALICE, 0.4)  # another tag: not ours
    assert server.next_event() == RequestReceived(None, other, kit.ALICE)
    server.handle_timer(10.0)
    assert server.next_event() == TransactionTerminated(sid)
    assert server._servers == {}


# -- misuse and garbage ------------------------------------------------------------------------
def test_send_request_rules(kit: Kit) -> None:
    client = TransactionLayer()
    with pytest.raises(LocalProtocolError):
        client.send_request(kit.make_request("ACK"), kit.BOB, 0.0)
    with pytest.raises(LocalProtocolError):
        client.send_request(kit.make_request("INVITE", branch="noCookie"), kit.BOB, 0.0)
    with pytest.raises(LocalProtocolError):
        client.send_request(kit.make_request("INVITE", branch="z9hG4bK"), kit.BOB, 0.0)
    request = kit.make_request("INVITE", branch="z9hG4bKsame")
    client.send_request(request, kit.BOB, 0.0)
    with pytest.raises(LocalProtocolError):
        client.send_request(request, kit.BOB, 0.0)
    bad = kit.make_request("OPTIONS")
    bad.headers.set("CSeq", "1 INFO")
    with pytest.raises(LocalProtocolError):
        client.send_request(bad, kit.BOB, 0.0)
    bad.headers.remove("Via")
    with pytest.raises(LocalProtocolError):
        client.send_request(bad, kit.BOB, 0.0)
    bad.headers.set("Via", "garbage")
    with pytest.raises(LocalProtocolError):
        client.send_request(bad, kit.BOB, 0.0)


def test_send_response_rules(kit: Kit, pair: Any) -> None:
    tid, sid = start_invite(kit, pair)
    request = pair.server._by_id[sid].request
    with pytest.raises(LocalProtocolError):
        pair.server.send_response(tid + 100, make_response(request, 200), 0.0)
    with pytest.raises(LocalProtocolError):
        pair.client.send_response(tid, make_response(request, 200), 0.0)
    with pytest.raises(LocalProtocolError):
        pair.server.send_response(sid, make_response(kit.make_request("INVITE"), 200), 0.0)
    pair.server.send_response(sid, make_response(request, 486), 0.0)
    with pytest.raises(LocalProtocolError):
        pair.server.send_response(sid, make_response(request, 200), 0.0)


def test_received_garbage_is_remote_error(kit: Kit) -> None:
    layer = TransactionLayer()
    request = kit.make_request("OPTIONS")
    request.headers.remove("Via")
    with pytest.raises(RemoteProtocolError):
        layer.receive(request, kit.ALICE, 0.0)
    request = kit.make_request("OPTIONS")
    request.headers.set("CSeq", "1 INFO")
    with pytest.raises(RemoteProtocolError):
        layer.receive(request, kit.ALICE, 0.0)
    request = kit.make_request("OPTIONS", branch="2543")
    request.headers.remove("Call-ID")
    with pytest.raises(RemoteProtocolError):
        layer.receive(request, kit.ALICE, 0.0)
    response = Response(200, None, [("CSeq", "1 OPTIONS")])
    with pytest.raises(RemoteProtocolError):
        layer.receive(response, kit.BOB, 0.0)
    no_branch = Response(200, None, [("Via", "SIP/2.0/UDP h"), ("CSeq", "1 OPTIONS")])
    layer.receive(no_branch, kit.BOB, 0.0)
    assert layer.next_event() == ResponseReceived(None, no_branch, kit.BOB)
    assert len(layer) == 0


def test_memory_bounded(kit: Kit, pair: Any) -> None:
    """Every transaction is forgotten at Terminated; stale heap entries go too."""
    for n in range(200):
        tid = pair.client.send_request(kit.make_request("OPTIONS", cseq=n + 1), kit.BOB, pair.now)
        pair.pump()
        event = pair.events("server")[0]
        pair.server.send_response(event.transaction_id, make_response(event.request, 200), pair.now)
        pair.pump()
        assert tid > 0
    assert len(pair.client) == len(pair.server) == 200
    pair.advance(1000.0)
    assert len(pair.client) == len(pair.server) == 0
    assert len(pair.client._timers) == len(pair.server._timers) == 0
    assert pair.client._clients == {} and pair.server._servers == {}


def test_datagrams_to_send_serializes(kit: Kit) -> None:
    client = TransactionLayer()
    request = kit.make_request("OPTIONS")
    client.send_request(request, kit.BOB, 0.0)
    assert client.datagrams_to_send() == [(bytes(request), kit.BOB)]
    assert client.datagrams_to_send() == []


def test_confirmed_absorbs_invite_and_ack(kit: Kit, pair: Any) -> None:
    """Figure 7: in Confirmed, INVITE and ACK retransmissions are absorbed."""
    invite = kit.make_request("INVITE")
    pair.client.send_request(invite, kit.BOB, 0.0)
    pair.pump()
    sid = pair.events("server")[0].transaction_id
    respond(pair, sid, 486)
    pair.pump()
    assert pair.server.state_of(sid) is State.CONFIRMED
    pair.server.receive(parse_message(bytes(invite)), kit.ALICE, 1.0)
    ack = pair.client._by_id[1].ack
    assert ack is not None
    pair.server.receive(parse_message(bytes(ack)), kit.ALICE, 1.0)
    pair.server.handle_transport_error(sid, 1.0)  # nothing of ours in flight
    assert pair.server.messages_to_send() == [] and pair.events("server") == []


def test_stray_ack_and_responses_in_wrong_states_ignored(kit: Kit, pair: Any) -> None:
    invite = kit.make_request("INVITE")
    tid = pair.client.send_request(invite, kit.BOB, 0.0)
    pair.pump()
    sid = pair.events("server")[0].transaction_id
    branch = invite.top_via.branch if invite.top_via else None
    pair.server.receive(kit.make_request("ACK", branch=branch), kit.ALICE, 0.1)  # Proceeding
    assert pair.server.state_of(sid) is State.PROCEEDING and pair.events("server") == []
    respond(pair, sid, 486)
    pair.pump()
    pair.events("client")
    late = make_response(pair.server._by_id[sid].request, 180, to_tag="a6c85cf")
    pair.client.receive(late, kit.BOB, 0.2)  # Completed ignores a 1xx
    pair.client.receive(make_response(invite, 200, to_tag="x"), kit.BOB, 0.2)  # and a 2xx
    assert pair.events("client") == [] and pair.client.messages_to_send() == []
    assert pair.client.state_of(tid) is State.COMPLETED
    pair.client.handle_transport_error(tid, 0.3, "ICMP unreachable")  # figure 5: Completed ends
    assert pair.events("client") == [
        TransportErrorOccurred(tid, "ICMP unreachable"),
        TransactionTerminated(tid),
    ]


def test_accepted_client_ignores_others(kit: Kit, pair: Any) -> None:
    tid, sid = start_invite(kit, pair)
    respond(pair, sid, 200)
    pair.pump()
    pair.events("client")
    request = pair.server._by_id[sid].request
    for status in (180, 486):
        pair.client.receive(make_response(request, status, to_tag="a6c85cf"), kit.BOB, 1.0)
    pair.client.handle_transport_error(tid, 1.0)
    assert pair.events("client") == [] and pair.client.state_of(tid) is State.ACCEPTED


def test_final_response_without_to_is_remote_error(kit: Kit) -> None:
    """Found by Hypothesis: the ACK for a non-2xx copies the response's To, so
    a response without one is the peer's error, not ours."""
    client = TransactionLayer()
    invite = kit.make_request("INVITE")
    tid = client.send_request(invite, kit.BOB, 0.0)
    response = make_response(invite, 486, to_tag="x")
    response.headers.remove("To")
    with pytest.raises(RemoteProtocolError):
        client.receive(response, kit.BOB, 0.1)
    assert client.state_of(tid) is State.CALLING and client.next_event() is None


def test_terminate_abandons(kit: Kit, pair: Any) -> None:
    """§9.1: the TU gives up on an INVITE the CANCEL did not end."""
    tid, sid = start_invite(kit, pair)
    cid = pair.client.cancel(tid, 0.0)
    pair.flush("client")
    pair.events("client")
    pair.client.terminate(tid)
    pair.server.terminate(sid)
    pair.client.terminate(tid)  # twice: ignored
    assert pair.events("client") == [TransactionTerminated(tid)]
    assert pair.client.state_of(tid) is None and pair.client.state_of(cid or 0) is not None
    assert names(pair.events("server")) == ["CancelReceived", "TransactionTerminated"]
    assert len(pair.server) == 1  # the CANCEL's own transaction


def test_pending_cancel_yields_to_tu_cancel(kit: Kit) -> None:
    """If the TU sent its own CANCEL meanwhile, ours is never started."""
    from sipsec.transaction import build_cancel

    client = TransactionLayer()
    invite = kit.make_request("INVITE")
    tid = client.send_request(invite, kit.BOB, 0.0)
    cid = client.cancel(tid, 0.0)
    own = client.send_request(build_cancel(invite), kit.BOB, 0.0)
    client.messages_to_send()
    client.receive(make_response(invite, 180, to_tag="x"), kit.BOB, 0.1)
    assert client.next_event() is not None
    assert client.next_event() == TransactionTerminated(cid or 0)
    assert [m.transaction_id for m in client.messages_to_send()] == []
    assert client.state_of(own) is State.TRYING


def test_rfc2543_aliases_follow_the_tag(kit: Kit) -> None:
    server = TransactionLayer()
    invite = kit.make_request("INVITE", branch="old")
    server.receive(invite, kit.ALICE, 0.0)  # 100 Trying without a tag: no alias
    event = server.next_event()
    assert isinstance(event, RequestReceived) and event.transaction_id is not None
    sid = event.transaction_id
    assert repr(server._by_id[sid]) == f"<Transaction {sid} INVITE_SERVER INVITE proceeding>"
    server.send_response(sid, make_response(invite, 180, to_tag="t1"), 0.1)
    server.send_response(sid, make_response(invite, 200, to_tag="t1"), 0.2)  # same alias
    assert len(server._servers) == 2
    server.handle_timer(100.0)
    assert server._servers == {} and len(server) == 0


def test_receive_reliable_flag_and_bad_response(kit: Kit) -> None:
    server = TransactionLayer()
    invite = kit.make_request("INVITE")  # says UDP; the transport knows better
    server.receive(invite, kit.ALICE, 0.0, reliable=True)
    event = server.next_event()
    assert isinstance(event, RequestReceived) and event.transaction_id is not None
    server.send_response(event.transaction_id, make_response(invite, 486), 0.0)
    assert server.get_timer() == 32.0  # Timer H only: no Timer G
    response = make_response(invite, 200)
    response.headers.set("CSeq", "bad")
    with pytest.raises(LocalProtocolError):
        server.send_response(event.transaction_id, response, 0.0)


def test_has_server_transaction_answers_by_key(kit: Kit) -> None:
    """§17.2.3 by branch, sent-by (host case-insensitive) and method, for a
    caller that has only the raw fields (the proxy's byte-level relay)."""
    layer = TransactionLayer()
    request = kit.make_request("INVITE")
    layer.receive(request, kit.BOB, 0.0)
    via = request.top_via
    assert via is not None and via.branch is not None
    has, branch, transport, port = layer.has_server_transaction, via.branch, via.transport, via.port
    assert has("INVITE", branch, transport, via.host.upper(), port)
    assert not has("BYE", branch, transport, via.host, port)
    assert not has("INVITE", branch + "x", transport, via.host, port)
    assert not has("INVITE", branch, transport, "elsewhere", port)
