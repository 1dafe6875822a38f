"""Stateful forwarding (RFC 3261 §16.6–§16.10) over a transaction layer.

The :class:`Forwarder` owns the response contexts: it makes each branch's
copy of the request (§16.6 steps 1–8), asks the driver to resolve the next
hop (RFC 3263 is I/O, so it is a *resolution needed*), starts one client
transaction per branch, forwards provisional and 2xx responses at once,
picks the best final response when every branch is done (§16.7), cancels
branches (§16.10, 6xx, a forwarded final), and runs timer C (§16.6 step 11).

Deadlines sit in a heap with lazy deletion, so :meth:`get_timer` is cheap
however many calls are in flight: the driver asks after every message.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable

from sipsec.errors import LocalProtocolError
from sipsec.sip import Request, Response, SipParseError, SipUri, make_response
from sipsec.transaction import Peer, TransactionLayer

from .config import ProxyConfig
from .forking import (
    Branch,
    BranchState,
    ResponseContext,
    Target,
    aggregate_challenges,
    choose_best,
    is_secure,
    target_groups,
)
from .routing import LocalAddresses, next_hop, reaches_over_tls, record_route_values, via_value
from .validate import branch_for

__all__ = ["Forwarder", "branch_routes", "copy_request"]

# Methods whose initial request may create a dialog: Record-Route them (§16.6 step 4).
_DIALOG_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})
_SIPS_WARNING = '380 {host} "SIPS Not Allowed"'  # RFC 5630 warn-code 380

FinalCallback = Callable[[ResponseContext, Response, float], None]


def branch_routes(request: Request) -> bool:
    """Whether the request still carries a Route set (then the next hop is
    the top Route, never a registration flow)."""
    return "route" in request.headers


def copy_request(request: Request) -> Request:
    """A copy to change freely: each branch gets its own (§16.6 step 1)."""
    return Request(request.method, request.uri, request.headers.copy(), request.body)


class Forwarder:
    """Every response context of one proxy; see the module docstring."""

    def __init__(
        self,
        layer: TransactionLayer,
        config: ProxyConfig,
        local: LocalAddresses,
        stats: Counter[str],
        on_final: FinalCallback,
    ) -> None:
        self.layer = layer
        self.config = config
        self.local = local
        self.stats = stats
        self._on_final = on_final
        self.contexts: dict[int, ResponseContext] = {}  # by server transaction id
        self._clients: dict[int, tuple[ResponseContext, Branch]] = {}
        self._cancels: set[int] = set()  # our CANCELs' client transactions
        self._resolving: dict[int, tuple[ResponseContext, Branch] | tuple[Request, str]] = {}
        self._needed: list[tuple[int, SipUri]] = []
        self._tokens = itertools.count(1)
        self._heap: list[tuple[float, int, Branch, ResponseContext]] = []
        self._seq = itertools.count()

    # -- starting -----------------------------------------------------------------------------
    def start(self, context: ResponseContext, targets: list[Target], now: float) -> None:
        """Fork ``context.request`` to ``targets``, best q first."""
        self.contexts[context.server_id] = context
        context.groups = target_groups(targets, self.config.max_branches)
        self._next_group(context, now)

    def forward_stateless(self, request: Request, branch: str) -> None:
        """An ACK for a 2xx (RFC 6026 §8.9: forwarded, never absorbed): no
        transaction; resolve the next hop, add our Via with ``branch``, send."""
        hop = next_hop(request)
        if hop is None:
            self.stats["ack_dropped"] += 1
            return
        token = next(self._tokens)
        self._resolving[token] = (request, branch)
        self._needed.append((token, hop))

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        needed, self._needed = self._needed, []
        return needed

    def _next_group(self, context: ResponseContext, now: float) -> None:
        group = context.groups.pop(0)
        branches = [
            Branch(
                len(context.branches) + i,
                self._branch_request(context, target.uri),
                target.uri,
                flow=target.flow if not branch_routes(context.request) else None,
            )
            for i, target in enumerate(group)
        ]
        context.branches += branches  # all of them pending before any can end
        for branch in branches:
            if context.secure and not reaches_over_tls(branch.target):
                self._synthesize(
                    context, branch, 480, "Temporarily Unavailable", now, sips=True, check=False
                )
                continue
            hop = next_hop(branch.request)
            if hop is None:
                self._synthesize(context, branch, 416, "Unsupported URI Scheme", now, check=False)
                continue
            token = next(self._tokens)
            self._resolving[token] = (context, branch)
            self._needed.append((token, hop))
        self._check(context, now)

    def _branch_request(self, context: ResponseContext, target: SipUri) -> Request:
        """§16.6 steps 1–3: copy, new Request-URI, Max-Forwards minus one."""
        request = copy_request(context.request)
        request.uri = target
        max_forwards = context.request.max_forwards
        request.headers.set("Max-Forwards", str(70 if max_forwards is None else max_forwards - 1))
        return request

    # -- resolution ---------------------------------------------------------------------------
    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        entry = self._resolving.pop(token, None)
        if entry is None:
            return
        if isinstance(entry[0], Request):
            ack, via_branch = entry
            assert isinstance(ack, Request) and isinstance(via_branch, str)
            self._send_ack(ack, via_branch, peers)
            return
        context, branch = entry
        assert isinstance(context, ResponseContext) and isinstance(branch, Branch)
        if not branch.pending:
            return
        if context.cancelled:
            self._synthesize(context, branch, 487, "Request Terminated", now)
            return
        if context.secure:
            secure = [p for p in peers if p.transport == "tls"]
            if peers and not secure:
                self._synthesize(context, branch, 480, "Temporarily Unavailable", now, sips=True)
                return
            peers = secure
        if branch.flow is not None and (not context.secure or branch.flow.transport == "tls"):
            # The connection the contact registered on first (RFC 5626 §5.3 in
            # spirit): the UA may not accept new connections; the resolved
            # contact stays as the alternative if that connection is gone.
            peers = [branch.flow, *(p for p in peers if p != branch.flow)]
        usable = [p for p in peers if p.transport in self.local.local]
        if not usable:
            self.stats["unresolved"] += 1
            self._synthesize(context, branch, 503, "Service Unavailable (no route)", now)
            return
        branch.peer, branch.alternatives = usable[0], usable[1:]
        self._send_branch(context, branch, now)

    def _send_ack(self, ack: Request, branch: str, peers: list[Peer]) -> None:
        if is_secure(ack):
            peers = [p for p in peers if p.transport == "tls"]
        usable = [p for p in peers if p.transport in self.local.local]
        if not usable:
            self.stats["ack_dropped"] += 1
            return
        peer = usable[0]
        ack.headers.prepend("Via", via_value(self.local, peer.transport, branch))
        self.layer.send_stateless(ack, peer)
        self.stats["acks_forwarded"] += 1

    # -- sending a branch ---------------------------------------------------------------------
    def _send_branch(self, context: ResponseContext, branch: Branch, now: float) -> None:
        peer = branch.peer
        assert peer is not None
        # The branch's request stays pristine only while another address may
        # still need it (RFC 3263 §4.3 failover, handle_failure): a copy per
        # send costs a re-parse of every header the layer reads.
        request = copy_request(branch.request) if branch.alternatives else branch.request
        to = context.request.to  # the branch copy has the same To, parsed already
        if (
            self.config.record_route
            and request.method in _DIALOG_METHODS
            and (to is None or to.tag is None)
        ):
            values = record_route_values(
                self.local, context.inbound, peer.transport, context.secure
            )
            for value in reversed(values):
                request.headers.prepend("Record-Route", value)
        attempt = branch_for(context.key, context.sent)
        context.sent += 1
        request.headers.prepend("Via", via_value(self.local, peer.transport, attempt))
        try:
            tid = self.layer.send_request(request, peer, now)
        except LocalProtocolError:
            # Our branch is in use: the very same request is being forwarded
            # already, which only a loop produces (§16.3 step 4).
            self._synthesize(context, branch, 482, "Loop Detected", now)
            return
        self.stats["branches"] += 1
        branch.transaction_id, branch.state = tid, BranchState.CALLING
        self._clients[tid] = (context, branch)
        if context.is_invite:
            branch.timer_c = now + self.config.timer_c
            self._push(branch.timer_c, branch, context)

    # -- responses ----------------------------------------------------------------------------
    def handle_response(self, tid: int | None, response: Response, now: float) -> None:
        entry = self._clients.get(tid) if tid is not None else None
        if entry is None:
            # RFC 6026 §7.3: a transaction-stateful proxy "MUST NOT forward"
            # a response that matches no transaction; our CANCELs' answers
            # end here too.
            self.stats["responses_absorbed" if tid in self._cancels else "stray_responses"] += 1
            return
        context, branch = entry
        response.headers.pop_first("Via")  # §16.7 step 3: our own Via
        try:
            has_via = bool(response.vias)
        except SipParseError:
            has_via = False
        if not has_via:
            self.stats["stray_responses"] += 1
            return
        status = response.status
        if status < 200:
            if branch.state is BranchState.CALLING:
                branch.state = BranchState.PROCEEDING
            if context.is_invite and branch.pending and not branch.cancelled:
                # §16.7 step 2: reset. Only the deadline moves; the heap entry
                # already there re-arms itself when it comes due, so a UAS
                # sending 183 after 183 cannot grow the heap.
                branch.timer_c = now + self.config.timer_c
            if status != 100 and context.final_sent is None:
                self._respond(context, response, now)  # §16.7 step 5
            return
        if 200 <= status < 300:
            branch.state, branch.final = BranchState.DONE, response
            if context.is_invite or context.final_sent is None:
                self._respond(context, response, now)  # every 2xx to an INVITE
                self._cancel_pending(context, now)  # §16.7 step 10
            self._check(context, now)
            return
        if not branch.pending:
            return  # a retransmission, or late after our stand-in
        branch.state, branch.final = BranchState.DONE, response
        context.finals.append(response)
        if status >= 600:
            # §16.7 step 5: not forwarded at once; cancel the rest, no new branches.
            context.saw_6xx = True
            context.groups.clear()
            self._cancel_pending(context, now)
        self._check(context, now)

    def handle_failure(self, tid: int, status: int, reason: str, now: float) -> None:
        """A timeout (408) or transport error (503) of a client transaction."""
        entry = self._clients.get(tid)
        if entry is None:
            return
        context, branch = entry
        if status == 503 and branch.state is BranchState.CALLING and branch.alternatives:
            # RFC 3263 §4.3: try the next address before giving up on the target.
            branch.peer = branch.alternatives.pop(0)
            self._send_branch(context, branch, now)
            return
        if branch.pending:
            self._synthesize(context, branch, status, reason, now)

    def handle_terminated(self, tid: int) -> None:
        self._clients.pop(tid, None)
        self._cancels.discard(tid)
        context = self.contexts.get(tid)
        if context is not None:
            context.server_done = True
            if not context.pending():
                del self.contexts[tid]

    # -- CANCEL (§16.10) ----------------------------------------------------------------------
    def cancel(self, server_id: int, now: float) -> bool:
        """Cancel every pending branch of the INVITE ``server_id``; False if
        no such context (the caller answers 481)."""
        context = self.contexts.get(server_id)
        if context is None:
            return False
        context.cancelled = True
        context.groups.clear()
        self._cancel_pending(context, now)
        self._check(context, now)
        return True

    def _cancel_pending(self, context: ResponseContext, now: float) -> None:
        for branch in context.pending():
            if branch.cancelled:
                continue
            branch.cancelled = True
            if branch.transaction_id is None:
                self._synthesize(context, branch, 487, "Request Terminated", now, check=False)
                continue
            if context.is_invite:  # a non-INVITE cannot be cancelled usefully (§9.1)
                self._cancel_one(context, branch, now)

    # -- completing ---------------------------------------------------------------------------
    def _synthesize(
        self,
        context: ResponseContext,
        branch: Branch,
        status: int,
        reason: str,
        now: float,
        *,
        sips: bool = False,
        check: bool = True,
    ) -> None:
        """A branch ends without a response of its own: a stand-in final."""
        response = make_response(context.request, status, reason)
        if sips:
            response.headers.add("Warning", _SIPS_WARNING.format(host=self.local.domain))
        branch.state, branch.final = BranchState.DONE, response
        branch.timer_c = branch.cancel_deadline = None
        context.finals.append(response)
        if check:
            self._check(context, now)

    def _check(self, context: ResponseContext, now: float) -> None:
        if context.pending():
            return
        if context.final_sent is None and context.groups and not context.cancelled:
            self._next_group(context, now)  # sequential forking: next q-value
            return
        if context.final_sent is None:
            best = choose_best(context.finals, context.request)
            best = aggregate_challenges(best, context.finals)
            self._respond(context, best, now)
        if self.contexts.get(context.server_id) is context:
            del self.contexts[context.server_id]

    def _respond(self, context: ResponseContext, response: Response, now: float) -> None:
        if context.server_done:
            return
        try:
            self.layer.send_response(context.server_id, response, now)
        except LocalProtocolError:
            self.stats["responses_unsent"] += 1
            return
        if response.status >= 200 and context.final_sent is None:
            context.final_sent = response.status
            self._on_final(context, response, now)

    # -- timers -------------------------------------------------------------------------------
    def _push(self, deadline: float, branch: Branch, context: ResponseContext) -> None:
        heapq.heappush(self._heap, (deadline, next(self._seq), branch, context))

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _, branch, _ = heap[0]
            if branch.pending and (
                branch.timer_c is not None or branch.cancel_deadline is not None
            ):
                return deadline  # may be early after a timer C reset: handle_timer re-arms
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, branch, context = heapq.heappop(heap)
            if not branch.pending:
                continue
            if branch.cancel_deadline is not None:
                if deadline != branch.cancel_deadline:
                    continue  # a timer C entry left over from before the CANCEL
                # §9.1: no final 64*T1 after the CANCEL; consider it terminated.
                if branch.transaction_id is not None:
                    self.layer.terminate(branch.transaction_id)
                self._synthesize(context, branch, 408, "Request Timeout", now)
            elif branch.timer_c is not None:
                if branch.timer_c > now:
                    self._push(branch.timer_c, branch, context)  # reset by a 1xx: re-arm
                    continue
                branch.timer_c = None
                self.stats["timer_c"] += 1
                if branch.state is BranchState.PROCEEDING:
                    self._cancel_one(context, branch, now)  # §16.6 step 11
                else:
                    self._synthesize(context, branch, 408, "Request Timeout", now)

    def _cancel_one(self, context: ResponseContext, branch: Branch, now: float) -> None:
        """CANCEL one INVITE branch (sent once it has a 1xx, §9.1) and give
        it 64*T1 to end."""
        assert branch.transaction_id is not None
        branch.cancelled = True
        cancel_id = self.layer.cancel(branch.transaction_id, now)
        if cancel_id is not None:
            self._cancels.add(cancel_id)
            self.stats["cancels_sent"] += 1
        branch.timer_c = None
        branch.cancel_deadline = now + 64 * self.config.timers.t1
        self._push(branch.cancel_deadline, branch, context)

    def __len__(self) -> int:
        return len(self.contexts)
