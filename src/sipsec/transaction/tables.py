"""The four transaction state machines of RFC 3261 §17 as transition tables.

Each table maps ``(state, input) -> (actions, next state)`` and is laid out
to be read beside its figure: INVITE client (figure 5 as RFC 6026 §7.2
redrew it, with Accepted), non-INVITE client (figure 6), INVITE server
(figure 7 as RFC 6026 §7.1 redrew it) and non-INVITE server (figure 8).

A pair missing from a table is something the transaction user may not do in
that state (sending a second final response, say): :func:`transition` raises
:class:`~sipsec.errors.LocalProtocolError`. Everything a peer or the network
can cause — a response, a retransmitted request, an ACK, a transport error —
is listed in every state, with ``IGNORE`` where the figure has no arrow, so a
peer can never make the engine raise. Timer inputs appear only in the states
where the timer runs (``ALIVE``); entering a state stops every other timer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from sipsec.errors import LocalProtocolError

from .timers import Timer

__all__ = [
    "ALIVE",
    "IGNORE",
    "INVITE_CLIENT",
    "INVITE_SERVER",
    "NON_INVITE_CLIENT",
    "NON_INVITE_SERVER",
    "REMOTE_INPUTS",
    "TABLES",
    "Action",
    "Input",
    "Kind",
    "State",
    "Table",
    "transition",
]


class Kind(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hashes in Python

    INVITE_CLIENT = "INVITE client (figure 5, RFC 6026)"
    NON_INVITE_CLIENT = "non-INVITE client (figure 6)"
    INVITE_SERVER = "INVITE server (figure 7, RFC 6026)"
    NON_INVITE_SERVER = "non-INVITE server (figure 8)"


class State(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hashes in Python

    INIT = "init"  # the arrow into the figure: created, nothing done yet
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


class Input(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hashes in Python

    # from the transaction user
    REQUEST_FROM_TU = "request from TU"
    TU_1XX = "101-199 from TU"
    TU_2XX = "2xx from TU"
    TU_300_699 = "300-699 from TU"
    # from the network
    REQUEST = "request received"  # the first one, then its retransmissions
    ACK = "ACK received"
    RECV_1XX = "1xx received"
    RECV_2XX = "2xx received"
    RECV_300_699 = "300-699 received"
    TRANSPORT_ERROR = "transport error"
    # timers
    TIMER_A = "Timer A fires"
    TIMER_B = "Timer B fires"
    TIMER_D = "Timer D fires"
    TIMER_E = "Timer E fires"
    TIMER_F = "Timer F fires"
    TIMER_G = "Timer G fires"
    TIMER_H = "Timer H fires"
    TIMER_I = "Timer I fires"
    TIMER_J = "Timer J fires"
    TIMER_K = "Timer K fires"
    TIMER_L = "Timer L fires"
    TIMER_M = "Timer M fires"

    @staticmethod
    def fired(timer: Timer) -> Input:
        return _FIRED[timer]


_FIRED = {timer: Input[f"TIMER_{timer.name}"] for timer in Timer}


class Action(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hashes in Python

    SEND_REQUEST = "send the request"  # first transmission and retransmissions
    SEND_ACK = "send ACK"  # §17.1.1.3, same branch as the INVITE
    RESPONSE_TO_TU = "pass the response to the TU"
    REQUEST_TO_TU = "pass the request to the TU"
    ACK_TO_TU = "pass the ACK to the TU"  # RFC 6026 §8.7
    SEND_TRYING = "send 100 if the TU won't in 200 ms"
    SEND_RESPONSE = "send the response from the TU"
    RESEND_RESPONSE = "resend the last response"
    INFORM_TIMEOUT = "inform TU of the timeout"
    INFORM_TRANSPORT_ERROR = "inform TU of the transport error"
    START_A = "start Timer A (T1, then doubled)"
    START_B = "start Timer B (64*T1)"
    START_D = "start Timer D (32 s unreliable, 0 reliable)"
    START_E = "start Timer E (T1, then doubled up to T2)"
    START_E_T2 = "reset Timer E to T2"  # §17.1.2.2, in Proceeding
    START_F = "start Timer F (64*T1)"
    START_G = "start Timer G (T1, then doubled up to T2)"
    START_H = "start Timer H (64*T1)"
    START_I = "start Timer I (T4 unreliable, 0 reliable)"
    START_J = "start Timer J (64*T1 unreliable, 0 reliable)"
    START_K = "start Timer K (T4 unreliable, 0 reliable)"
    START_L = "start Timer L (64*T1)"
    START_M = "start Timer M (64*T1)"


Actions = tuple[Action, ...]
Table = Mapping[tuple[State, Input], tuple[Actions, State]]

IGNORE: Actions = ()

S, I, A = State, Input, Action  # noqa: E741 (short names keep each row on one line)

# Figure 5 (RFC 3261 §17.1.1) with RFC 6026 §7.2's Accepted state.
INVITE_CLIENT: Table = {
    (S.INIT, I.REQUEST_FROM_TU): ((A.SEND_REQUEST, A.START_A, A.START_B), S.CALLING),
    (S.CALLING, I.TIMER_A): ((A.SEND_REQUEST, A.START_A), S.CALLING),
    (S.CALLING, I.TIMER_B): ((A.INFORM_TIMEOUT,), S.TERMINATED),
    (S.CALLING, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.CALLING, I.RECV_1XX): ((A.RESPONSE_TO_TU,), S.PROCEEDING),
    (S.CALLING, I.RECV_2XX): ((A.RESPONSE_TO_TU, A.START_M), S.ACCEPTED),
    (S.CALLING, I.RECV_300_699): ((A.RESPONSE_TO_TU, A.SEND_ACK, A.START_D), S.COMPLETED),
    (S.PROCEEDING, I.RECV_1XX): ((A.RESPONSE_TO_TU,), S.PROCEEDING),
    (S.PROCEEDING, I.RECV_2XX): ((A.RESPONSE_TO_TU, A.START_M), S.ACCEPTED),
    (S.PROCEEDING, I.RECV_300_699): ((A.RESPONSE_TO_TU, A.SEND_ACK, A.START_D), S.COMPLETED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): (IGNORE, S.PROCEEDING),  # nothing of ours in flight
    (S.COMPLETED, I.RECV_1XX): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.RECV_2XX): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.RECV_300_699): ((A.SEND_ACK,), S.COMPLETED),  # not passed up again
    (S.COMPLETED, I.TIMER_D): (IGNORE, S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.ACCEPTED, I.RECV_1XX): (IGNORE, S.ACCEPTED),
    (S.ACCEPTED, I.RECV_2XX): ((A.RESPONSE_TO_TU,), S.ACCEPTED),  # RFC 6026 §8.4: every 2xx
    (S.ACCEPTED, I.RECV_300_699): (IGNORE, S.ACCEPTED),
    (S.ACCEPTED, I.TIMER_M): (IGNORE, S.TERMINATED),
    (S.ACCEPTED, I.TRANSPORT_ERROR): (IGNORE, S.ACCEPTED),  # the 2xx ACK is the TU's
}

# Figure 6 (RFC 3261 §17.1.2).
NON_INVITE_CLIENT: Table = {
    (S.INIT, I.REQUEST_FROM_TU): ((A.SEND_REQUEST, A.START_E, A.START_F), S.TRYING),
    (S.TRYING, I.TIMER_E): ((A.SEND_REQUEST, A.START_E), S.TRYING),
    (S.TRYING, I.TIMER_F): ((A.INFORM_TIMEOUT,), S.TERMINATED),
    (S.TRYING, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.TRYING, I.RECV_1XX): ((A.RESPONSE_TO_TU,), S.PROCEEDING),
    (S.TRYING, I.RECV_2XX): ((A.RESPONSE_TO_TU, A.START_K), S.COMPLETED),
    (S.TRYING, I.RECV_300_699): ((A.RESPONSE_TO_TU, A.START_K), S.COMPLETED),
    (S.PROCEEDING, I.TIMER_E): ((A.SEND_REQUEST, A.START_E_T2), S.PROCEEDING),
    (S.PROCEEDING, I.TIMER_F): ((A.INFORM_TIMEOUT,), S.TERMINATED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.PROCEEDING, I.RECV_1XX): ((A.RESPONSE_TO_TU,), S.PROCEEDING),
    (S.PROCEEDING, I.RECV_2XX): ((A.RESPONSE_TO_TU, A.START_K), S.COMPLETED),
    (S.PROCEEDING, I.RECV_300_699): ((A.RESPONSE_TO_TU, A.START_K), S.COMPLETED),
    (S.COMPLETED, I.RECV_1XX): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.RECV_2XX): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.RECV_300_699): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.TRANSPORT_ERROR): (IGNORE, S.COMPLETED),  # nothing of ours in flight
    (S.COMPLETED, I.TIMER_K): (IGNORE, S.TERMINATED),
}

# Figure 7 (RFC 3261 §17.2.1) with RFC 6026 §7.1's Accepted state.
INVITE_SERVER: Table = {
    (S.INIT, I.REQUEST): ((A.REQUEST_TO_TU, A.SEND_TRYING), S.PROCEEDING),
    (S.PROCEEDING, I.REQUEST): ((A.RESEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.ACK): (IGNORE, S.PROCEEDING),  # nothing to acknowledge yet
    (S.PROCEEDING, I.TU_1XX): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.TU_2XX): ((A.SEND_RESPONSE, A.START_L), S.ACCEPTED),
    (S.PROCEEDING, I.TU_300_699): ((A.SEND_RESPONSE, A.START_G, A.START_H), S.COMPLETED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.REQUEST): ((A.RESEND_RESPONSE,), S.COMPLETED),
    (S.COMPLETED, I.ACK): ((A.START_I,), S.CONFIRMED),
    (S.COMPLETED, I.TIMER_G): ((A.RESEND_RESPONSE, A.START_G), S.COMPLETED),
    (S.COMPLETED, I.TIMER_H): ((A.INFORM_TIMEOUT,), S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.CONFIRMED, I.REQUEST): (IGNORE, S.CONFIRMED),
    (S.CONFIRMED, I.ACK): (IGNORE, S.CONFIRMED),  # ACK retransmissions absorbed
    (S.CONFIRMED, I.TRANSPORT_ERROR): (IGNORE, S.CONFIRMED),
    (S.CONFIRMED, I.TIMER_I): (IGNORE, S.TERMINATED),
    (S.ACCEPTED, I.REQUEST): (IGNORE, S.ACCEPTED),  # INVITE absorbed
    (S.ACCEPTED, I.ACK): ((A.ACK_TO_TU,), S.ACCEPTED),
    (S.ACCEPTED, I.TU_2XX): ((A.SEND_RESPONSE,), S.ACCEPTED),  # the TU's 2xx retransmissions
    (S.ACCEPTED, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.ACCEPTED),
    (S.ACCEPTED, I.TIMER_L): (IGNORE, S.TERMINATED),
}

# Figure 8 (RFC 3261 §17.2.2).
NON_INVITE_SERVER: Table = {
    (S.INIT, I.REQUEST): ((A.REQUEST_TO_TU,), S.TRYING),
    (S.TRYING, I.REQUEST): (IGNORE, S.TRYING),  # retransmissions discarded
    (S.TRYING, I.TU_1XX): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.TRYING, I.TU_2XX): ((A.SEND_RESPONSE, A.START_J), S.COMPLETED),
    (S.TRYING, I.TU_300_699): ((A.SEND_RESPONSE, A.START_J), S.COMPLETED),
    (S.TRYING, I.TRANSPORT_ERROR): (IGNORE, S.TRYING),  # nothing of ours in flight
    (S.PROCEEDING, I.REQUEST): ((A.RESEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.TU_1XX): ((A.SEND_RESPONSE,), S.PROCEEDING),
    (S.PROCEEDING, I.TU_2XX): ((A.SEND_RESPONSE, A.START_J), S.COMPLETED),
    (S.PROCEEDING, I.TU_300_699): ((A.SEND_RESPONSE, A.START_J), S.COMPLETED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.REQUEST): ((A.RESEND_RESPONSE,), S.COMPLETED),
    # §17.2.2: "Any other final responses passed by the TU ... MUST be discarded".
    (S.COMPLETED, I.TU_2XX): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.TU_300_699): (IGNORE, S.COMPLETED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ((A.INFORM_TRANSPORT_ERROR,), S.TERMINATED),
    (S.COMPLETED, I.TIMER_J): (IGNORE, S.TERMINATED),
}

del S, I, A

TABLES: Mapping[Kind, Table] = {
    Kind.INVITE_CLIENT: INVITE_CLIENT,
    Kind.NON_INVITE_CLIENT: NON_INVITE_CLIENT,
    Kind.INVITE_SERVER: INVITE_SERVER,
    Kind.NON_INVITE_SERVER: NON_INVITE_SERVER,
}

#: The timers that run in each state; entering a state stops the others.
ALIVE: Mapping[Kind, Mapping[State, frozenset[Timer]]] = {
    Kind.INVITE_CLIENT: {
        State.CALLING: frozenset({Timer.A, Timer.B}),
        State.COMPLETED: frozenset({Timer.D}),
        State.ACCEPTED: frozenset({Timer.M}),
    },
    Kind.NON_INVITE_CLIENT: {
        State.TRYING: frozenset({Timer.E, Timer.F}),
        State.PROCEEDING: frozenset({Timer.E, Timer.F}),
        State.COMPLETED: frozenset({Timer.K}),
    },
    Kind.INVITE_SERVER: {
        State.COMPLETED: frozenset({Timer.G, Timer.H}),
        State.CONFIRMED: frozenset({Timer.I}),
        State.ACCEPTED: frozenset({Timer.L}),
    },
    Kind.NON_INVITE_SERVER: {State.COMPLETED: frozenset({Timer.J})},
}

#: What a peer or the network can cause, per side: listed in every live state.
REMOTE_INPUTS: Mapping[Kind, frozenset[Input]] = {
    Kind.INVITE_CLIENT: frozenset(
        {Input.RECV_1XX, Input.RECV_2XX, Input.RECV_300_699, Input.TRANSPORT_ERROR}
    ),
    Kind.NON_INVITE_CLIENT: frozenset(
        {Input.RECV_1XX, Input.RECV_2XX, Input.RECV_300_699, Input.TRANSPORT_ERROR}
    ),
    Kind.INVITE_SERVER: frozenset({Input.REQUEST, Input.ACK, Input.TRANSPORT_ERROR}),
    Kind.NON_INVITE_SERVER: frozenset({Input.REQUEST, Input.TRANSPORT_ERROR}),
}

#: Which action starts which timer.
STARTS: Mapping[Action, Timer] = {
    Action.START_A: Timer.A,
    Action.START_B: Timer.B,
    Action.START_D: Timer.D,
    Action.START_E: Timer.E,
    Action.START_E_T2: Timer.E,
    Action.START_F: Timer.F,
    Action.START_G: Timer.G,
    Action.START_H: Timer.H,
    Action.START_I: Timer.I,
    Action.START_J: Timer.J,
    Action.START_K: Timer.K,
    Action.START_L: Timer.L,
    Action.START_M: Timer.M,
}


def transition(kind: Kind, state: State, event: Input) -> tuple[Actions, State]:
    """Look up ``(state, event)`` in the table of ``kind``.

    Raises :class:`LocalProtocolError` for a pair the figure does not allow;
    only the transaction user's own inputs can be missing (see the module doc).
    """
    try:
        return TABLES[kind][state, event]
    except KeyError:
        raise LocalProtocolError(
            f"{kind.value}: {event.value!r} is not allowed in state {state.value}"
        ) from None
