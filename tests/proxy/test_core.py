"""ProxyCore in memory: registrar, Digest, the §16 proxy — fake clock, scripted UAs."""

from __future__ import annotations

import logging

import pytest

from sipsec.auth import DigestClient
from sipsec.sip import Request, Response, parse_uri
from sipsec.transaction import Peer, build_cancel

from ._e3_harness import (
    ALICE,
    BILOXI,
    BOB,
    BOB2,
    PROXY,
    Net,
    answer,
    authorize,
    bind,
    finals,
    make_net,
    register,
    request,
    requests_of,
)

ALICE_PW, BOB_PW = "secret-a", "secret-b"


def _responses(messages: list[Request | Response]) -> list[Response]:
    return [m for m in messages if isinstance(m, Response)]


def _requests(messages: list[Request | Response]) -> list[Request]:
    return [m for m in messages if isinstance(m, Request)]


def _registered_net(**config: object):  # type: ignore[no-untyped-def]
    net = make_net(**config)
    ok = register(net, "bob", BOB_PW, f"<sip:bob@{BOB.host}:{BOB.port}>", BOB)
    assert ok.status == 200
    return net


def _invite(net, source=ALICE, uri="sip:bob@atlanta.example", **kw):  # type: ignore[no-untyped-def]
    req = request("INVITE", uri, via=source, contact=f"<sip:alice@{ALICE.host}:{ALICE.port}>", **kw)
    return authorize(net, req, source, DigestClient("alice", ALICE_PW), status=407)


def test_call_through_the_proxy_records_route_and_forwards_2xx() -> None:
    net = _registered_net()
    invite = _invite(net)
    trying = _responses(net.to(ALICE))
    assert [r.status for r in trying] == [100]  # §16.2 / §17.2.1: 100 Trying at once
    forwarded = _requests(net.to(BOB))
    assert len(forwarded) == 1
    out = forwarded[0]
    assert (
        str(out.uri) == f"sip:bob@{BOB.host}:{BOB.port}"
    )  # §16.5 target from the location service
    assert out.max_forwards == 69  # §16.6 step 3
    assert len(out.vias) == 2 and out.vias[0].host == "192.0.2.1"  # step 8
    assert out.headers.get_all("record-route") == ["<sip:192.0.2.1:5060;lr>"]  # step 4
    assert out.headers.get("Proxy-Authorization") is None  # §22.3: ours consumed
    net.deliver(answer(out, 180), BOB)
    net.deliver(answer(out, 200, contact=f"<sip:bob@{BOB.host}:{BOB.port}>"), BOB)
    up = _responses(net.to(ALICE))
    assert [r.status for r in up] == [180, 200]
    assert len(up[1].vias) == 1  # our Via removed (§16.7 step 3)
    assert up[1].headers.get_all("record-route") == ["<sip:192.0.2.1:5060;lr>"]
    assert net.core.log[-1].method == "INVITE" and net.core.log[-1].status == 200
    del invite


def test_unregistered_target_gets_480() -> None:
    net = make_net()
    _invite(net, uri="sip:carol@atlanta.example")
    assert [r.status for r in _responses(net.to(ALICE)) if r.status != 100] == [480]


# -- the §16 proxy without Digest: forking, responses, CANCEL, timers ---------------------

BOB3 = Peer("udp", "192.0.2.22", 5082)


def _net(**config: object) -> Net:
    return make_net(authenticate_invites=False, **config)


def _send_invite(net: Net, uri: str = "sip:bob@atlanta.example", **kw: object) -> Request:
    req = request("INVITE", uri, contact=f"<sip:alice@{ALICE.host}:{ALICE.port}>", **kw)  # type: ignore[arg-type]
    net.deliver(req, ALICE)
    return req


def _contact(peer: Peer) -> str:
    return f"sip:bob@{peer.host}:{peer.port}"


def test_equal_q_forks_in_parallel_and_the_first_2xx_cancels_the_rest() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    bind(net, "bob", _contact(BOB2))
    _send_invite(net)
    one, two = requests_of(net.to(BOB), "INVITE")[0], requests_of(net.to(BOB2), "INVITE")[0]
    assert one.vias[0].branch != two.vias[0].branch
    net.deliver(answer(one, 180), BOB)
    net.deliver(answer(two, 180, tag="t2"), BOB2)
    net.deliver(answer(two, 200, tag="t2"), BOB2)
    assert [r.status for r in net.to(ALICE) if isinstance(r, Response)] == [100, 180, 180, 200]
    cancels = requests_of(net.to(BOB), "CANCEL")
    assert len(cancels) == 1 and cancels[0].vias[0].branch == one.vias[0].branch  # §16.7 step 10
    net.deliver(answer(one, 200, tag="late"), BOB)  # a 2xx racing the CANCEL: forwarded too
    assert finals(net.to(ALICE)) == [200]


def test_lower_q_is_tried_only_after_higher_q_failed() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB), q=1.0)
    bind(net, "bob", _contact(BOB2), q=0.5)
    _send_invite(net)
    first = requests_of(net.to(BOB), "INVITE")
    assert len(first) == 1 and net.to(BOB2) == []
    net.deliver(answer(first[0], 486), BOB)
    second = requests_of(net.to(BOB2), "INVITE")
    assert len(second) == 1  # sequential forking (§16.6, q-values)
    net.deliver(answer(second[0], 404), BOB2)
    assert finals(net.to(ALICE)) == [486]  # best: lowest class, first received


def test_6xx_cancels_the_others_and_wins() -> None:
    net = _net()
    for peer in (BOB, BOB2, BOB3):
        bind(net, "bob", _contact(peer))
    _send_invite(net)
    reqs = {p: requests_of(net.to(p), "INVITE")[0] for p in (BOB, BOB2, BOB3)}
    net.deliver(answer(reqs[BOB], 180), BOB)
    net.deliver(answer(reqs[BOB2], 603), BOB2)
    assert len(requests_of(net.to(BOB), "CANCEL")) == 1
    assert finals(net.to(ALICE)) == []  # not forwarded before the others end (§16.7 step 5)
    net.deliver(answer(reqs[BOB], 487), BOB)
    net.deliver(answer(reqs[BOB3], 486), BOB3)
    assert finals(net.to(ALICE)) == [603]


def test_challenges_of_all_branches_are_aggregated() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    bind(net, "bob", _contact(BOB2))
    _send_invite(net)
    one, two = requests_of(net.to(BOB), "INVITE")[0], requests_of(net.to(BOB2), "INVITE")[0]
    r1 = answer(one, 401)
    r1.headers.add("WWW-Authenticate", 'Digest realm="one", nonce="n1"')
    r2 = answer(two, 407)
    r2.headers.add("Proxy-Authenticate", 'Digest realm="two", nonce="n2"')
    net.deliver(r1, BOB)
    net.deliver(r2, BOB2)
    best = [r for r in net.to(ALICE) if isinstance(r, Response) and r.status >= 200]
    assert len(best) == 1 and best[0].status in (401, 407)
    assert len(best[0].www_authenticate) == 1 and len(best[0].proxy_authenticate) == 1


def test_503_is_forwarded_as_500() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    _send_invite(net)
    net.deliver(answer(requests_of(net.to(BOB), "INVITE")[0], 503), BOB)
    assert finals(net.to(ALICE)) == [500]


def test_no_answer_at_all_is_a_408() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    _send_invite(net)
    net.advance(40)  # Timer B (64*T1) on the branch
    answers = finals(net.to(ALICE))
    assert set(answers) == {408}  # retransmitted over UDP until an ACK (Timer G)


def test_timer_c_cancels_a_ringing_branch() -> None:
    net = _net(timer_c=181.0)
    bind(net, "bob", _contact(BOB))
    _send_invite(net)
    out = requests_of(net.to(BOB), "INVITE")[0]
    net.deliver(answer(out, 180), BOB)
    net.advance(100)
    net.deliver(answer(out, 183), BOB)  # resets timer C (§16.7 step 2)
    net.advance(150)
    assert requests_of(net.to(BOB), "CANCEL") == []
    net.advance(40)
    cancel = requests_of(net.to(BOB), "CANCEL")  # and its UDP retransmissions
    assert cancel and {c.vias[0].branch for c in cancel} == {out.vias[0].branch}
    assert net.core.stats["timer_c"] == 1
    net.deliver(answer(out, 487), BOB)
    assert set(finals(net.to(ALICE))) == {487}


def test_cancel_is_answered_and_cancels_every_branch() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    bind(net, "bob", _contact(BOB2))
    invite = _send_invite(net)
    forwarded = {peer: requests_of(net.to(peer), "INVITE")[0] for peer in (BOB, BOB2)}
    for peer, sent in forwarded.items():
        net.deliver(answer(sent, 180), peer)
    net.to(ALICE)
    net.deliver(build_cancel(invite), ALICE)
    assert [m.status for m in net.to(ALICE) if isinstance(m, Response)] == [200]  # §16.10
    for peer, sent in forwarded.items():
        [cancel] = requests_of(net.to(peer), "CANCEL")
        assert cancel.vias[0].branch == sent.vias[0].branch  # §9.1: the INVITE's branch
        net.deliver(answer(cancel, 200), peer)
        net.deliver(answer(sent, 487), peer)
    assert finals(net.to(ALICE)) == [487]
    assert len(net.core.forwarder) == 0


def test_cancel_before_forwarding_answers_487_itself() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    net.unresolved = True
    invite = _send_invite(net)
    net.deliver(build_cancel(invite), ALICE)
    net.release()
    statuses = [m.status for m in net.to(ALICE) if isinstance(m, Response)]
    assert 200 in statuses and 487 in statuses and net.to(BOB) == []


def test_cancel_for_nothing_is_481() -> None:
    net = _net()
    net.deliver(build_cancel(request("INVITE", "sip:bob@atlanta.example")), ALICE)
    assert finals(net.to(ALICE)) == [481]


def test_ack_for_2xx_goes_end_to_end_along_the_route() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    _send_invite(net)
    out = requests_of(net.to(BOB), "INVITE")[0]
    ok = answer(out, 200, contact=f"<{_contact(BOB)}>")
    net.deliver(ok, BOB)
    assert finals(net.to(ALICE)) == [200]
    route = [("Route", "<sip:192.0.2.1:5060;lr>")]
    ack = request("ACK", _contact(BOB), to_tag="bobtag", call_id=out.call_id, extra=route)
    net.deliver(ack, ALICE)
    [forwarded] = requests_of(net.to(BOB), "ACK")
    assert forwarded.routes == [] and len(forwarded.vias) == 2
    assert net.to(ALICE) == []  # nothing answers an ACK


def test_stray_responses_are_dropped() -> None:
    net = _net()
    stray = answer(request("INVITE", "sip:bob@atlanta.example", via=PROXY), 200)
    net.deliver(stray, BOB)
    assert net.take() == [] and net.core.stats["stray_responses"] == 1


def test_foreign_domain_goes_to_the_hosts_map_over_tls() -> None:
    net = _net(hosts={"biloxi.example": [BILOXI]})
    _send_invite(net, "sip:bob@biloxi.example")
    sent = net.take()
    out = [s for s in sent if isinstance(s.message, Request)]
    assert len(out) == 1 and out[0].destination == BILOXI
    invite = out[0].message
    assert invite.vias[0].transport == "TLS"
    # Transport changes (UDP in, TLS out): RFC 5658 double Record-Route.
    assert invite.headers.get_all("record-route") == [
        "<sip:192.0.2.1:5061;transport=tls;lr>",
        "<sip:192.0.2.1:5060;lr>",
    ]


def test_sips_request_uri_only_over_tls() -> None:
    net = _net(hosts={"biloxi.example": [BILOXI], "plain.example": [BOB]})
    _send_invite(net, "sips:bob@biloxi.example")
    [out] = [s for s in net.take() if isinstance(s.message, Request)]
    assert out.destination.transport == "tls"
    assert out.message.headers.get_all("record-route")[0].startswith("<sips:")
    _send_invite(net, "sips:bob@plain.example")
    refused = [m for m in net.to(ALICE) if isinstance(m, Response) and m.status >= 200]
    assert [r.status for r in refused] == [480]
    assert "380" in (refused[0].headers.get("Warning") or "")


def test_sips_to_a_non_tls_binding_is_480() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    _send_invite(net, "sips:bob@atlanta.example")
    assert finals(net.to(ALICE)) == [480] and net.to(BOB) == []


def test_validation_errors() -> None:
    net = _net()
    cases = [
        (request("INVITE", "sip:bob@atlanta.example", extra=[("Proxy-Require", "foo")]), 420),
        (request("OPTIONS", "mailto:bob@atlanta.example"), 416),
    ]
    zero = request("INVITE", "sip:bob@atlanta.example")
    zero.headers.set("Max-Forwards", "0")
    cases.append((zero, 483))
    for req, status in cases:
        net.deliver(req, ALICE)
        assert finals(net.to(ALICE)) == [status], status
    assert net.core.stats["refused_420"] == 1


def test_a_loop_is_482_but_a_spiral_is_forwarded() -> None:
    net = _net(hosts={"loop.example": [PROXY], "spiral.example": [PROXY]})
    net.core.forwarder  # noqa: B018
    _send_invite(net, "sip:bob@loop.example")
    [out] = [s.message for s in net.take() if isinstance(s.message, Request)]
    net.deliver(out, PROXY)  # it comes back to us unchanged: a loop
    assert 482 in finals([s.message for s in net.take()])
    _send_invite(net, "sip:bob@spiral.example")
    [out] = [s.message for s in net.take() if isinstance(s.message, Request)]
    assert isinstance(out, Request)
    out.uri = parse_uri("sip:carol@loop.example")  # retargeted on its way: a spiral
    net.deliver(out, PROXY)
    assert net.core.stats["refused_482"] == 1
    assert any(isinstance(s.message, Request) for s in net.take())


def test_proxy_auth_for_own_users_only_and_not_from_trusted_peers() -> None:
    net = make_net(trusted_addresses=frozenset({"192.0.2.30"}))
    bind(net, "bob", _contact(BOB))
    net.deliver(request("INVITE", "sip:bob@atlanta.example"), ALICE)
    assert finals(net.to(ALICE)) == [407]
    foreign = request("INVITE", "sip:bob@atlanta.example", from_="sip:carol@biloxi.example")
    net.deliver(foreign, ALICE)
    assert len(requests_of(net.to(BOB), "INVITE")) == 1  # inbound to our user: no challenge
    relay = request("INVITE", "sip:dave@chicago.example", from_="sip:carol@biloxi.example")
    net.deliver(relay, ALICE)
    assert finals(net.to(ALICE)) == [403]  # no open relay
    trusted = Peer("udp", "192.0.2.30", 5060)
    net.deliver(request("INVITE", "sip:bob@atlanta.example", via=trusted), trusted)
    assert len(requests_of(net.to(BOB), "INVITE")) == 1


def test_authenticated_user_must_send_as_itself() -> None:
    net = make_net()
    bind(net, "bob", _contact(BOB))
    req = request("INVITE", "sip:bob@atlanta.example", from_="sip:bob@atlanta.example")
    authorize(net, req, ALICE, DigestClient("alice", ALICE_PW), status=407)
    assert finals(net.to(ALICE)) == [403]


def test_options_to_the_proxy_itself() -> None:
    net = _net()
    net.deliver(request("OPTIONS", "sip:atlanta.example"), ALICE)
    [ok] = [m for m in net.to(ALICE) if isinstance(m, Response)]
    assert ok.status == 200 and "INVITE" in (ok.headers.get("Allow") or "")


def test_too_many_contexts_is_503_with_retry_after() -> None:
    net = _net(max_contexts=2)
    bind(net, "bob", _contact(BOB))
    for _ in range(3):
        _send_invite(net)
    refused = [m for m in net.to(ALICE) if isinstance(m, Response) and m.status >= 200]
    assert [r.status for r in refused] == [503] and refused[0].headers.get("Retry-After")
    assert len(net.core.forwarder) == 2


def test_contexts_are_freed_after_the_final_response() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    for _ in range(20):
        _send_invite(net)
        out = requests_of(net.to(BOB), "INVITE")[0]
        net.deliver(answer(out, 486), BOB)
    assert len(net.core.forwarder) == 0
    net.advance(60)
    assert len(net.core.layer) == 0 and net.core.forwarder._clients == {}


def test_one_log_line_per_transaction(caplog: pytest.LogCaptureFixture) -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    with caplog.at_level(logging.INFO, logger="sipsec.proxy"):
        _send_invite(net)
        net.deliver(answer(requests_of(net.to(BOB), "INVITE")[0], 486), BOB)
    lines = [r.getMessage() for r in caplog.records if r.name == "sipsec.proxy"]
    assert len(lines) == 1
    assert lines[0].startswith("INVITE sip:alice@atlanta.example -> sip:bob@atlanta.example 486")
    assert "branches=1" in lines[0]


def test_mutual_tls_peer_domain_is_trusted_only_when_configured() -> None:
    net = make_net(trusted_domains=frozenset({"biloxi.example"}))
    bind(net, "bob", _contact(BOB))
    peer = Peer("tls", "192.0.2.30", 40000, "biloxi.example", connection_id=7)
    net.deliver(request("INVITE", "sip:bob@atlanta.example", via=peer), peer)
    assert len(requests_of(net.to(BOB), "INVITE")) == 1  # proven biloxi.example: no 407
    other = Peer("tls", "192.0.2.31", 40001, "chicago.example", connection_id=8)
    net.deliver(request("INVITE", "sip:bob@atlanta.example", via=other), other)
    assert finals(net.to(other)) == [407]


def test_per_user_rate_limit_holds_across_sources() -> None:
    net = make_net()
    statuses = []
    for attempt in range(16):
        source = Peer("udp", f"198.51.100.{attempt + 1}", 5060)  # a new source each time
        req = request("INVITE", "sip:bob@atlanta.example", via=source)
        authorize(net, req, source, DigestClient("alice", f"guess{attempt}"), status=407)
        statuses += finals(net.to(source))
    assert statuses[0] == 407 and statuses.count(403) >= 4  # the user's bucket ran dry


def test_a_stream_contact_is_reached_on_its_registration_connection_first() -> None:
    net = _net()
    flow = Peer("tls", "192.0.2.20", 40000, None, connection_id=7)
    contact = "<sip:bob@192.0.2.20:5080;transport=tls>"
    assert register(net, "bob", BOB_PW, contact, flow).status == 200
    _send_invite(net)
    [first] = [s for s in net.take() if isinstance(s.message, Request)]
    assert first.destination == flow
    # The connection is gone: the transport reports it, the contact is tried next.
    tid = next(iter(net.core.forwarder._clients))
    net.core.layer.handle_transport_error(tid, net.now, "connection closed")
    net.pump()
    [second] = [s for s in net.take() if isinstance(s.message, Request)]
    assert second.destination == Peer("tls", "192.0.2.20", 5080)
    assert second.message.vias[0].branch != first.message.vias[0].branch


def test_a_register_flood_cannot_grow_the_transaction_table() -> None:
    net = make_net(max_transactions=10)
    statuses = []
    for n in range(50):
        source = Peer("udp", "203.0.113.5", 10000 + n)
        net.deliver(request("REGISTER", "sip:atlanta.example", via=source), source)
        statuses += finals(net.to(source))
    assert statuses.count(401) == 10 and statuses.count(503) == 40
    assert len(net.core.layer) <= 11
    net.advance(40)  # Timer J: the challenged transactions end, room again
    source = Peer("udp", "203.0.113.6", 9999)
    net.deliver(request("REGISTER", "sip:atlanta.example", via=source), source)
    assert finals(net.to(source)) == [401]


def test_provisional_flood_does_not_grow_the_timer_heap() -> None:
    net = _net()
    bind(net, "bob", _contact(BOB))
    _send_invite(net)
    out = requests_of(net.to(BOB), "INVITE")[0]
    for _ in range(500):
        net.deliver(answer(out, 183), BOB)
    assert len(net.core.forwarder._heap) <= 2
    net.advance(179)
    assert requests_of(net.to(BOB), "CANCEL") == []  # the last 183 reset timer C
    net.advance(2)
    assert requests_of(net.to(BOB), "CANCEL")


def test_ack_addressed_to_an_aor_goes_to_its_live_binding() -> None:
    net = _net(purge_interval=1e6)
    bind(net, "bob", _contact(BOB))
    net.deliver(request("ACK", "sip:bob@atlanta.example", to_tag="x"), ALICE)
    [ack] = requests_of(net.to(BOB), "ACK")
    assert str(ack.uri) == _contact(BOB)
    net.now += 3601  # expired (not yet purged): the lookup must use the current time
    net.deliver(request("ACK", "sip:bob@atlanta.example", to_tag="x"), ALICE)
    assert net.to(BOB) == [] and net.core.stats["ack_dropped"] == 1


def test_per_source_request_rate_limit() -> None:
    net = _net(source_rate=1.0, source_burst=5)
    statuses = []
    for n in range(8):
        source = Peer("udp", "203.0.113.9", 20000 + n)
        net.deliver(request("OPTIONS", "sip:atlanta.example", via=source), source)
        statuses += finals(net.to(source))
    assert statuses == [200] * 5 + [503] * 3 and net.core.stats["rate_limited"] == 3
    net.advance(2)  # the bucket refills at 1/s
    source = Peer("udp", "203.0.113.9", 30000)
    net.deliver(request("OPTIONS", "sip:atlanta.example", via=source), source)
    assert finals(net.to(source)) == [200]
