"""The transaction layer (RFC 3261 §17): every transaction of one element,
driven like aioquic's connection — API calls, :meth:`receive` and
:meth:`handle_timer` in; :meth:`messages_to_send`, :meth:`next_event` and
one deadline from :meth:`get_timer` out. No sockets, no clock: ``now`` is
always an argument (seconds, any monotonic origin).

Messages arrive already parsed (the transport parses and answers garbage
itself). A transaction is forgotten the moment it reaches Terminated
(§17.1.1.2, §17.2.1), so memory is bounded by the transactions in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import BRANCH_MAGIC_COOKIE, Request, Response, SipParseError, make_response

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
from .matching import build_ack, build_cancel, client_key, response_key, server_key, with_to_tag
from .tables import ALIVE, STARTS, Action, Input, Kind, State, transition
from .timer_heap import TimerHeap
from .timers import Timer, TimerConfig, is_reliable
from .transaction import Outgoing, Transaction

__all__ = ["TransactionLayer"]

_NONE: frozenset[Timer] = frozenset()
_TIMER_OF = {Input.fired(timer): timer for timer in Timer}


def _received(status: int) -> Input:
    if status < 200:
        return Input.RECV_1XX
    return Input.RECV_2XX if status < 300 else Input.RECV_300_699


def _from_tu(status: int) -> Input:
    return Input.TU_1XX if status < 200 else Input.TU_2XX if status < 300 else Input.TU_300_699


class TransactionLayer:
    """All client and server transactions of one SIP element."""

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

    # -- the transaction user's side -------------------------------------------------------
    def send_request(
        self,
        request: Request,
        destination: NetworkAddress,
        now: float,
        *,
        reliable: bool | None = None,
    ) -> int:
        """Start a client transaction for ``request`` and return its id.

        The top Via must carry an RFC 3261 branch (§8.1.1.7) unused by any
        other client transaction here. ``reliable`` defaults to what the Via
        transport says. An ACK has no client transaction: the one for a
        non-2xx is sent by its INVITE transaction, the one for a 2xx by the
        TU with :meth:`send_stateless` (§17.1.1.3, §13.2.2.4).
        """
        if request.method == "ACK":
            raise LocalProtocolError("an ACK has no client transaction; use send_stateless")
        try:
            via, cseq = request.top_via, request.cseq
        except SipParseError as exc:
            raise LocalProtocolError(f"request with a bad Via or CSeq: {exc.reason}") from None
        if via is None or cseq is None:
            raise LocalProtocolError("a request needs a Via and a CSeq")
        branch = via.branch
        if (
            branch is None
            or not branch.startswith(BRANCH_MAGIC_COOKIE)
            or branch == BRANCH_MAGIC_COOKIE
        ):
            raise LocalProtocolError("the top Via needs a branch starting with z9hG4bK (§8.1.1.7)")
        if cseq.method != request.method:
            raise LocalProtocolError(f"CSeq method {cseq.method} is not {request.method}")
        transaction_id = self._next_id
        self._next_id += 1
        self._start_client(transaction_id, request, destination, now, reliable)
        return transaction_id

    def send_response(self, transaction_id: int, response: Response, now: float) -> None:
        """Give a response to server transaction ``transaction_id``.

        Raises LocalProtocolError for an unknown (or already terminated)
        transaction, a response to another request, or one its state does not
        allow (a second final response to an INVITE, say).
        """
        txn = self._by_id.get(transaction_id)
        if txn is None or txn.is_client:
            raise LocalProtocolError(f"no server transaction {transaction_id}")
        try:
            cseq, via = response.cseq, response.top_via
        except SipParseError as exc:
            raise LocalProtocolError(f"response with a bad Via or CSeq: {exc.reason}") from None
        request_via = txn.request.top_via
        if (
            cseq is None
            or cseq.method != txn.request.method
            or via is None
            or request_via is None
            or via.branch != request_via.branch
        ):
            raise LocalProtocolError(
                "the response's Via branch and CSeq method are not its request's"
            )
        self._drive(txn, _from_tu(response.status), now, message=response)

    def cancel(self, transaction_id: int, now: float) -> int | None:
        """Cancel INVITE client transaction ``transaction_id`` (§9.1); returns
        the CANCEL's own client transaction id.

        Before any provisional response the CANCEL waits for one (§9.1:
        "MUST NOT be sent"); if a final response comes first, or the INVITE
        fails, it is never sent and its id gets a TransactionTerminated.
        Returns None when there is nothing left to cancel (a final response
        is in, or the transaction is gone); asking twice returns the same id.
        """
        txn = self._by_id.get(transaction_id)
        if txn is None:
            if 0 < transaction_id < self._next_id:
                return None
            raise LocalProtocolError(f"no transaction {transaction_id}")
        if txn.kind is not Kind.INVITE_CLIENT:
            raise LocalProtocolError("only an INVITE client transaction can be cancelled here")
        if txn.cancel_id is not None:
            return txn.cancel_id
        if txn.state is not State.CALLING and txn.state is not State.PROCEEDING:
            return None
        request = build_cancel(txn.request)
        cancel_id = txn.cancel_id = self._next_id
        self._next_id += 1
        if txn.state is State.CALLING:
            self._pending_cancels[txn.id] = request
        else:
            self._start_client(cancel_id, request, txn.peer, now, txn.reliable)
        return cancel_id

    def terminate(self, transaction_id: int) -> None:
        """The TU abandons a live transaction: an INVITE still unanswered
        64*T1 after its CANCEL (§9.1: "the client SHOULD then consider the
        transaction to be terminated"), or a request it will never answer.
        Figures 5–8 give those states no timer, so only the TU can end them.
        A TransactionTerminated follows; unknown ids are ignored."""
        txn = self._by_id.get(transaction_id)
        if txn is not None:
            txn.state = State.TERMINATED
            self._forget(txn)

    def mark_reliable(self, transaction_id: int, now: float) -> bool:
        """The transport sent client transaction ``transaction_id``'s request
        over a reliable transport after all: §18.1.1 moved it from UDP to
        TCP. From now on it is a reliable transaction (§17.1.1.2, §17.1.2.2):
        Timers A and E stop and are never started again, Timer D or K will be
        zero; Timers B and F keep their deadlines. A D or K already running
        (the final response came before the move was reported) fires now, as
        it would have at once. Returns whether anything changed; unknown,
        finished and server transactions are ignored (the report may come
        after the end, and a response is never moved)."""
        txn = self._by_id.get(transaction_id)
        if txn is None or not txn.is_client or txn.reliable:
            return False
        txn.reliable = True
        for timer in (Timer.A, Timer.E):  # stale heap entries are skipped when popped
            txn.deadlines.pop(timer, None)
            txn.intervals.pop(timer, None)
        for timer in (Timer.D, Timer.K):
            if timer in txn.deadlines and self._by_id.get(txn.id) is txn:
                del txn.deadlines[timer]
                self._drive(txn, Input.fired(timer), now)
        return True

    def send_stateless(self, message: Request | Response, destination: NetworkAddress) -> None:
        """Send outside any transaction: the ACK for a 2xx (§13.2.2.4), a 2xx
        retransmitted by the UAS core (§13.3.1.4), a stateless response."""
        self._outgoing.append(Outgoing(message, destination, None))

    # -- the network's side -----------------------------------------------------------------
    def receive(
        self,
        message: Request | Response,
        source: NetworkAddress,
        now: float,
        *,
        reliable: bool | None = None,
    ) -> None:
        """A parsed message from ``source``. Raises RemoteProtocolError when it
        lacks what matching needs (Via, CSeq; To, From, Call-ID for RFC 2543;
        To in a response, which an ACK copies) or its CSeq method is not its
        method; the transport answers 400 or drops it."""
        if isinstance(message, Response):
            ckey = response_key(message)
            txn = self._clients.get(ckey) if ckey is not None else None
            if txn is None:
                self._events.append(ResponseReceived(None, message, source))
            else:
                if "To" not in message.headers:  # the ACK for a non-2xx copies it (§17.1.1.3)
                    raise RemoteProtocolError("response without To")
                self._drive(txn, _received(message.status), now, message=message, source=source)
            return
        cseq = message.cseq
        if cseq is not None and cseq.method != message.method:
            raise RemoteProtocolError(
                f"CSeq method {cseq.method[:20]!r} is not {message.method[:20]!r}"
            )
        key = server_key(message)
        txn = self._servers.get(key)
        if message.method == "ACK":
            if txn is None or txn.kind is not Kind.INVITE_SERVER:
                self._events.append(RequestReceived(None, message, source))  # ACK for a 2xx
            else:
                self._drive(txn, Input.ACK, now, message=message, source=source)
            return
        if txn is None:
            via = message.top_via
            assert via is not None  # server_key checked it
            kind = Kind.INVITE_SERVER if message.method == "INVITE" else Kind.NON_INVITE_SERVER
            if reliable is None:
                reliable = is_reliable(via.transport)
            transaction_id = self._next_id
            self._next_id += 1
            txn = Transaction(
                transaction_id, kind=kind, request=message, peer=source, reliable=reliable, key=key
            )
            self._by_id[transaction_id] = self._servers[key] = txn
        self._drive(txn, Input.REQUEST, now, message=message, source=source)

    def handle_transport_error(
        self, transaction_id: int | None, now: float, reason: str = "transport error"
    ) -> None:
        """The transport failed to send for ``transaction_id`` (§17.1.4,
        §17.2.4). Unknown or finished transactions are ignored: the report
        may come late."""
        txn = self._by_id.get(transaction_id) if transaction_id is not None else None
        if txn is not None:
            self._drive(txn, Input.TRANSPORT_ERROR, now, reason=reason)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        while (due := self._timers.pop_due(now)) is not None:
            txn, timer = due
            self._drive(txn, Input.fired(timer), now)

    # -- outputs ------------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest deadline of any running timer, or None."""
        return self._timers.earliest()

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def messages_to_send(self) -> list[Outgoing]:
        out, self._outgoing = self._outgoing, []
        return out

    def datagrams_to_send(self) -> list[tuple[bytes, NetworkAddress]]:
        """:meth:`messages_to_send`, serialized."""
        return [(bytes(item.message), item.destination) for item in self.messages_to_send()]

    def state_of(self, transaction_id: int) -> State | None:
        """The state of a live transaction; None once it is terminated."""
        txn = self._by_id.get(transaction_id)
        return None if txn is None else txn.state

    def __len__(self) -> int:
        """How many transactions are live."""
        return len(self._by_id)

    # -- the engine ---------------------------------------------------------------------------
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
