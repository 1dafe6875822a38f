"""Matching (§17.1.3, §17.2.3 with the RFC 2543 fallback, §9.2) and the two
requests the layer builds: the non-2xx ACK (§17.1.1.3) and CANCEL (§9.1)."""

from __future__ import annotations

from typing import Any

import pytest

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import Request, make_response, parse_message
from sipsec.transaction import build_ack, build_cancel
from sipsec.transaction.matching import response_key, server_key, with_to_tag

# RFC 3261 §24.2 F1, as Bob receives it from his proxy (three Vias).
F1 = (
    b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP server10.biloxi.example;branch=z9hG4bK4b43c2ff8.1\r\n"
    b"Via: SIP/2.0/UDP bigbox3.site3.atlanta.example;branch=z9hG4bK77ef4c2312983.1\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    b"Max-Forwards: 68\r\n"
    b"To: Bob <sip:bob@biloxi.example>\r\n"
    b"From: Alice <sip:alice@atlanta.example>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example>\r\n"
    b"Route: <sip:p1.example;lr>\r\n"
    b"Require: 100rel\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def invite() -> Request:
    message = parse_message(F1)
    assert isinstance(message, Request)
    return message


def test_server_key_3261() -> None:
    request = invite()
    assert server_key(request) == (
        "3261",
        "z9hG4bK4b43c2ff8.1",
        ("UDP", "server10.biloxi.example", None),
        "INVITE",
    )
    # Same branch, sent-by differing only in case: same transaction.
    other = parse_message(F1.replace(b"server10.biloxi.example;", b"SERVER10.biloxi.EXAMPLE;"))
    assert isinstance(other, Request) and server_key(other) == server_key(request)
    # Same branch from another sent-by: another transaction (§17.2.3).
    spoof = parse_message(F1.replace(b"server10.biloxi.example;", b"evil.example;"))
    assert isinstance(spoof, Request) and server_key(spoof) != server_key(request)


def test_ack_and_cancel_find_the_invite() -> None:
    request = invite()
    ack = build_ack(request, make_response(request, 486, to_tag="t"))
    assert server_key(ack) == server_key(request)
    cancel = build_cancel(request)
    assert server_key(cancel) != server_key(request)
    assert server_key(cancel, "INVITE") == server_key(request)


def test_rfc2543_key() -> None:
    old = parse_message(F1.replace(b"branch=z9hG4bK4b43c2ff8.1", b"branch=1"))
    assert isinstance(old, Request)
    key = server_key(old)
    assert key[0] == "2543" and key[2] is None and key[5] == 314159 and key[6] == "INVITE"
    ack = build_ack(old, make_response(old, 486, to_tag="t9"))
    assert server_key(ack) == with_to_tag(key, "t9")
    # Another Call-ID, From tag or Request-URI: another transaction.
    for a, b in [
        (b"a84b4c76e66710", b"zzz"),
        (b"tag=1928301774", b"tag=1"),
        (b"INVITE sip:bob@192.0.2.4", b"INVITE sip:bob@192.0.2.5"),
    ]:
        other = parse_message(F1.replace(b"branch=z9hG4bK4b43c2ff8.1", b"branch=1").replace(a, b))
        assert isinstance(other, Request) and server_key(other) != key
    no_branch = parse_message(F1.replace(b";branch=z9hG4bK4b43c2ff8.1", b""))
    assert isinstance(no_branch, Request) and server_key(no_branch)[0] == "2543"


def test_response_key() -> None:
    request = invite()
    assert response_key(make_response(request, 180)) == ("z9hG4bK4b43c2ff8.1", "INVITE")
    response = make_response(request, 200)
    response.headers.set("Via", "SIP/2.0/UDP x.example")
    assert response_key(response) is None
    response.headers.set("Via", "not a via")
    with pytest.raises(RemoteProtocolError):
        response_key(response)


def test_build_ack_17_1_1_3() -> None:
    request = invite()
    response = make_response(request, 486, to_tag="8321234356")
    ack = build_ack(request, response)
    assert bytes(ack).startswith(b"ACK sip:bob@192.0.2.4 SIP/2.0\r\n")
    assert ack.headers.get_all("Via") == [
        "SIP/2.0/UDP server10.biloxi.example;branch=z9hG4bK4b43c2ff8.1"
    ]
    assert ack.headers.get_all("Route") == ["<sip:p1.example;lr>"]
    assert ack.headers.get("To") == "Bob <sip:bob@biloxi.example>;tag=8321234356"
    assert ack.headers.get("From") == request.headers.get("From")
    assert ack.headers.get("CSeq") == "314159 ACK"
    assert "Require" not in ack.headers and "Contact" not in ack.headers and ack.body == b""
    assert parse_message(bytes(ack)).method == "ACK"  # type: ignore[union-attr]


def test_build_cancel_9_1() -> None:
    request = invite()
    cancel = build_cancel(request)
    assert cancel.uri == request.uri
    assert cancel.headers.get_all("Via") == request.headers.get_all("Via")[:1]
    assert [cancel.headers.get(h) for h in ("To", "From", "Call-ID")] == [
        request.headers.get(h) for h in ("To", "From", "Call-ID")
    ]
    assert cancel.headers.get("CSeq") == "314159 CANCEL"
    assert cancel.headers.get_all("Route") == ["<sip:p1.example;lr>"]
    assert "Require" not in cancel.headers and cancel.body == b""  # §9.1: no Require
    with pytest.raises(LocalProtocolError):
        build_cancel(cancel)


@pytest.mark.parametrize("missing", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_build_needs_headers(missing: str) -> None:
    request = invite()
    request.headers.remove(missing)
    with pytest.raises(LocalProtocolError):
        build_cancel(request)


def test_server_key_needs_headers(kit: Any) -> None:
    request = kit.make_request("OPTIONS", branch="old")
    request.headers.set("To", "<<<")
    with pytest.raises(RemoteProtocolError):
        server_key(request)
    request = kit.make_request("OPTIONS")
    request.headers.set("CSeq", "x")
    with pytest.raises(RemoteProtocolError):
        server_key(request)


def test_build_ack_needs_cseq() -> None:
    request = invite()
    response = make_response(request, 486)
    request.headers.remove("CSeq")
    with pytest.raises(LocalProtocolError):
        build_ack(request, response)
