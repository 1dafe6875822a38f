"""RFC 3261 §18.1.1 for :class:`~.sip.SipTransport`: a request over 1300
octets bound for UDP goes by TCP instead, and what must follow it does.

The transaction layer above is sans-IO and addressed the request to a UDP
peer; the transport rewrites its top Via to TCP (sent-by: our TCP
listener), sends it over TCP, and remembers the move in
:class:`~.routing.MovedRequests` so the ACK and the CANCEL (§17.1.1.3,
§9.1), which the transaction layer also addresses to the UDP peer, follow
it with the Via it carried. Counted in the transport's ``stats``:
``udp_moved_to_tcp`` and ``udp_followed_to_tcp``.
"""

from __future__ import annotations

from collections import Counter

from sipsec.sip import Request, Response, SipParseError, Via
from sipsec.transaction import Peer

from .errors import MessageTooLarge, TransportFailure
from .routing import DEFAULT_PORTS, UDP_MTU_THRESHOLD, MovedRequests, set_top_via, via_host

__all__ = ["TcpMoves", "tcp_via"]


def tcp_via(request: Request, host: str, port: int) -> bool:
    """Make the top Via say TCP with sent-by ``host:port``, its parameters
    (the branch) kept; False if it already did."""
    via = request.top_via
    if via is None:
        raise TransportFailure("request without a Via")
    moved = Via("TCP", via_host(host), port, dict(via.params))
    if str(moved) == str(via):
        return False
    set_top_via(request, moved)
    return True


class TcpMoves:
    """The §18.1.1 moves of one transport; ``now`` is the loop's clock."""

    def __init__(self, stats: Counter[str]) -> None:
        self._stats = stats
        self._moved = MovedRequests()

    def __bool__(self) -> bool:
        """Whether any move is remembered (the common case is none: no work)."""
        return bool(self._moved)

    def move(self, request: Request, peer: Peer, size: int, listener: Peer | None) -> Peer:
        """The TCP hop for ``request`` of ``size`` bytes that was bound for
        UDP ``peer``; its top Via now names ``listener`` (our TCP listener of
        the peer's address family). Raises MessageTooLarge without one."""
        if listener is None:
            raise MessageTooLarge(
                f"request of {size} bytes is over {UDP_MTU_THRESHOLD} for UDP to {peer} "
                "(RFC 3261 §18.1.1) and there is no TCP listener to move it to"
            )
        if tcp_via(request, listener.host, listener.port):
            self._stats["udp_moved_to_tcp"] += 1
        return Peer("tcp", peer.host, peer.port, peer.server_name)

    def remember(self, request: Request, udp: Peer, used: Peer, now: float) -> None:
        """``request`` went over ``used`` instead of to ``udp``."""
        self._moved.remember(request, udp, used, now)

    def follow(self, request: Request, udp: Peer, now: float) -> Peer | None:
        """§17.1.1.3 and §9.1: the ACK and the CANCEL of a request moved to
        TCP go where it went — the same connection while it lives, else the
        same address over TCP — with the Via it carried, whatever their own
        size. The sans-IO transaction layer addressed them to ``udp``."""
        followed = self._moved.follow(request, udp, now)
        if followed is None:
            return None
        hop, via = followed
        tcp_via(request, via.host.strip("[]"), via.port or DEFAULT_PORTS["tcp"])
        self._moved.refresh(via.branch, now)
        self._stats["udp_followed_to_tcp"] += 1
        return hop

    def answered(self, response: Response, now: float) -> None:
        """A response arrived on a stream: if it answers a moved INVITE,
        that INVITE's ACK may still come, so its move is kept alive."""
        try:
            via = response.top_via
        except SipParseError:
            via = None
        if via is not None:
            self._moved.refresh(via.branch, now)
