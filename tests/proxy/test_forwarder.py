"""The Forwarder's branch copies: RFC 3263 §4.3 failover to the next address
resends a pristine copy (one Via and one Record-Route of ours, never two),
and the request kept for the response context is never touched."""

from __future__ import annotations

from sipsec.auth import DigestClient
from sipsec.sip import Request, Response
from sipsec.transaction import Peer

from ._e3_harness import ALICE, BOB, BOB2, answer, authorize, make_net, request

FOREIGN = "biloxi.example"


def _invite() -> Request:
    return request(
        "INVITE",
        f"sip:bob@{FOREIGN}",
        from_="sip:carol@chicago.example",
        to=f"sip:bob@{FOREIGN}",
        contact=f"<sip:carol@{ALICE.host}:{ALICE.port}>",
    )


def _ours(message: Request) -> tuple[list[str], list[str]]:
    vias = [v.sent_by for v in message.vias]
    return vias, message.headers.get_all("record-route")


def test_transport_error_fails_over_to_the_next_address_with_a_clean_copy() -> None:
    net = make_net(hosts={FOREIGN: [BOB, BOB2]}, trusted_addresses=frozenset({ALICE.host}))
    net.deliver(_invite(), ALICE)
    first = [s for s in net.take() if isinstance(s.message, Request)]
    assert [s.destination for s in first] == [BOB]
    tid = next(iter(net.core.forwarder._clients))
    net.core.layer.handle_transport_error(tid, net.now, "ICMP unreachable")
    net.pump()
    second = [s for s in net.take() if isinstance(s.message, Request)]
    assert [s.destination for s in second] == [BOB2]
    assert isinstance(second[0].message, Request) and isinstance(first[0].message, Request)
    # Same Via stack and Record-Route as the first attempt, bar the branch.
    assert _ours(second[0].message) == _ours(first[0].message)
    assert len(second[0].message.vias) == 2
    assert second[0].message.vias[0].branch != first[0].message.vias[0].branch
    net.deliver(answer(second[0].message, 200, contact=f"<sip:bob@{BOB2.host}>"), BOB2)
    finals = [m for m in net.to(ALICE) if isinstance(m, Response) and m.status >= 200]
    assert [m.status for m in finals] == [200]
    assert [v.sent_by for v in finals[0].vias] == [f"{ALICE.host}:{ALICE.port}"]


def test_a_single_address_is_sent_without_a_second_copy_and_context_stays_intact() -> None:
    net = make_net(hosts={FOREIGN: [BOB]}, trusted_addresses=frozenset({ALICE.host}))
    net.deliver(_invite(), ALICE)
    (context,) = net.core.forwarder.contexts.values()
    assert len(context.request.vias) == 1  # ours went on the branch's copy only
    assert "record-route" not in context.request.headers
    (branch,) = context.branches
    assert branch.request is not context.request
    sent = [s.message for s in net.take() if isinstance(s.message, Request)]
    assert len(sent) == 1 and len(sent[0].vias) == 2
    assert len(sent[0].headers.get_all("record-route")) == 1
    # A transport error with nothing left to try: the caller gets a final.
    tid = next(iter(net.core.forwarder._clients))
    net.core.layer.handle_transport_error(tid, net.now, "ICMP unreachable")
    net.pump()
    finals = [m for m in net.to(ALICE) if isinstance(m, Response) and m.status >= 200]
    assert [m.status for m in finals] == [500]  # our 503 becomes 500 (§16.7 step 6)


def test_failover_peer_order_is_kept() -> None:
    third = Peer("udp", "192.0.2.22", 5082)
    net = make_net(hosts={FOREIGN: [BOB, BOB2, third]}, trusted_addresses=frozenset({ALICE.host}))
    net.deliver(_invite(), ALICE)
    seen = []
    for _ in range(3):
        out = [s for s in net.take() if isinstance(s.message, Request)]
        seen += [s.destination for s in out]
        assert all(len(s.message.vias) == 2 for s in out)
        for tid in list(net.core.forwarder._clients):
            net.core.layer.handle_transport_error(tid, net.now, "refused")
        net.pump()
    assert seen == [BOB, BOB2, third]
    finals = [m for m in net.to(ALICE) if isinstance(m, Response) and m.status >= 200]
    assert [m.status for m in finals] == [500]  # our 503 becomes 500 (§16.7 step 6)


def test_every_copy_sent_downstream_lacks_our_realms_credentials_but_keeps_others() -> None:
    """RFC 3261 §22.3: once verified, atlanta's Proxy-Authorization is consumed;
    biloxi's goes on, on the first copy and on the failover copy alike."""
    net = make_net(hosts={FOREIGN: [BOB, BOB2]})
    downstream = (
        'Digest username="alice", realm="biloxi.example", nonce="bn", '
        'uri="sip:bob@biloxi.example", response="0123456789abcdef"'
    )
    invite = request(
        "INVITE", f"sip:bob@{FOREIGN}", to=f"sip:bob@{FOREIGN}",
        contact=f"<sip:alice@{ALICE.host}:{ALICE.port}>",
        extra=[("Proxy-Authorization", downstream)],
    )  # fmt: skip
    sent = authorize(net, invite, ALICE, DigestClient("alice", "secret-a"), status=407)
    realms = [v.params.get("realm") for v in sent.proxy_authorization]
    assert realms == ["biloxi.example", "atlanta.example"]  # the UA sent both
    first = [s for s in net.take() if isinstance(s.message, Request)]
    assert [s.destination for s in first] == [BOB]
    tid = next(iter(net.core.forwarder._clients))
    net.core.layer.handle_transport_error(tid, net.now, "ICMP unreachable")
    net.pump()
    second = [s for s in net.take() if isinstance(s.message, Request)]
    assert [s.destination for s in second] == [BOB2]
    for copy in (first[0].message, second[0].message):
        assert isinstance(copy, Request)
        assert copy.headers.get_lines("Proxy-Authorization") == [downstream]
