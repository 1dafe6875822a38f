"""The engine under the transaction layer (sipsec.transaction.engine): one
transaction at a time driven with raw table inputs, checked against the
state tables themselves (figures 5–8) — the loop must neither skip nor
invent a transition, must fire a zero timer at once, keep only the timers
alive in its state, and forget the transaction the instant it terminates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.errors import LocalProtocolError
from sipsec.sip import Request, Response, make_response
from sipsec.transaction import (
    RequestReceived,
    ResponseReceived,
    TimerConfig,
    TransactionLayer,
    TransactionTerminated,
)
from sipsec.transaction.engine import TransactionEngine
from sipsec.transaction.matching import build_ack
from sipsec.transaction.tables import ALIVE, STARTS, Input, Kind, State, transition
from sipsec.transaction.transaction import Transaction

from .conftest import ALICE, make_request

CONFIG = TimerConfig()
CLIENTS = (Kind.INVITE_CLIENT, Kind.NON_INVITE_CLIENT)
FIRST = {
    Kind.INVITE_CLIENT: Input.REQUEST_FROM_TU,
    Kind.NON_INVITE_CLIENT: Input.REQUEST_FROM_TU,
    Kind.INVITE_SERVER: Input.REQUEST,
    Kind.NON_INVITE_SERVER: Input.REQUEST,
}
STATUS = {
    Input.RECV_1XX: 180,
    Input.RECV_2XX: 200,
    Input.RECV_300_699: 486,
    Input.TU_1XX: 180,
    Input.TU_2XX: 200,
    Input.TU_300_699: 486,
}


def model(kind: Kind, state: State, event: Input, reliable: bool) -> State:
    """Where the table takes ``state`` on ``event``, zero timers fired at once
    (what the engine must reproduce); LocalProtocolError for a missing pair."""
    pending = [event]
    while pending:
        actions, state = transition(kind, state, pending.pop())
        for action in actions:
            timer = STARTS.get(action)
            if timer is not None and CONFIG.first(timer, reliable) == 0:
                pending.append(Input.fired(timer))
        if state is State.TERMINATED:
            break
    return state


def message_for(request: Request, event: Input) -> Request | Response | None:
    if event in STATUS:
        return make_response(request, STATUS[event], to_tag="b1")
    if event is Input.ACK:
        return build_ack(request, make_response(request, 486, to_tag="b1"))
    if event is Input.REQUEST:
        return request
    return None


@settings(max_examples=1000, deadline=None)
@given(
    kind=st.sampled_from(list(Kind)),
    reliable=st.booleans(),
    inputs=st.lists(st.sampled_from(list(Input)), max_size=12),
)
def test_the_engine_follows_the_tables(kind: Kind, reliable: bool, inputs: list[Input]) -> None:
    engine = TransactionEngine(CONFIG)
    method = "INVITE" if kind in (Kind.INVITE_CLIENT, Kind.INVITE_SERVER) else "OPTIONS"
    request = make_request(method, transport="TCP" if reliable else "UDP")
    txn = Transaction(1, kind=kind, request=request, peer=ALICE, reliable=reliable, key="k")
    engine._by_id[1] = txn
    (engine._clients if kind in CLIENTS else engine._servers)["k"] = txn
    expected = State.INIT
    now = 0.0
    for event in [FIRST[kind], *inputs]:
        if expected is State.TERMINATED:
            break
        now += 1.0
        try:
            want = model(kind, expected, event, reliable)
        except LocalProtocolError:
            before = (txn.state, dict(txn.deadlines), len(engine._outgoing))
            try:
                engine._drive(txn, event, now, message=message_for(request, event))
            except LocalProtocolError:
                pass
            else:
                raise AssertionError(f"{kind} {expected} accepted {event}")
            assert (txn.state, dict(txn.deadlines), len(engine._outgoing)) == before
            continue
        engine._drive(txn, event, now, message=message_for(request, event), reason="gone")
        assert txn.state is want, (kind, expected, event)
        expected = want
        # Only the timers the new state keeps are running.
        assert set(txn.deadlines) <= ALIVE[kind].get(want, frozenset())
    terminated = [e for e in engine._events if isinstance(e, TransactionTerminated)]
    if expected is State.TERMINATED:
        assert 1 not in engine._by_id and not engine._clients and not engine._servers
        assert terminated == [TransactionTerminated(1)] and not txn.deadlines
    else:
        assert engine._by_id == {1: txn} and terminated == []


def test_the_layer_is_an_engine_with_the_same_state() -> None:
    layer = TransactionLayer(CONFIG, send_trying=False)
    assert isinstance(layer, TransactionEngine)
    assert layer.config is CONFIG and len(layer) == 0


def test_a_zero_timer_fires_within_the_same_call() -> None:
    """Over TCP Timer K is zero (§17.1.2.2): the 2xx terminates the
    non-INVITE client transaction before _drive returns."""
    layer = TransactionLayer(CONFIG)
    request = make_request("OPTIONS", transport="TCP")
    tid = layer.send_request(request, ALICE, 0.0)
    layer.receive(make_response(request, 200, to_tag="b1"), ALICE, 0.5)
    got = list(iter(layer.next_event, None))
    assert [type(e) for e in got] == [ResponseReceived, TransactionTerminated]
    assert layer.state_of(tid) is None and len(layer) == 0 and layer.get_timer() is None


def test_a_cancel_waits_for_a_provisional_then_goes() -> None:
    """§9.1: asked for before any 1xx, the CANCEL is held by the engine and
    sent when the first provisional arrives."""
    layer = TransactionLayer(CONFIG)
    invite = make_request("INVITE")
    tid = layer.send_request(invite, ALICE, 0.0)
    layer.messages_to_send()
    cancel_id = layer.cancel(tid, 0.1)
    assert cancel_id is not None and layer.messages_to_send() == []
    layer.receive(make_response(invite, 180, to_tag="b1"), ALICE, 0.2)
    [out] = layer.messages_to_send()
    assert isinstance(out.message, Request) and out.message.method == "CANCEL"
    assert out.transaction_id == cancel_id


def test_a_request_goes_to_the_tu_once() -> None:
    layer = TransactionLayer(CONFIG)
    request = make_request("OPTIONS")
    for _ in range(3):  # retransmissions are absorbed by the transaction
        layer.receive(make_request("OPTIONS", branch=request.top_via.branch), ALICE, 0.0)  # type: ignore[union-attr]
    got = list(iter(layer.next_event, None))
    assert [type(e) for e in got] == [RequestReceived]
