"""The fast relay's transaction flow: responses, CANCEL, timers (RFC 3261 §16.7, §16.10, §17).

:class:`RelayFlow` is the half of :class:`~sipsec.proxy.relay.FastRelay`
that runs once a transaction exists: a response from downstream (our Via
removed, §16.7 step 3; a 100 absorbed; provisionals and every 2xx forwarded,
RFC 6026; a non-2xx final acknowledged downstream, §17.1.1.3, forwarded and
retransmitted upstream until its ACK), the CANCEL of a relayed INVITE
(§9.2 200, then §9.1 downstream once a 1xx allows it), and timers A–M and C.

What the full path does in rare cases — a stand-in 408, the 500 for a 503
(§16.7 step 6), the ACK and CANCEL a transaction layer builds — is done here
with the same functions of :mod:`sipsec.sip`, :mod:`sipsec.transaction` and
:mod:`.forking` on the parsed bytes, so the output is the full path's.
"""

from __future__ import annotations

from collections import Counter

from sipsec.sip import Request, Response, SipParseError, Via, make_response, parse_message
from sipsec.sip.received import stamp_via
from sipsec.transaction import Peer, TimerConfig, build_ack, build_cancel

from .core import ProxyCore
from .forking import choose_best
from .log import TransactionLogged
from .relay_shapes import TOKEN_CHARS
from .relay_timers import TimerQueue
from .relay_txn import NO_PARTIES, Address, CancelState, ClientState, RelayTxn, ServerState

__all__ = ["RelayFlow", "cancel_record", "echoes", "stamped_request", "upstream_of"]

S, C = ServerState, ClientState
# the states on the per-response path, as plain globals (one lookup, not two)
_CALLING, _PROCEEDING, _S_PROCEEDING = C.CALLING, C.PROCEEDING, S.PROCEEDING
_MAX_FIELD = 120  # as log.py clips a party


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_FIELD else text[: _MAX_FIELD - 1] + "…"


class RelayFlow:
    """Responses, CANCEL and timers of relayed transactions (see the module docstring)."""

    def __init__(self, core: ProxyCore) -> None:
        self.core = core
        self.timers: TimerConfig = core.config.timers
        self.stats: Counter[str] = Counter()
        self.servers: dict[tuple[bytes, bytes, bytes], RelayTxn] = {}
        self.clients: dict[bytes, RelayTxn] = {}
        self.queue = TimerQueue()
        self.out: list[tuple[bytes, Address]] = []

    # -- responses from downstream ---------------------------------------------------------------
    def on_response(
        self, txn: RelayTxn, status: int, method: bytes, *, fwd: bytes, raw: bytes, now: float
    ) -> bool:
        """``fwd``: the response without our Via (what goes upstream);
        ``raw``: as received (to build the ACK from). False, with nothing
        changed, when a final response this needs parsed is one the parser
        refuses: the full path drops it too, and our request is retransmitted
        as if it never came (§17.1.1.2, §17.1.2.2)."""
        if method == b"CANCEL":  # the answer to our CANCEL (§9.1): nothing to forward
            self.core.stats["responses_absorbed"] += 1
            if txn.cancel == CancelState.SENT and status >= 200:
                txn.cancel = CancelState.DONE
                txn.timers.pop("cretx", None)
                txn.timers.pop("cf", None)
                self._forget_if_finished(txn)
            return True
        state = txn.c_state
        if status < 200:
            if state > _PROCEEDING:  # not client_pending
                return True
            if state == _CALLING:
                txn.c_state = C.PROCEEDING
                if txn.invite:  # Figure 5: A and B stop in Proceeding
                    txn.timers.pop("retx", None)
                    txn.timers.pop("timeout", None)
                if txn.cancel == CancelState.PENDING:
                    self._send_cancel(txn, now)  # §9.1: a 1xx came, now it may go
            if txn.invite and not txn.cancelled:
                txn.timers["c"] = now + self.core.config.timer_c  # §16.7 step 2: reset
            if status != 100 and txn.final is None and txn.s_state == _S_PROCEEDING:
                txn.last = fwd  # _upstream, inline
                self.out.append((fwd, txn.upstream))
            return True
        if txn.invite and 200 <= status < 300:
            if state in (C.COMPLETED, C.DONE):
                return True
            if state != C.ACCEPTED:
                self._client_done(txn, C.ACCEPTED)
                self.queue.arm(txn, "c_end", now + 64 * self.timers.t1)  # Timer M
            if txn.final is None or txn.s_state == S.ACCEPTED:
                self._final(txn, fwd, status, now)  # RFC 6026: every 2xx, retransmissions too
            return True
        if not txn.client_pending:
            if txn.invite and state == C.COMPLETED and txn.ack is not None:
                self.out.append((txn.ack, txn.peer))  # a retransmitted final: our ACK again
            return True
        ack: bytes | None = None
        best: Response | None = None
        replaced = status == 503 and txn.final is None
        if txn.invite or replaced:
            # Parsed once, before any state changes: the ACK is built from
            # it, and a 503 is turned into a 500 (§16.7 step 6).
            try:
                response = _response(raw)
            except SipParseError:
                return False
            if txn.invite:
                try:
                    ack = bytes(build_ack(_request(txn.out), response))
                except SipParseError:
                    ack = None
            if replaced:
                response.headers.pop_first("Via")  # ours: what goes upstream has it not
                best = choose_best([response], _inbound(txn))
        if txn.invite:
            txn.ack = ack
            self._client_done(txn, C.COMPLETED)
            self.queue.arm(txn, "c_end", now + self.timers.timer_d)  # Timer D
            if txn.ack is not None:
                self.out.append((txn.ack, txn.peer))
        else:
            self._client_done(txn, C.COMPLETED)
            self.queue.arm(txn, "c_end", now + self.timers.t4)  # Timer K
        if txn.final is None:
            if best is not None:  # §16.7 step 6, as choose_best does it
                fwd, status = bytes(best), best.status
            self._final(txn, fwd, status, now)
        return True

    def _client_done(self, txn: RelayTxn, state: int) -> None:
        if txn.cancel == CancelState.PENDING:
            txn.cancel = CancelState.NONE  # a final came first: the CANCEL never goes
        txn.c_state = state
        for name in ("retx", "timeout", "c", "cdead"):
            txn.timers.pop(name, None)
        txn.out = b""  # never sent again: the lingering record stays small

    # -- upstream -------------------------------------------------------------------------------
    def _upstream(self, txn: RelayTxn, data: bytes, now: float) -> None:
        if txn.s_state != S.PROCEEDING:
            return
        txn.last = data
        self.out.append((data, txn.upstream))

    def _final(self, txn: RelayTxn, data: bytes, status: int, now: float) -> None:
        """A final response to the server transaction (§16.7 step 8)."""
        first = txn.final is None
        if txn.s_state == S.ACCEPTED and status < 300:
            self.out.append((data, txn.upstream))  # a 2xx retransmission (RFC 6026 §7.1)
            return
        if txn.s_state != S.PROCEEDING:
            return
        txn.last, txn.final = data, status
        txn.inbound = None  # only a stand-in final needed it
        self.out.append((data, txn.upstream))
        t1 = self.timers.t1
        if txn.invite and status < 300:
            txn.s_state = S.ACCEPTED
            # RFC 6026's Accepted absorbs a retransmitted INVITE and sends
            # nothing back, so the 2xx is not kept for the 64*T1 it lingers
            txn.last = None
            self.queue.arm(txn, "s_end", now + 64 * t1)  # Timer L
        elif txn.invite:
            txn.s_state = S.COMPLETED
            txn.g_interval = t1
            self.queue.arm(txn, "g", now + t1)  # Timer G
            self.queue.arm(txn, "s_end", now + 64 * t1)  # Timer H
        else:
            txn.s_state = S.COMPLETED
            self.queue.arm(txn, "s_end", now + 64 * t1)  # Timer J
        if first:
            from_, to = txn.parties
            txn.parties = NO_PARTIES  # logged once: nothing else reads them
            record = TransactionLogged(
                txn.method, _clip(from_.decode()), _clip(to.decode()), status,
                now - txn.started, 1, txn.source,
            )  # fmt: skip
            self.core.log_transaction(record)

    def _stand_in(self, txn: RelayTxn, status: int, reason: str, now: float) -> None:
        """The branch ended without a final of its own (forwarder._synthesize)."""
        if txn.final is not None:
            return
        response = make_response(_inbound(txn), status, reason)
        self._final(txn, bytes(response), status, now)

    # -- CANCEL ---------------------------------------------------------------------------------
    def cancel_received(self, txn: RelayTxn, reply: bytes, upstream: Address, now: float) -> None:
        """§9.2 answered with ``reply`` (200); §16.10: cancel the branch."""
        txn.cancel_reply = (reply, upstream)
        self.out.append((reply, upstream))
        self.queue.arm(txn, "x_end", now + 64 * self.timers.t1)  # the CANCEL's Timer J
        if txn.final is None and txn.client_pending and not txn.cancelled:
            self._cancel_branch(txn, now)

    def _cancel_branch(self, txn: RelayTxn, now: float) -> None:
        """forwarder._cancel_one: CANCEL (now, or after a 1xx) and 64*T1 for it to end."""
        txn.cancelled = True
        txn.timers.pop("c", None)
        self.core.stats["cancels_sent"] += 1
        if txn.c_state == C.PROCEEDING:
            self._send_cancel(txn, now)
        else:
            txn.cancel = CancelState.PENDING
        self.queue.arm(txn, "cdead", now + 64 * self.timers.t1)

    def _send_cancel(self, txn: RelayTxn, now: float) -> None:
        txn.cancel = CancelState.SENT
        txn.cancel_out = bytes(build_cancel(_request(txn.out)))
        txn.cancel_interval = self.timers.t1
        self.out.append((txn.cancel_out, txn.peer))
        self.queue.arm(txn, "cretx", now + self.timers.t1)  # its Timer E
        self.queue.arm(txn, "cf", now + 64 * self.timers.t1)  # its Timer F

    # -- timers ---------------------------------------------------------------------------------
    def handle_timer(self, now: float) -> None:
        queue = self.queue
        while (txn := queue.pop_due(now)) is not None:
            for name, deadline in list(txn.timers.items()):
                if deadline <= now and txn.timers.get(name) == deadline:
                    del txn.timers[name]
                    self._fire(txn, name, now)
            self._forget_if_finished(txn)
            queue.reschedule(txn)

    def _fire(self, txn: RelayTxn, name: str, now: float) -> None:
        # the two every transaction ends with come first
        if name == "s_end":  # H, I, J or L
            txn.s_state = S.DONE
            txn.timers.pop("g", None)
            return
        if name == "c_end":  # D, K or M
            txn.c_state = C.DONE
            return
        t2 = self.timers.t2
        if name == "retx":  # A (§17.1.1.2) or E (§17.1.2.2)
            if (txn.invite and txn.c_state != C.CALLING) or not txn.client_pending:
                return
            self.out.append((txn.out, txn.peer))
            if txn.invite:
                txn.interval *= 2
            elif txn.c_state == C.PROCEEDING:
                txn.interval = t2
            else:
                txn.interval = min(2 * txn.interval, t2)
            self.queue.arm(txn, "retx", now + txn.interval)
        elif name == "timeout":  # B or F: the branch times out, 408 upstream
            if txn.client_pending:
                self._client_done(txn, C.DONE)
                self._stand_in(txn, 408, "Request Timeout", now)
        elif name == "c":  # §16.6 step 11
            if not txn.client_pending or txn.cancelled:
                return
            self.core.stats["timer_c"] += 1
            if txn.c_state == C.PROCEEDING:
                self._cancel_branch(txn, now)
            else:
                self._stand_in(txn, 408, "Request Timeout", now)
        elif name == "cdead":  # §9.1: no final 64*T1 after our CANCEL
            if txn.client_pending:
                self._client_done(txn, C.DONE)
                self._stand_in(txn, 408, "Request Timeout", now)
        elif name == "cretx":
            if txn.cancel == CancelState.SENT and txn.cancel_out is not None:
                self.out.append((txn.cancel_out, txn.peer))
                txn.cancel_interval = min(2 * txn.cancel_interval, t2)
                self.queue.arm(txn, "cretx", now + txn.cancel_interval)
        elif name == "cf":
            if txn.cancel == CancelState.SENT:
                txn.cancel = CancelState.DONE
                txn.timers.pop("cretx", None)
        elif name == "g":  # §17.2.1 Timer G
            if txn.s_state == S.COMPLETED and txn.last is not None:
                self.out.append((txn.last, txn.upstream))
                txn.g_interval = min(2 * txn.g_interval, t2)
                self.queue.arm(txn, "g", now + txn.g_interval)
        elif name == "x_end":
            txn.cancel_reply = None

    def _forget_if_finished(self, txn: RelayTxn) -> None:
        if txn.finished and not txn.gone:
            txn.gone = True
            txn.timers.clear()
            if self.servers.get(txn.key) is txn:
                del self.servers[txn.key]
            if self.clients.get(txn.branch) is txn:
                del self.clients[txn.branch]


def _request(raw: bytes) -> Request:
    message = parse_message(raw)
    if not isinstance(message, Request):
        raise SipParseError("not a request")
    return message


def _inbound(txn: RelayTxn) -> Request:
    """The stored request, parsed: what the full path's stand-in finals are made from."""
    parts = txn.inbound
    if parts is None:
        raise SipParseError("the request is no longer kept")
    start, lines, body = parts
    return _request(start + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + body)


def _response(raw: bytes) -> Response:
    message = parse_message(raw)
    if not isinstance(message, Response):
        raise SipParseError("not a response")
    return message


def upstream_of(via: Via, source: Address) -> Address:
    """Where §18.2.2 answers a request with this parsed (stamped) Via: transport.routing's
    response_destination, unreliable case."""
    if via.maddr is not None:
        return (via.maddr.strip("[]"), via.port or 5060)
    rport = via.rport
    host = via.received or source[0]
    return (host.strip("[]"), rport if isinstance(rport, int) and rport > 0 else via.port or 5060)


def stamped_request(data: bytes, source: Address) -> Request:
    """``data`` parsed, its top Via stamped as the transport does (§18.2.1, RFC 3581)."""
    request = parse_message(data)
    if not isinstance(request, Request):
        raise SipParseError("not a request")
    stamp_via(request, source)
    return request


def cancel_record(method: str, from_: str, to: str, source: Address) -> TransactionLogged:
    """What ProxyCore._answer logs for a response of our own (the 200 to a CANCEL)."""
    clip = [t if len(t) <= 120 else t[:119] + "…" for t in (from_, to)]
    return TransactionLogged(method, clip[0], clip[1], 200, 0.0, 0, str(Peer("udp", *source)))


def echoes(vals: dict[bytes, bytes], txn: RelayTxn) -> bool:
    """The response copies From, To (a tag added at most) and Call-ID of the
    request as we sent it (§8.2.6.2): then those values are ones the scanner
    already read as well formed, and need no second look."""
    from_, to, call_id = txn.echo
    if vals[b"from"] != from_ or vals[b"call-id"] != call_id:
        return False
    value = vals[b"to"]
    if value == to:
        return True
    tag = value[len(to) + 5 :]  # a token: TOKEN_CHARS only, one at least
    return value.startswith(to + b";tag=") and tag != b"" and not tag.translate(None, TOKEN_CHARS)
