"""The caller's side against scripted far ends: forking (several early
dialogs, two 2xx), a proxy's 407, name resolution, timeouts."""

from __future__ import annotations

from sipsec.auth import Algorithm, Authenticated, DigestServer, compute_ha1
from sipsec.sip import Request
from sipsec.transaction import Peer
from sipsec.ua import (
    AuthenticationFailed,
    CallAnswered,
    CallFailed,
    CallRinging,
    CallState,
    UserAgent,
)

from .conftest import ALICE, BOB, PASSWORD, Net, ScriptedUas, events

FORK1 = Peer("udp", "192.0.2.21", 5060)
FORK2 = Peer("udp", "192.0.2.22", 5060)


def test_forked_invite_two_early_dialogs_one_call_extra_2xx_released(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    proxy = ScriptedUas(BOB)  # plays a forking proxy: answers with two To tags
    forks = {"fork1": ScriptedUas(FORK1), "fork2": ScriptedUas(FORK2)}
    net.nodes[BOB] = proxy
    net.nodes.update({FORK1: forks["fork1"], FORK2: forks["fork2"]})
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    net.pump()
    [(tid, invite)] = proxy.requests
    assert tid is not None
    proxy.respond(tid, invite, 180, net.now, tag="fork1", contact="sip:bob@192.0.2.21")
    proxy.respond(tid, invite, 183, net.now, tag="fork2", contact="sip:bob@192.0.2.22")
    net.pump()
    assert [type(e) for e in events(alice)] == [CallRinging, CallRinging]
    assert call.dialog_set is not None and len(call.dialog_set.early()) == 2
    assert len(alice.dialogs) == 2
    proxy.respond(tid, invite, 200, net.now, tag="fork2", contact="sip:bob@192.0.2.22")
    net.pump()
    [answered] = events(alice)
    assert isinstance(answered, CallAnswered)
    assert call.remote_tag == "fork2" and call.state is CallState.ESTABLISHED
    assert len(alice.dialogs) == 1  # the other early dialog ended with the 2xx
    assert forks["fork2"].methods() == ["ACK"]
    # A late 2xx from the other fork: ACK it and release it with a BYE (§13.2.2.4).
    proxy.respond(tid, invite, 200, net.now, tag="fork1", contact="sip:bob@192.0.2.21")
    net.pump()
    assert forks["fork1"].methods() == ["ACK", "BYE"]
    assert events(alice) == [] and call.state is CallState.ESTABLISHED
    assert alice.stats["forked_2xx_released"] == 1
    # The 2xx of the answering fork retransmitted: re-ACKed, nothing else.
    proxy.respond(tid, invite, 200, net.now, tag="fork2", contact="sip:bob@192.0.2.22")
    net.pump()
    assert forks["fork2"].methods() == ["ACK", "ACK"]
    assert alice.stats["acks_resent"] == 1


def test_invite_challenged_by_a_proxy_407(net: Net) -> None:
    realm = "atlanta.example"

    def lookup(username: str, r: str, algorithm: Algorithm) -> str | None:
        return compute_ha1(algorithm, username, r, PASSWORD) if username == "alice" else None

    digest = DigestServer(b"proxy-secret-0123456789", realm, lookup, algorithms=[Algorithm.MD5])
    far = ScriptedUas(BOB)
    verdicts: list[object] = []

    def on_request(tid: int, request: Request, now: float) -> None:
        result = digest.authenticate(
            request.proxy_authorization, method="INVITE", uri=str(request.uri),
            body=request.body, now=1e6 + now, source="alice",
        )  # fmt: skip
        verdicts.append(result)
        if isinstance(result, Authenticated):
            far.respond(tid, request, 200, now, tag="b1", contact="sip:bob@192.0.2.2")
        else:
            headers = tuple(("Proxy-Authenticate", str(c)) for c in digest.challenge(1e6 + now))
            far.respond(tid, request, 407, now, headers=headers)

    far.on_request = on_request
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password=PASSWORD)
    call = alice.invite(
        "sip:bob@192.0.2.2", net.now, body=b"v=0\r\n", content_type="application/sdp"
    )
    net.pump()
    assert [type(e) for e in events(alice)] == [CallAnswered]
    first, second = (r for _, r in far.requests if r.method == "INVITE")
    assert second.cseq.seq == first.cseq.seq + 1 and second.call_id == first.call_id  # type: ignore[union-attr]
    assert second.from_.tag == first.from_.tag  # type: ignore[union-attr]
    assert second.proxy_authorization[0].params["algorithm"] == "MD5"
    assert isinstance(verdicts[-1], Authenticated)
    # The ACK for the 2xx carries the INVITE's credentials and CSeq number.
    ack = next(r for _, r in far.requests if r.method == "ACK")
    assert ack.cseq.seq == second.cseq.seq  # type: ignore[union-attr]
    assert ack.headers.get("Proxy-Authorization") == second.headers.get("Proxy-Authorization")
    assert call.auth_failures == 0


def test_invite_with_a_wrong_password_fails_once_counted(net: Net) -> None:
    far = ScriptedUas(BOB)
    digest = DigestServer(b"proxy-secret-0123456789", "atlanta.example", lambda u, r, a: None)

    def on_request(tid: int, request: Request, now: float) -> None:
        headers = tuple(("Proxy-Authenticate", str(c)) for c in digest.challenge(1e6 + now))
        far.respond(tid, request, 407, now, headers=headers)

    far.on_request = on_request
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password="wrong")
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    net.pump()
    got = events(alice)
    assert [type(e) for e in got] == [AuthenticationFailed, CallFailed]
    assert got[1].status == 407  # type: ignore[attr-defined]
    assert call.auth_failures == 1 and alice.stats["auth_failures"] == 1
    assert far.methods() == ["INVITE", "INVITE"]  # the ACKs ended in their transactions
    assert net.sent(ALICE, "ACK") == [0.0, 0.0]


def test_host_names_are_resolved_by_the_driver(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    net.hosts["biloxi.example"] = [Peer("udp", "192.0.2.99", 5060), BOB]  # first one is dead
    call = alice.invite("sip:bob@biloxi.example", net.now)
    assert alice.resolutions_needed()[0][1].host == "biloxi.example"
    alice.handle_resolution(1, [BOB], net.now)
    net.pump()
    assert [e.__class__.__name__ for e in events(bob)] == ["IncomingCall"]
    assert call.request.top_via is not None
    assert alice.handle_resolution(1, [BOB], net.now) is None  # a stale token is ignored


def test_unresolvable_target_fails_the_call(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    call = alice.invite("sip:bob@nowhere.example", net.now)
    net.pump()
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 503
    assert call.state is CallState.FAILED


def test_no_answer_times_out_with_408(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    alice.invite("sip:bob@192.0.2.77", net.now)
    net.run(until=40.0)
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 408
    assert net.sent(ALICE, "INVITE") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def test_tls_target_without_a_tls_listener_fails_cleanly(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    call = alice.invite("sips:bob@192.0.2.2", net.now)
    net.pump()
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 503
    assert "tls" in failed.reason and call.state is CallState.FAILED


def test_tls_next_hop_and_sips_contact() -> None:
    config_ua = UserAgent(
        __import__("sipsec.ua", fromlist=["UaConfig"]).UaConfig(
            "sips:alice@atlanta.example", contact={"tls": ("192.0.2.1", 5061)}
        )
    )
    call = config_ua.invite("sips:bob@192.0.2.2", 0.0)
    [out] = config_ua.layer.messages_to_send()
    assert out.destination == Peer("tls", "192.0.2.2", 5061)
    assert out.message.headers.get("Contact") == "<sips:alice@192.0.2.1:5061>"
    assert out.message.top_via.transport == "TLS"  # type: ignore[union-attr]
    assert call.state is CallState.CALLING


def test_cancel_unanswered_gives_up_after_64_t1(net: Net) -> None:
    """§9.1: a far end that ignores the CANCEL; the call fails at 64*T1."""
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    far = ScriptedUas(BOB)
    net.nodes[BOB] = far
    far.on_request = lambda tid, request, now: (
        far.respond(tid, request, 180, now, tag="x", contact="sip:bob@192.0.2.2")
        if request.method == "INVITE"
        else None
    )
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    net.pump()
    events(alice)
    alice.cancel(call, net.now)
    alice.cancel(call, net.now)  # twice is once
    net.run(until=31.9)
    assert events(alice) == []
    net.run(until=32.0)
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 487
    assert alice.stats["cancels_sent"] == 1 and len(alice.layer) == 0  # nothing left behind


def test_cancel_before_the_name_is_resolved_sends_nothing(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    call = alice.invite("sip:bob@biloxi.example", net.now)
    [(token, _)] = alice.resolutions_needed()
    alice.cancel(call, net.now)
    alice.handle_resolution(token, [BOB], net.now)
    [failed] = events(alice)
    assert isinstance(failed, CallFailed) and failed.status == 487
    assert alice.layer.messages_to_send() == []


def test_transport_error_fails_over_to_the_next_resolved_peer(net: Net) -> None:
    """RFC 3263 §4.3: a hop that cannot be reached makes way for the next."""
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    dead = Peer("udp", "192.0.2.99", 5060)
    alice.invite("sip:bob@biloxi.example", net.now)
    [(token, _)] = alice.resolutions_needed()
    alice.handle_resolution(token, [dead, BOB], net.now)
    [out] = alice.layer.messages_to_send()
    assert out.destination == dead
    alice.layer.handle_transport_error(out.transaction_id, net.now, "connection refused")
    net.pump()
    assert [e.__class__.__name__ for e in events(bob)] == ["IncomingCall"]


def test_tls_peers_from_the_resolver_keep_the_domain() -> None:
    from sipsec.ua import UaConfig

    ua = UserAgent(UaConfig("sips:alice@atlanta.example", contact={"tls": ("192.0.2.1", 5061)}))
    ua.invite("sips:bob@biloxi.example", 0.0)
    [(token, uri)] = ua.resolutions_needed()
    assert uri.host == "biloxi.example"
    ua.handle_resolution(token, [Peer("tls", "192.0.2.2", 5061)], 0.0)
    [out] = ua.layer.messages_to_send()
    assert out.destination == Peer("tls", "192.0.2.2", 5061, server_name="biloxi.example")


def test_in_dialog_host_name_is_resolved_for_the_ack(net: Net) -> None:
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    far = ScriptedUas(BOB)
    net.nodes[BOB] = far
    net.hosts["client.biloxi.example"] = [BOB]
    far.on_request = lambda tid, request, now: (
        far.respond(tid, request, 200, now, tag="t", contact="sip:bob@client.biloxi.example")
        if request.method == "INVITE"
        else None
    )
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    net.pump()
    [(_, ack)] = [(t, r) for t, r in far.requests if r.method == "ACK"]
    assert str(ack.uri) == "sip:bob@client.biloxi.example"
    assert call.ack_peer == BOB


def test_2xx_after_the_transaction_ended_is_still_reacked(net: Net) -> None:
    """RFC 6026 §8.4 / §13.2.2.4: a 2xx that comes after Timer M reaches the
    core without a transaction; the ACK sent before goes again."""
    alice = net.ua(ALICE, "sip:alice@atlanta.example")
    far = ScriptedUas(BOB)
    net.nodes[BOB] = far
    sent: list[object] = []
    far.on_request = lambda tid, request, now: (
        sent.append(far.respond(tid, request, 200, now, tag="t", contact="sip:bob@192.0.2.2"))
        if request.method == "INVITE"
        else None
    )
    alice.invite("sip:bob@192.0.2.2", net.now)
    net.run(until=40.0)
    assert len(alice.layer) == 0  # Timer M is over
    [ok] = sent
    far.layer.send_stateless(ok, ALICE)  # type: ignore[arg-type]
    net.pump()
    assert net.sent(ALICE, "ACK") == [0.0, 40.0]
    assert alice.stats["acks_resent"] == 1


def test_bye_challenged_by_407_is_retried_in_the_dialog(net: Net) -> None:
    digest = DigestServer(
        b"proxy-secret-0123456789", "atlanta.example",
        lambda u, r, a: compute_ha1(a, u, r, PASSWORD), algorithms=[Algorithm.MD5],
    )  # fmt: skip
    far = ScriptedUas(BOB)

    def on_request(tid: int, request: Request, now: float) -> None:
        if request.method == "INVITE":
            far.respond(tid, request, 200, now, tag="t", contact="sip:bob@192.0.2.2")
            return
        result = digest.authenticate(
            request.proxy_authorization, method="BYE", uri=str(request.uri), now=1e6,
            source="a",
        )  # fmt: skip
        if isinstance(result, Authenticated):
            far.respond(tid, request, 200, now)
        else:
            headers = tuple(("Proxy-Authenticate", str(c)) for c in digest.challenge(1e6))
            far.respond(tid, request, 407, now, headers=headers)

    far.on_request = on_request
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password=PASSWORD)
    call = alice.invite("sip:bob@192.0.2.2", net.now)
    net.pump()
    events(alice)
    alice.bye(call, net.now)
    net.pump()
    [ended] = events(alice)
    assert ended.reason == "BYE answered 200 OK"  # type: ignore[attr-defined]
    first, second = (r for _, r in far.requests if r.method == "BYE")
    assert (first.cseq.seq, second.cseq.seq) == (2, 3)  # type: ignore[union-attr]
    assert second.proxy_authorization and not first.proxy_authorization
