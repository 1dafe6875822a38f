"""The four tables against figures 5–8 (RFC 3261 §17, RFC 6026), and
Hypothesis over state × input sequences (h2's ``test_state_machines.py``):
a pair is either in the table or raises LocalProtocolError, nothing else,
and no peer input can ever raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.errors import LocalProtocolError
from sipsec.transaction.tables import (
    ALIVE,
    IGNORE,
    REMOTE_INPUTS,
    STARTS,
    TABLES,
    Action,
    Input,
    Kind,
    State,
    transition,
)
from sipsec.transaction.timers import Timer

TIMER_INPUTS = {Input.fired(t): t for t in Timer}


def reachable(kind: Kind) -> set[State]:
    table = TABLES[kind]
    seen = {State.INIT}
    frontier = [State.INIT]
    while frontier:
        state = frontier.pop()
        for (source, _), (_, target) in table.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


REACHABLE = {kind: reachable(kind) for kind in Kind}
EXPECTED_STATES = {
    Kind.INVITE_CLIENT: {"init", "calling", "proceeding", "completed", "accepted", "terminated"},
    Kind.NON_INVITE_CLIENT: {"init", "trying", "proceeding", "completed", "terminated"},
    Kind.INVITE_SERVER: {"init", "proceeding", "completed", "confirmed", "accepted", "terminated"},
    Kind.NON_INVITE_SERVER: {"init", "trying", "proceeding", "completed", "terminated"},
}


@pytest.mark.parametrize("kind", list(Kind))
def test_states_are_the_figures(kind: Kind) -> None:
    assert {s.value for s in reachable(kind)} == EXPECTED_STATES[kind]
    # Terminated is final: no row leaves it.
    assert not [key for key in TABLES[kind] if key[0] is State.TERMINATED]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_peer_input_is_listed(kind: Kind) -> None:
    """A peer or the network can never hit a missing pair."""
    for state in reachable(kind) - {State.INIT, State.TERMINATED}:
        for event in REMOTE_INPUTS[kind]:
            assert (state, event) in TABLES[kind], (state, event)


@pytest.mark.parametrize("kind", list(Kind))
def test_timers_listed_exactly_where_alive(kind: Kind) -> None:
    for state in reachable(kind):
        alive = ALIVE[kind].get(state, frozenset())
        for event, timer in TIMER_INPUTS.items():
            assert ((state, event) in TABLES[kind]) == (timer in alive), (state, timer)


@pytest.mark.parametrize("kind", list(Kind))
def test_started_timers_live_in_the_next_state(kind: Kind) -> None:
    for (_, _), (actions, target) in TABLES[kind].items():
        for action in actions:
            if action in STARTS:
                assert STARTS[action] in ALIVE[kind].get(target, frozenset()), (action, target)


def test_figure_5_rows() -> None:
    t = TABLES[Kind.INVITE_CLIENT]
    assert t[State.CALLING, Input.RECV_300_699] == (
        (Action.RESPONSE_TO_TU, Action.SEND_ACK, Action.START_D),
        State.COMPLETED,
    )
    assert t[State.CALLING, Input.TIMER_A] == ((Action.SEND_REQUEST, Action.START_A), State.CALLING)
    assert t[State.PROCEEDING, Input.RECV_2XX][1] is State.ACCEPTED  # RFC 6026
    assert t[State.ACCEPTED, Input.RECV_2XX] == ((Action.RESPONSE_TO_TU,), State.ACCEPTED)
    assert t[State.COMPLETED, Input.RECV_300_699] == ((Action.SEND_ACK,), State.COMPLETED)


def test_figure_7_rows() -> None:
    t = TABLES[Kind.INVITE_SERVER]
    assert t[State.PROCEEDING, Input.TU_2XX] == (
        (Action.SEND_RESPONSE, Action.START_L),
        State.ACCEPTED,
    )
    assert t[State.COMPLETED, Input.ACK] == ((Action.START_I,), State.CONFIRMED)
    assert t[State.ACCEPTED, Input.REQUEST] == (IGNORE, State.ACCEPTED)
    assert t[State.ACCEPTED, Input.ACK] == ((Action.ACK_TO_TU,), State.ACCEPTED)


def test_missing_pair_is_local_error() -> None:
    with pytest.raises(LocalProtocolError, match="not allowed in state completed"):
        transition(Kind.INVITE_SERVER, State.COMPLETED, Input.TU_2XX)
    with pytest.raises(LocalProtocolError):
        transition(Kind.NON_INVITE_CLIENT, State.TERMINATED, Input.RECV_2XX)


@settings(max_examples=1000, deadline=None)
@given(kind=st.sampled_from(list(Kind)), inputs=st.lists(st.sampled_from(list(Input)), max_size=30))
def test_state_input_sequences(kind: Kind, inputs: list[Input]) -> None:
    """Walk a table with arbitrary inputs: a listed pair moves it, a missing
    one raises LocalProtocolError and leaves the state alone. In a live
    state only the TU's inputs, the other side's inputs (which the layer never
    routes here) and timers that are not running can be missing."""
    state = State.INIT
    for event in inputs:
        try:
            actions, state = transition(kind, state, event)
        except LocalProtocolError:
            live = state is not State.INIT and state is not State.TERMINATED
            assert not (live and event in REMOTE_INPUTS[kind])  # a peer can never raise
            if event in TIMER_INPUTS and state is not State.TERMINATED:
                assert TIMER_INPUTS[event] not in ALIVE[kind].get(state, frozenset())
            continue
        assert all(isinstance(a, Action) for a in actions)
        assert state in REACHABLE[kind]
