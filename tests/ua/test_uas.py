"""The callee's side: OPTIONS, 405, 420, 481, 482, 500, re-INVITE and glare
(§8.2, §11.2, §12.2.2, §14)."""

from __future__ import annotations

from sipsec.sip import Headers, Request, Response, generate_branch
from sipsec.transaction import TransactionLayer
from sipsec.ua import (
    CallAnswered,
    CallState,
    IncomingCall,
    UserAgent,
)

from .conftest import ALICE, BOB, BOB_URI, Net, ScriptedUas, establish, events, pair


def raw(
    method: str,
    *,
    to_tag: str | None = None,
    from_tag: str = "f1",
    call_id: str = "raw-call@192.0.2.1",
    cseq: int = 1,
    extra: tuple[tuple[str, str], ...] = (),
    branch: str | None = None,
) -> Request:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch or generate_branch()}")
    headers.add("Max-Forwards", "70")
    headers.add("From", f"<sip:alice@atlanta.example>;tag={from_tag}")
    headers.add("To", "<sip:bob@biloxi.example>" + (f";tag={to_tag}" if to_tag else ""))
    headers.add("Call-ID", call_id)
    headers.add("CSeq", f"{cseq} {method}")
    headers.add("Contact", "<sip:alice@192.0.2.1:5060>")
    for name, value in extra:
        headers.add(name, value)
    headers.add("Content-Length", "0")
    return Request(method, "sip:bob@192.0.2.2:5060", headers)


def ask(net: Net, bob: UserAgent, request: Request) -> list[Response]:
    """Send ``request`` from a bare layer at Alice's address; Bob's answers."""
    client = ScriptedUas(ALICE)
    net.nodes[ALICE] = client
    received: list[Response] = []
    original = client.handle_event

    def handle(event, now):  # type: ignore[no-untyped-def]
        response = getattr(event, "response", None)
        if response is not None:
            received.append(response)
        original(event, now)

    client.handle_event = handle  # type: ignore[method-assign]
    client.layer.send_request(request, BOB, net.now)
    net.pump()
    return received


def test_options_out_of_dialog_is_answered_200(net: Net) -> None:
    bob = net.ua(BOB, "sip:bob@biloxi.example", supported=("timer",))
    [ok] = ask(net, bob, raw("OPTIONS"))
    assert ok.status == 200
    assert ok.headers.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS"
    assert "application/sdp" in (ok.headers.get("Accept") or "")
    assert ok.headers.get("Supported") == "timer"
    assert ok.to is not None and ok.to.tag is not None


def test_unknown_method_gets_405_with_allow(net: Net) -> None:
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    for method in ("MESSAGE", "REGISTER", "SUBSCRIBE"):
        [refused] = ask(net, bob, raw(method))
        assert refused.status == 405
        assert refused.headers.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS"


def test_unknown_extension_required_gets_420(net: Net) -> None:
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    trying, refused = ask(net, bob, raw("INVITE", extra=(("Require", "100rel, foo"),)))
    assert trying.status == 100 and refused.status == 420
    assert refused.headers.get("Unsupported") == "100rel, foo"
    assert events(bob) == []


def test_bye_outside_a_dialog_gets_481(net: Net) -> None:
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    [refused] = ask(net, bob, raw("BYE", to_tag="nope"))
    assert refused.status == 481
    [refused] = ask(net, bob, raw("BYE"))
    assert refused.status == 481


def test_merged_request_gets_482(net: Net) -> None:
    """§8.2.2.2: the same INVITE (From tag, Call-ID, CSeq) by a second path."""
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    responses = ask(net, bob, raw("INVITE"))
    assert [r.status for r in responses] == [100]
    responses = ask(net, bob, raw("INVITE"))
    assert [r.status for r in responses] == [100, 482]
    assert len([e for e in events(bob) if e.__class__.__name__ == "IncomingCall"]) == 1


def test_out_of_order_cseq_in_a_dialog_gets_500(net: Net) -> None:
    alice, bob = pair(net)
    call, theirs = establish(net, alice, bob)
    assert call.dialog is not None
    alice.layer.send_request(_with_via(call.dialog.create_request("OPTIONS")), BOB, net.now)
    old = call.dialog.create_request("OPTIONS", cseq=1)  # below the INVITE's
    alice.layer.send_request(_with_via(old), BOB, net.now)
    net.pump()
    assert net.sent(BOB, "500") == [0.0]
    assert net.sent(BOB, "200").count(0.0) == 2  # the INVITE's 2xx and the first OPTIONS
    assert theirs.state is CallState.ESTABLISHED


def _with_via(request: Request) -> Request:
    request.headers.prepend("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch={generate_branch()}")
    return request


def test_timer_free_ua_layer_is_its_own() -> None:
    from sipsec.ua import UaConfig

    layer = TransactionLayer()
    ua = UserAgent(UaConfig("sip:bob@biloxi.example"), layer)
    assert ua.layer is layer and ua.get_timer() is None and ua.resolutions_needed() == []


def test_sips_invite_that_did_not_come_over_tls_is_refused(net: Net) -> None:
    """§26.2.2: a sips: request arriving over UDP cannot get a sips: Contact."""
    bob = net.ua(BOB, "sip:bob@biloxi.example")
    request = raw("INVITE")
    request.uri = "sips:bob@biloxi.example"
    assert [r.status for r in ask(net, bob, request)] == [100, 480]
    assert events(bob) == []


def test_answer_headers_go_on_the_2xx(net: Net) -> None:
    """§23: an S/MIME answer says ``Content-Disposition: session;handling=required``
    like the offer did; the caller's CallAnswered carries it."""
    alice, bob = pair(net)
    alice.invite(BOB_URI, net.now)
    net.pump()
    (incoming,) = [e for e in events(bob) if isinstance(e, IncomingCall)]
    disposition = ("Content-Disposition", "session;handling=required")
    bob.answer(
        incoming.call, net.now, body=b"v=0\r\n", content_type="application/sdp",
        headers=[disposition],
    )  # fmt: skip
    net.pump()
    (answered,) = [e for e in events(alice) if isinstance(e, CallAnswered)]
    assert answered.response.headers.get("Content-Disposition") == disposition[1]
    assert answered.call.state is CallState.ESTABLISHED
