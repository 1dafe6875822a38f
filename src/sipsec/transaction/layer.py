"""The transaction layer (RFC 3261 §17): every transaction of one element,
driven like aioquic's connection — API calls, :meth:`receive` and
:meth:`handle_timer` in; :meth:`messages_to_send`, :meth:`next_event` and
one deadline from :meth:`get_timer` out. No sockets, no clock: ``now`` is
always an argument (seconds, any monotonic origin).

Messages arrive already parsed (the transport parses and answers garbage
itself). A transaction is forgotten the moment it reaches Terminated
(§17.1.1.2, §17.2.1), so memory is bounded by the transactions in flight.

This module is the API — what the transaction user and the network feed
in, what comes out; the state and the table-driven loop that moves each
transaction are :mod:`.engine`'s.
"""

from __future__ import annotations

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import BRANCH_MAGIC_COOKIE, Request, Response, SipParseError

from .engine import TransactionEngine
from .events import (
    Event,
    NetworkAddress,
    RequestReceived,
    ResponseReceived,
)
from .matching import build_cancel, response_key, sent_by_key, server_key
from .tables import Input, Kind, State
from .timers import Timer, is_reliable
from .transaction import Outgoing, Transaction

__all__ = ["TransactionLayer"]


def _received(status: int) -> Input:
    if status < 200:
        return Input.RECV_1XX
    return Input.RECV_2XX if status < 300 else Input.RECV_300_699


def _from_tu(status: int) -> Input:
    return Input.TU_1XX if status < 200 else Input.TU_2XX if status < 300 else Input.TU_300_699


class TransactionLayer(TransactionEngine):
    """All client and server transactions of one SIP element:
    ``TransactionLayer(timers=None, *, send_trying=True)``."""

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

    def has_server_transaction(
        self, method: str, branch: str, transport: str, host: str, port: int | None
    ) -> bool:
        """Whether a server transaction with this §17.2.3 key (RFC 3261
        branch, top-Via transport and sent-by, ``method`` — ``"INVITE"`` for
        an ACK or CANCEL) is live, without parsing a request to ask."""
        return ("3261", branch, sent_by_key(transport, host, port), method) in self._servers

    def state_of(self, transaction_id: int) -> State | None:
        """The state of a live transaction; None once it is terminated."""
        txn = self._by_id.get(transaction_id)
        return None if txn is None else txn.state

    def __len__(self) -> int:
        """How many transactions are live."""
        return len(self._by_id)
