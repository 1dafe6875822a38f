"""RFC 3261 §12 dialogs, checked against the RFC 3665 §3.2 call flow (two
proxies record-routing) and hand-built strict-routing and CSeq cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipsec.dialog import Dialog, DialogId, DialogState, request_target
from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import Request, Response, parse_message, parse_name_address, parse_uri

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc3665"


def flow(n: int) -> Request | Response:
    """Message Fn of RFC 3665 §3.2 "Session Establishment Through Two Proxies"."""
    data = (VECTORS / f"3.2-session-establishment-through-two-proxies-F{n}.sip").read_bytes()
    return parse_message(data)


def request(n: int) -> Request:
    message = flow(n)
    assert isinstance(message, Request)
    return message


def response(n: int) -> Response:
    message = flow(n)
    assert isinstance(message, Response)
    return message


def test_uac_dialog_from_the_2xx_builds_the_rfc3665_ack() -> None:
    invite, ok = request(4), response(14)  # Alice's INVITE with credentials, Bob's 200
    dialog = Dialog.from_uac_response(invite, ok)
    assert dialog.id == DialogId("3848276298220188511@atlanta.example.com", "9fxced76sl", "314159")
    assert dialog.state is DialogState.CONFIRMED and dialog.is_uac
    assert str(dialog.local_uri) == "sip:alice@atlanta.example.com"
    assert str(dialog.remote_uri) == "sip:bob@biloxi.example.com"
    # §12.1.2: the Record-Route reversed.
    assert [str(r) for r in dialog.route_set] == [
        "<sip:ss1.atlanta.example.com;lr>",
        "<sip:ss2.biloxi.example.com;lr>",
    ]
    assert str(dialog.remote_target) == "sip:bob@client.biloxi.example.com;transport=tcp"
    assert dialog.local_cseq == 2 and dialog.remote_cseq is None
    assert not dialog.secure  # sip:, not sips:
    ack = dialog.create_request("ACK")
    expected = request(15)  # F15, less its Via (the sender adds it)
    # §12.2.1.1: the Request-URI is the remote target, parameters and all;
    # the RFC 3665 example drops the Contact's ;transport=tcp there.
    assert str(ack.uri) == str(expected.uri) + ";transport=tcp" == str(dialog.remote_target)
    for name in ("Route", "From", "To", "Call-ID", "CSeq", "Max-Forwards"):
        assert ack.headers.get_all(name) == expected.headers.get_all(name), name
    assert str(dialog.next_hop) == "sip:ss1.atlanta.example.com;lr"


def test_uas_dialog_builds_the_rfc3665_bye() -> None:
    invite = request(7)  # as it reached Bob, record-routed twice
    dialog = Dialog.from_uas_request(invite, "314159")
    assert dialog.state is DialogState.EARLY and not dialog.is_uac
    assert str(dialog.local_uri) == "sip:bob@biloxi.example.com"
    assert str(dialog.remote_uri) == "sip:alice@atlanta.example.com"
    assert dialog.remote_cseq == 2 and dialog.local_cseq is None
    dialog.confirm()
    bye = dialog.create_request("BYE")
    expected = request(18)
    assert str(bye.uri) == str(expected.uri) + ";transport=tcp"  # as for F15 above
    for name in ("Route", "From", "To", "Call-ID", "CSeq", "Max-Forwards"):
        assert bye.headers.get_all(name) == expected.headers.get_all(name), name
    assert bye.top_via is None
    # A second request counts on.
    assert dialog.create_request("OPTIONS").cseq.seq == 2  # type: ignore[union-attr]


def test_cseq_out_of_order_is_a_500() -> None:
    dialog = Dialog.from_uas_request(request(7), "314159")
    later = request(7)
    later.headers.set("CSeq", "3 BYE")
    later.method = "BYE"
    dialog.receive_request(later)
    assert dialog.remote_cseq == 3
    for number in (3, 1):
        old = request(7)
        old.method = "BYE"
        old.headers.set("CSeq", f"{number} BYE")
        with pytest.raises(RemoteProtocolError) as info:
            dialog.receive_request(old)
        assert info.value.status == 500
    ack = request(7)
    ack.method = "ACK"
    ack.headers.set("CSeq", "2 ACK")
    dialog.receive_request(ack)  # an ACK carries its INVITE's number: not out of order
    assert dialog.remote_cseq == 3


def test_reinvite_refreshes_the_remote_target() -> None:
    dialog = Dialog.from_uas_request(request(7), "314159")
    reinvite = request(7)
    reinvite.headers.set("CSeq", "5 INVITE")
    reinvite.headers.set("Contact", "<sip:alice@192.0.2.55:5070>")
    dialog.receive_request(reinvite)
    assert str(dialog.remote_target) == "sip:alice@192.0.2.55:5070"


def test_2xx_to_reinvite_refreshes_the_target_at_the_uac() -> None:
    invite, ok = request(4), response(14)
    dialog = Dialog.from_uac_response(invite, ok)
    reinvite = dialog.create_request("INVITE")
    assert reinvite.cseq.seq == 3 and dialog.invite_cseq == 3  # type: ignore[union-attr]
    answer = response(14)
    answer.headers.set("CSeq", "3 INVITE")
    answer.headers.set("Contact", "<sip:bob@192.0.2.201:5080>")
    dialog.update_from_response(reinvite, answer)
    assert str(dialog.remote_target) == "sip:bob@192.0.2.201:5080"
    assert dialog.create_request("ACK").cseq.seq == 3  # type: ignore[union-attr]


def test_early_dialog_confirmed_and_route_set_recomputed() -> None:
    invite, ringing, ok = request(4), response(10), response(14)
    dialog = Dialog.from_uac_response(invite, ringing)
    assert dialog.is_early and dialog.remote_tag == "314159"
    ok.headers.set("Record-Route", "<sip:ss9.biloxi.example.com;lr>")
    dialog.update_from_response(invite, ok)
    assert dialog.is_confirmed
    assert [str(r) for r in dialog.route_set] == ["<sip:ss9.biloxi.example.com;lr>"]


def test_strict_router_gets_the_request_uri() -> None:
    """§12.2.1.1: a first route without ;lr becomes the Request-URI and the
    remote target goes last in Route."""
    routes = [
        parse_name_address("<sip:strict.example.com>"),
        parse_name_address("<sip:loose.example.com;lr>"),
    ]
    target = parse_uri("sip:bob@192.0.2.4")
    uri, route_values = request_target(routes, target)
    assert str(uri) == "sip:strict.example.com"
    assert route_values == ["<sip:loose.example.com;lr>", "<sip:bob@192.0.2.4>"]
    loose_uri, loose_routes = request_target(routes[1:], target)
    assert loose_uri is target and loose_routes == ["<sip:loose.example.com;lr>"]
    assert request_target([], target) == (target, [])


def test_secure_needs_sips_over_tls() -> None:
    invite = request(7)
    invite.uri = "sips:bob@client.biloxi.example.com"
    assert not Dialog.from_uas_request(invite, "t").secure  # sips: over TCP
    invite.headers.set("Via", "SIP/2.0/TLS ss2.biloxi.example.com:5061;branch=z9hG4bKx1")
    assert Dialog.from_uas_request(invite, "t").secure


def test_bad_inputs_are_typed_errors() -> None:
    invite = request(7)
    invite.headers.remove("Contact")
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uas_request(invite, "t")
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac_response(request(18), response(14))  # a BYE makes no dialog
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac_response(request(4), response(6))  # a 100 makes no dialog
    dialog = Dialog.from_uac_response(request(4), response(14))
    with pytest.raises(LocalProtocolError):
        dialog.create_request("CANCEL")
    dialog.terminate()
    with pytest.raises(LocalProtocolError):
        dialog.create_request("BYE")
