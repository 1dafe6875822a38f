"""The response context of one proxied request (RFC 3261 §16.7) and its branches.

Data and the decisions that need no I/O: how targets are grouped for
parallel and sequential forking (§16.6, q-values: equal q in parallel,
lower q after the higher ones failed), which final response is best
(§16.7 step 6), and how 401/407 challenges from several branches are
merged into the one forwarded (§16.7 step 7). The
:class:`~sipsec.proxy.forwarder.Forwarder` drives them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from sipsec.sip import Request, Response, SipUri, make_response
from sipsec.transaction import Peer, TransportName

__all__ = [
    "Branch",
    "BranchState",
    "ResponseContext",
    "Target",
    "aggregate_challenges",
    "choose_best",
    "is_secure",
    "target_groups",
]

# §16.7 step 6: within the 4xx class prefer these, they let the caller retry.
_PREFERRED_4XX = (401, 407, 415, 420, 484)


class BranchState(enum.Enum):
    RESOLVING = "resolving"  # waiting for the driver's RFC 3263 answer
    CALLING = "calling"  # client transaction started, nothing back yet
    PROCEEDING = "proceeding"  # a provisional response came back
    DONE = "done"  # a final response (or its stand-in) is in


@dataclass(eq=False)
class Branch:
    """One forwarded copy of the request (§16.6) and its client transaction."""

    index: int
    request: Request
    target: SipUri
    flow: Peer | None = None
    state: BranchState = BranchState.RESOLVING
    transaction_id: int | None = None
    peer: Peer | None = None
    alternatives: list[Peer] = field(default_factory=list)
    final: Response | None = None
    timer_c: float | None = None  # INVITE: §16.6 step 11
    cancel_deadline: float | None = None  # 64*T1 after a CANCEL we sent (§9.1)
    cancelled: bool = False

    @property
    def pending(self) -> bool:
        return self.state is not BranchState.DONE


@dataclass(eq=False)
class ResponseContext:
    """One server transaction and everything forwarded for it (§16.7)."""

    server_id: int
    request: Request  # as received, after §16.4 route processing
    source: Peer
    inbound: TransportName
    started: float
    key: str  # the §16.6 step 8 loop key of the branches' Vias
    groups: list[list[Target]] = field(default_factory=list)  # targets not yet tried
    branches: list[Branch] = field(default_factory=list)
    finals: list[Response] = field(default_factory=list)
    final_sent: int | None = None  # the status of the final response forwarded
    saw_6xx: bool = False
    cancelled: bool = False
    server_done: bool = False
    sent: int = 0  # client transactions started: numbers the branch parameter

    @property
    def secure(self) -> bool:
        """A ``sips:`` Request-URI: every hop must be TLS (RFC 5630)."""
        return is_secure(self.request)

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    def pending(self) -> list[Branch]:
        return [b for b in self.branches if b.pending]

    @property
    def finished(self) -> bool:
        """Nothing left to wait for: no pending branch and no untried group."""
        return not self.pending() and (not self.groups or self.saw_6xx or self.cancelled)


def is_secure(request: Request) -> bool:
    uri = request.uri
    return isinstance(uri, SipUri) and uri.secure


@dataclass(frozen=True)
class Target:
    """A request target (§16.5): its URI, q-value and, for a contact that
    registered over TCP/TLS, the connection it registered on (``flow``:
    tried first, so a UA that cannot accept connections is still reached)."""

    uri: SipUri
    q: float = 1.0
    flow: Peer | None = None


def target_groups(targets: Sequence[Target], limit: int) -> list[list[Target]]:
    """Targets grouped by q, highest first (§16.6: the order of preference;
    equal q forked in parallel). At most ``limit`` targets in all."""
    ordered = sorted(targets[:limit], key=lambda item: -item.q)
    groups: list[list[Target]] = []
    last: float | None = None
    for target in ordered:
        if target.q != last:
            groups.append([])
            last = target.q
        groups[-1].append(target)
    return groups


def choose_best(finals: Sequence[Response], request: Request) -> Response:
    """§16.7 step 6: a 6xx if any; else the lowest class, preferring in the
    4xx class the ones a caller can act on; a 408 when there is none. A 503
    becomes a 500: the 503 was about the next hop, not about us."""
    if not finals:
        return make_response(request, 408, "Request Timeout")
    six = [r for r in finals if r.status >= 600]
    if six:
        return six[0]
    lowest = min(r.status // 100 for r in finals)
    pool = [r for r in finals if r.status // 100 == lowest]
    if lowest == 4:
        for status in _PREFERRED_4XX:
            for response in pool:
                if response.status == status:
                    return response
    best = pool[0]
    if best.status == 503:
        replaced = make_response(request, 500, "Server Internal Error (next hop unavailable)")
        to = best.to
        if to is not None and to.tag is not None:
            replaced.headers.set("To", str(best.headers.get("To")))
        return replaced
    return best


def aggregate_challenges(best: Response, finals: Sequence[Response]) -> Response:
    """§16.7 step 7: a 401/407 forwarded carries every WWW-Authenticate and
    Proxy-Authenticate of every 401/407 in the context."""
    if best.status not in (401, 407):
        return best
    names = ("WWW-Authenticate", "Proxy-Authenticate")
    seen = {(n.lower(), v) for n, v in best.headers if n.lower() in {x.lower() for x in names}}
    for other in finals:
        if other is best or other.status not in (401, 407):
            continue
        for name in names:
            for value in other.headers.get_lines(name):
                if (name.lower(), value) not in seen:
                    seen.add((name.lower(), value))
                    best.headers.add(name, value)
    return best
