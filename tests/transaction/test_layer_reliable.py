"""``TransactionLayer.mark_reliable``: a client transaction whose request the
transport moved from UDP to TCP (RFC 3261 §18.1.1) becomes a reliable one
(§17.1.1.2, §17.1.2.2): no more Timer A or E, Timer D and K zero, Timers B
and F unchanged. Every time is exact on the fake clock of conftest.py
(T1 = 0.5 s, T2 = 4 s, T4 = 5 s)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import make_response
from sipsec.transaction import (
    RequestReceived,
    ResponseReceived,
    State,
    Timer,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
)

Kit = Any


def test_invite_marked_after_one_retransmission_times_out_by_timer_b(kit: Kit) -> None:
    pair = kit.Pair()
    pair.drop = {"client"}
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.pump()
    pair.advance(0.7)
    assert pair.sent_by("client", "INVITE") == [0.0, 0.5]  # Timer A once, at T1
    assert pair.client.get_timer() == 1.5  # the next Timer A
    assert pair.client.mark_reliable(tid, 0.7) is True
    assert pair.client.get_timer() == 32.0  # only Timer B (64*T1) is left
    pair.advance(31.999)
    assert pair.events("client") == []
    pair.advance(32.0)
    assert pair.events("client") == [TransactionTimedOut(tid, Timer.B), TransactionTerminated(tid)]
    pair.advance(100.0)
    assert pair.sent_by("client", "INVITE") == [0.0, 0.5]
    assert pair.client.get_timer() is None


def test_invite_marked_at_once_is_sent_once(kit: Kit) -> None:
    pair = kit.Pair()
    pair.drop = {"client"}
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.pump()
    assert pair.client.mark_reliable(tid, 0.0) is True
    assert pair.client.mark_reliable(tid, 0.1) is False  # already reliable
    assert pair.client.state_of(tid) is State.CALLING
    pair.advance(100.0)
    assert pair.sent_by("client", "INVITE") == [0.0]
    assert pair.events("client") == [TransactionTimedOut(tid, Timer.B), TransactionTerminated(tid)]


def test_non_invite_marked_stops_timer_e_and_keeps_timer_f(kit: Kit) -> None:
    pair = kit.Pair()
    pair.drop = {"client"}
    tid = pair.client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0)
    pair.pump()
    pair.advance(1.0)
    assert pair.sent_by("client", "OPTIONS") == [0.0, 0.5]
    assert pair.client.mark_reliable(tid, 1.0) is True
    assert pair.client.get_timer() == 32.0  # Timer F
    pair.advance(100.0)
    assert pair.sent_by("client", "OPTIONS") == [0.0, 0.5]
    assert pair.events("client") == [TransactionTimedOut(tid, Timer.F), TransactionTerminated(tid)]


def test_non_invite_marked_in_proceeding_stops_the_t2_retransmissions(kit: Kit) -> None:
    pair = kit.Pair()
    tid = pair.client.send_request(kit.make_request("REGISTER"), kit.BOB, 0.0)
    pair.flush("client")
    [event] = pair.events("server")
    pair.server.send_response(event.transaction_id, make_response(event.request, 100), 0.0)
    pair.drop = {"client"}
    pair.pump()
    assert pair.client.state_of(tid) is State.PROCEEDING
    pair.advance(5.0)
    assert pair.sent_by("client", "REGISTER") == [0.0, 0.5, 4.5]  # E at T1, then T2
    assert pair.client.mark_reliable(tid, 5.0) is True
    assert pair.client.get_timer() == 32.0
    pair.advance(40.0)
    assert pair.sent_by("client", "REGISTER") == [0.0, 0.5, 4.5]
    assert pair.events("client")[-2:] == [
        TransactionTimedOut(tid, Timer.F),
        TransactionTerminated(tid),
    ]


def test_marked_invite_has_timer_d_zero(kit: Kit, pair: Any) -> None:
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.client.mark_reliable(tid, 0.0)
    pair.flush("client")
    [event] = pair.events("server")
    pair.now = 0.25
    pair.server.send_response(
        event.transaction_id, make_response(event.request, 486, to_tag="x"), 0.25
    )
    pair.flush("server")
    pair.flush("client")
    assert pair.sent_by("client", "ACK") == [0.25]
    events = pair.events("client")
    assert [e.response.status for e in events if isinstance(e, ResponseReceived)] == [100, 486]
    assert events[-1] == TransactionTerminated(tid)  # Timer D zero: no 32 s linger
    assert pair.client.get_timer() is None and len(pair.client) == 0


def test_a_running_timer_d_or_k_fires_when_marked(kit: Kit, pair: Any) -> None:
    """The final response came before the move was reported: D (or K) would
    have been zero, so the transaction ends at the mark."""
    invite = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    options = pair.client.send_request(kit.make_request("OPTIONS"), kit.BOB, 0.0)
    pair.flush("client")
    for event in pair.events("server"):
        assert isinstance(event, RequestReceived) and event.transaction_id is not None
        status = 486 if event.request.method == "INVITE" else 200
        response = make_response(event.request, status, to_tag="x")
        pair.server.send_response(event.transaction_id, response, 0.0)
    pair.flush("server")
    pair.flush("client")
    pair.events("client")
    assert pair.client.state_of(invite) is State.COMPLETED
    assert pair.client.state_of(options) is State.COMPLETED
    assert pair.client.get_timer() == 5.0  # K = T4; D = 32 s
    assert pair.client.mark_reliable(options, 1.0) is True
    assert pair.events("client") == [TransactionTerminated(options)]
    assert pair.client.get_timer() == 32.0
    assert pair.client.mark_reliable(invite, 2.0) is True
    assert pair.events("client") == [TransactionTerminated(invite)]
    assert pair.client.get_timer() is None and len(pair.client) == 0


def test_server_unknown_and_finished_transactions_are_ignored(kit: Kit, pair: Any) -> None:
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.flush("client")
    [event] = pair.events("server")
    sid = event.transaction_id
    assert sid is not None
    pair.server.send_response(sid, make_response(event.request, 486, to_tag="x"), 0.0)
    assert pair.server.mark_reliable(sid, 0.0) is False  # a server's timers stay
    assert pair.server.get_timer() == 0.5  # Timer G
    assert pair.client.mark_reliable(tid + 1000, 0.0) is False
    pair.client.terminate(tid)
    assert pair.client.mark_reliable(tid, 0.0) is False


def test_a_cancel_of_a_marked_invite_is_reliable_too(kit: Kit, pair: Any) -> None:
    tid = pair.client.send_request(kit.make_request("INVITE"), kit.BOB, 0.0)
    pair.client.mark_reliable(tid, 0.0)
    pair.flush("client")
    [event] = pair.events("server")
    pair.server.send_response(event.transaction_id, make_response(event.request, 180), 0.0)
    pair.flush("server")
    pair.drop = {"client"}
    cancel = pair.client.cancel(tid, 0.0)
    assert cancel is not None
    pair.pump()
    pair.advance(31.0)
    # The transport sends the CANCEL where the INVITE went (§9.1): over TCP.
    assert pair.sent_by("client", "CANCEL") == [0.0]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["INVITE", "OPTIONS"]), max_size=3),
    st.lists(st.tuples(st.integers(-(2**70), 2**70), st.floats(0, 1e6)), max_size=8),
)
def test_any_id_any_time_gives_a_bool(
    kit: Kit, methods: list[str], marks: list[tuple[int, float]]
) -> None:
    layer = TransactionLayer()
    for method in methods:
        layer.send_request(kit.make_request(method), kit.BOB, 0.0)
    for transaction_id, now in marks:
        assert layer.mark_reliable(transaction_id, now) in (True, False)
    layer.handle_timer(1e7)  # what is left still ends
    assert len(layer) == 0
