"""The engine under the transaction layer (RFC 3261 §17): the state of
every live transaction, indexed by id and by its §17.1.3 / §17.2.3 matching
key, and the one loop that applies an input to a transaction through its
state table (:mod:`.tables`, figures 5–8) and carries out the actions —
messages out, events to the TU, timers started — until it rests.

:class:`~sipsec.transaction.layer.TransactionLayer` builds on it with the
public API (what the TU and the network feed in, what comes out); nothing
here is called from outside the package.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from sipsec.errors import LocalProtocolError
from sipsec.sip import Request, Response, make_response

from .events import (
    CancelReceived,
    Event,
    NetworkAddress,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from .matching import build_ack, client_key, server_key, with_to_tag
from .tables import ALIVE, STARTS, Action, Input, Kind, State, transition
from .timer_heap import TimerHeap
from .timers import Timer, TimerConfig, is_reliable
from .transaction import Outgoing, Transaction

__all__ = ["TransactionEngine"]

_NONE: frozenset[Timer] = frozenset()
_TIMER_OF = {Input.fired(timer): timer for timer in Timer}


class TransactionEngine:
    """The transactions of one element and the table-driven loop that moves them."""

    def __init__(self, timers: TimerConfig | None = None, *, send_trying: bool = True) -> None:
        """``send_trying``: an INVITE server transaction answers 100 Trying at
        once (§17.2.1 allows skipping it only when the TU answers within
        200 ms; pass False if yours always does)."""
        self.config = timers if timers is not None else TimerConfig()
        self._send_trying = send_trying
        self._by_id: dict[int, Transaction] = {}
        self._clients: dict[Hashable, Transaction] = {}
        self._servers: dict[Hashable, Transaction] = {}
        self._pending_cancels: dict[int, Request] = {}  # INVITE id -> its CANCEL, awaiting a 1xx
        self._events: deque[Event] = deque()
        self._outgoing: list[Outgoing] = []
        self._timers = TimerHeap(self._by_id)
        self._next_id = 1

    def _start_client(
        self,
        transaction_id: int,
        request: Request,
        destination: NetworkAddress,
        now: float,
        reliable: bool | None,
    ) -> None:
        via, cseq = request.top_via, request.cseq
        assert via is not None and via.branch is not None and cseq is not None
        key = client_key(via.branch, cseq.method)
        if key in self._clients:
            raise LocalProtocolError(
                f"branch {via.branch} is already used by a {cseq.method} transaction"
            )
        kind = Kind.INVITE_CLIENT if request.method == "INVITE" else Kind.NON_INVITE_CLIENT
        if reliable is None:
            reliable = is_reliable(via.transport)
        txn = Transaction(
            transaction_id, kind=kind, request=request, peer=destination, reliable=reliable, key=key
        )
        self._by_id[transaction_id] = self._clients[key] = txn
        self._drive(txn, Input.REQUEST_FROM_TU, now)

    def _drive(
        self,
        txn: Transaction,
        event: Input,
        now: float,
        *,
        message: Request | Response | None = None,
        source: NetworkAddress = None,
        reason: str = "",
    ) -> None:
        """Apply ``event`` to ``txn`` by its table; a zero timer fires at once."""
        pending = [event]
        while pending:
            event = pending.pop()
            actions, state = transition(txn.kind, txn.state, event)
            if state is not txn.state:
                alive = ALIVE[txn.kind].get(state, _NONE)
                for timer in [t for t in txn.deadlines if t not in alive]:
                    del txn.deadlines[timer]
                txn.state = state
            for action in actions:
                started = STARTS.get(action)
                if started is not None:
                    if self._timers.start(txn, action, started, now, self.config):
                        pending.append(Input.fired(started))
                else:
                    self._act(
                        txn, action, event, now, message=message, source=source, reason=reason
                    )
            if state is State.TERMINATED:
                self._forget(txn)
                return

    def _act(
        self,
        txn: Transaction,
        action: Action,
        event: Input,
        now: float,
        *,
        message: Request | Response | None,
        source: NetworkAddress,
        reason: str,
    ) -> None:
        send = self._outgoing.append
        if action is Action.SEND_REQUEST:
            send(Outgoing(txn.request, txn.peer, txn.id))
        elif action is Action.RESPONSE_TO_TU:
            assert isinstance(message, Response)
            self._events.append(ResponseReceived(txn.id, message, source))
            if txn.id in self._pending_cancels:
                cancel = self._pending_cancels.pop(txn.id)
                assert txn.cancel_id is not None
                via = cancel.top_via  # build_cancel copied the INVITE's, branch and all
                taken = via is None or client_key(str(via.branch), "CANCEL") in self._clients
                if message.status < 200 and not taken:
                    # §9.1: now the CANCEL may go.
                    self._start_client(txn.cancel_id, cancel, txn.peer, now, txn.reliable)
                else:  # a final response came first (or the TU sent its own CANCEL)
                    self._events.append(TransactionTerminated(txn.cancel_id))
        elif action is Action.SEND_ACK:
            if txn.ack is None:
                assert isinstance(message, Response)
                txn.ack = build_ack(txn.request, message)
            send(Outgoing(txn.ack, txn.peer, txn.id))
        elif action is Action.REQUEST_TO_TU:
            request = txn.request
            if request.method == "CANCEL":  # §9.2
                invite = self._servers.get(server_key(request, "INVITE"))
                invite_id = (
                    invite.id if invite is not None and invite.kind is Kind.INVITE_SERVER else None
                )
                self._events.append(CancelReceived(txn.id, request, source, invite_id))
            else:
                self._events.append(RequestReceived(txn.id, request, source))
        elif action is Action.ACK_TO_TU:
            assert isinstance(message, Request)
            self._events.append(RequestReceived(txn.id, message, source))
        elif action is Action.SEND_TRYING:
            if self._send_trying:
                txn.last_response = make_response(txn.request, 100)
                send(Outgoing(txn.last_response, txn.peer, txn.id))
        elif action is Action.SEND_RESPONSE:
            assert isinstance(message, Response)
            txn.last_response = message
            self._alias(txn, message)
            send(Outgoing(message, txn.peer, txn.id))
        elif action is Action.RESEND_RESPONSE:
            if txn.last_response is not None:
                send(Outgoing(txn.last_response, txn.peer, txn.id))
        elif action is Action.INFORM_TIMEOUT:
            self._events.append(TransactionTimedOut(txn.id, _TIMER_OF[event]))
        elif action is Action.INFORM_TRANSPORT_ERROR:
            self._events.append(TransportErrorOccurred(txn.id, reason))
        else:  # pragma: no cover - every Action is handled above or in STARTS
            raise AssertionError(action)

    def _alias(self, txn: Transaction, response: Response) -> None:
        """An RFC 2543 INVITE transaction is also found by the To tag of its
        response: the ACK carries it (§17.2.3)."""
        if (
            txn.kind is not Kind.INVITE_SERVER
            or not isinstance(txn.key, tuple)
            or txn.key[0] != "2543"
        ):
            return
        to = response.to
        if to is not None and to.tag is not None:
            alias = with_to_tag(txn.key, to.tag)
            if alias not in self._servers:
                self._servers[alias] = txn
                txn.aliases.append(alias)

    def _forget(self, txn: Transaction) -> None:
        """Terminated: "MUST be destroyed the instant it enters" (§17.2.2)."""
        del self._by_id[txn.id]
        table = self._clients if txn.is_client else self._servers
        if table.get(txn.key) is txn:
            del table[txn.key]
        for alias in txn.aliases:
            if self._servers.get(alias) is txn:
                del self._servers[alias]
        txn.deadlines.clear()
        self._events.append(TransactionTerminated(txn.id))
        if txn.id in self._pending_cancels:  # the CANCEL never went out
            del self._pending_cancels[txn.id]
            assert txn.cancel_id is not None
            self._events.append(TransactionTerminated(txn.cancel_id))
