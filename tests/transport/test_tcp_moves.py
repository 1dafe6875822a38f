"""§18.1.1 moves without sockets: the Via rewrite, the refusal without a
TCP listener, and the ACK/CANCEL that follow (§17.1.1.3, §9.1)."""

from __future__ import annotations

import dataclasses
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import Request, Response
from sipsec.transaction import Peer
from sipsec.transport.errors import MessageTooLarge, TransportFailure
from sipsec.transport.routing import MOVED_INVITE_LIFETIME, MOVED_LIFETIME
from sipsec.transport.tcp_moves import TcpMoves, tcp_via

UDP = Peer("udp", "192.0.2.1", 5060, "biloxi.example")
LISTENER = Peer("tcp", "127.0.0.1", 5070)
TOKEN = string.ascii_letters + string.digits + "-.!%*_+`'~"  # RFC 3261 §25.1 token


def _request(method: str, branch: str = "z9hG4bK776asdhds") -> Request:
    return Request(
        method,
        "sip:bob@biloxi.example",
        [("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch}"), ("CSeq", f"1 {method}")],
    )


def test_move_rewrites_the_via_and_counts_once() -> None:
    stats: Counter[str] = Counter()
    moves = TcpMoves(stats)
    invite = _request("INVITE")
    hop = moves.move(invite, UDP, 1400, LISTENER)
    assert hop == Peer("tcp", "192.0.2.1", 5060, "biloxi.example")
    via = invite.top_via
    assert via is not None and via.transport == "TCP" and via.port == 5070
    assert via.branch == "z9hG4bK776asdhds"  # the transaction's key survives
    assert moves.move(invite, UDP, 1400, LISTENER) == hop  # already TCP: not counted again
    assert stats["udp_moved_to_tcp"] == 1 and not moves


def test_move_without_a_tcp_listener_is_refused() -> None:
    invite = _request("INVITE")
    with pytest.raises(MessageTooLarge, match=r"§18\.1\.1"):
        TcpMoves(Counter()).move(invite, UDP, 1400, None)
    via = invite.top_via
    assert via is not None and via.transport == "UDP"  # left as it was


def test_tcp_via_needs_a_via() -> None:
    with pytest.raises(TransportFailure):
        tcp_via(Request("OPTIONS", "sip:bob@biloxi.example", []), "127.0.0.1", 5070)


def test_ack_and_cancel_follow_the_moved_invite() -> None:
    stats: Counter[str] = Counter()
    moves = TcpMoves(stats)
    invite = _request("INVITE")
    used = dataclasses.replace(moves.move(invite, UDP, 1400, LISTENER), connection_id=7)
    moves.remember(invite, UDP, used, now=0.0)
    assert moves
    for method in ("CANCEL", "ACK"):
        follower = _request(method)  # as the transaction layer built it: UDP, to UDP
        assert moves.follow(follower, UDP, now=1.0) == used
        assert str(follower.top_via) == str(invite.top_via)
    assert stats["udp_followed_to_tcp"] == 2
    other = Peer("udp", "192.0.2.9", 5060)
    assert moves.follow(_request("ACK"), other, now=1.0) is None  # another address
    assert moves.follow(_request("ACK", "z9hG4bKother"), UDP, now=1.0) is None


def test_a_response_keeps_the_move_alive() -> None:
    moves = TcpMoves(Counter())
    invite = _request("INVITE")
    used = moves.move(invite, UDP, 1400, LISTENER)
    moves.remember(invite, UDP, used, now=0.0)
    late = MOVED_INVITE_LIFETIME + 1
    response = Response(200, "OK", [("Via", str(invite.top_via)), ("CSeq", "1 INVITE")])
    moves.answered(response, now=late - MOVED_LIFETIME + 0.5)
    assert moves.follow(_request("ACK"), UDP, now=late) == used
    moves.answered(Response(200, "OK", [("Via", "garbage")]), now=late)  # ignored


@settings(max_examples=300, deadline=None)
@given(st.just("z9hG4bK776asdhds") | st.text(TOKEN, min_size=1, max_size=40), st.integers(1, 65535))
def test_follow_never_raises_on_any_branch(branch: str, port: int) -> None:
    """A follower with any branch token is followed exactly when its branch
    is the moved request's."""
    moves = TcpMoves(Counter())
    invite = _request("INVITE")
    moves.remember(invite, UDP, moves.move(invite, UDP, 1400, LISTENER), now=0.0)
    ack = Request(
        "ACK",
        "sip:bob@biloxi.example",
        [("Via", f"SIP/2.0/UDP 127.0.0.1:{port};branch={branch}")],
    )
    followed = moves.follow(ack, UDP, now=1.0)
    assert (followed is not None) == (branch == "z9hG4bK776asdhds")
