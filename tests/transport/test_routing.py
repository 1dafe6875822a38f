"""§18.2.1/RFC 3581 Via stamping, §18.2.2 response routing, and the
stateless answer to unparsable requests (pure functions)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import (
    Request,
    Response,
    SipParseError,
    make_response,
    parse_message,
    parse_via,
)
from sipsec.transaction import Peer
from sipsec.transport.routing import (
    MOVED_INVITE_LIFETIME,
    MOVED_LIFETIME,
    MovedRequests,
    SentBys,
    error_response,
    response_destination,
    same_ip,
    stamp_via,
    via_alias,
    via_host,
)

from ._e1_fakes import binary, check_answer

EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1000"))  # more by hand
SOURCE = ("192.0.2.7", 40000)


def request(via: str) -> Request:
    headers = [
        ("Via", via),
        ("To", "<sip:bob@biloxi.example>"),
        ("From", "<sip:alice@atlanta.example>;tag=1"),
        ("Call-ID", "c1"),
        ("CSeq", "1 OPTIONS"),
        ("Content-Length", "0"),
    ]
    return Request("OPTIONS", "sip:bob@biloxi.example", headers)


@pytest.mark.parametrize(
    ("via", "received", "rport"),
    [
        # §18.2.1: a name, or another IP → received
        ("SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK1", "192.0.2.7", None),
        ("SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK1", "192.0.2.7", None),
        # the source IP itself: nothing to add
        ("SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1", None, None),
        # RFC 3581 §4: rport filled, received added even when identical
        ("SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1;rport", "192.0.2.7", 40000),
        ("SIP/2.0/UDP pc33.atlanta.example;rport;branch=z9hG4bK1", "192.0.2.7", 40000),
    ],
)
def test_stamp_via(via: str, received: str | None, rport: int | None) -> None:
    message = request(via)
    stamp_via(message, SOURCE)
    top = message.top_via
    assert top is not None
    assert top.received == received
    assert (top.rport if rport is not None else None) == rport
    assert top.branch == "z9hG4bK1"
    reparsed = parse_message(bytes(message))
    assert reparsed.top_via is not None and reparsed.top_via.received == received


def test_stamp_only_the_top_via_of_a_combined_line() -> None:
    message = request(
        "SIP/2.0/UDP a.example;branch=z9hG4bK1, SIP/2.0/UDP b.example;branch=z9hG4bK2"
    )
    stamp_via(message, SOURCE)
    vias = message.vias
    assert [v.host for v in vias] == ["a.example", "b.example"]
    assert vias[0].received == "192.0.2.7" and vias[1].received is None


def test_ipv6_sent_by_matches_source() -> None:
    message = request("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1")
    stamp_via(message, ("::1", 5060))
    assert message.top_via is not None and message.top_via.received is None
    assert same_ip("[::1]", "::1") and not same_ip("host", "host")
    assert via_host("::1") == "[::1]" and via_host("1.2.3.4") == "1.2.3.4"


def test_stamp_needs_a_via() -> None:
    message = request("SIP/2.0/UDP a.example;branch=z9hG4bK1")
    message.headers.remove("Via")
    with pytest.raises(SipParseError):
        stamp_via(message, SOURCE)


def test_alias() -> None:
    assert via_alias(request("SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK1;alias")) == (
        "192.0.2.7",
        5070,
    )
    assert via_alias(request("SIP/2.0/TLS 192.0.2.7;branch=z9hG4bK1;alias")) == ("192.0.2.7", 5061)
    assert via_alias(request("SIP/2.0/TCP a.example;branch=z9hG4bK1;alias")) is None
    assert via_alias(request("SIP/2.0/TCP 192.0.2.7;branch=z9hG4bK1")) is None


def _response(via: str) -> Response:
    return make_response(request(via), 200)


@pytest.mark.parametrize(
    ("via", "peer", "expected"),
    [
        # rport filled: back to the source address and port (RFC 3581 §4)
        (
            "SIP/2.0/UDP a.example:5070;branch=z9hG4bK1;rport=40000;received=192.0.2.7",
            Peer("udp", "192.0.2.7", 40000),
            Peer("udp", "192.0.2.7", 40000),
        ),
        # no rport: received, port of the sent-by (§18.2.2)
        (
            "SIP/2.0/UDP a.example:5070;branch=z9hG4bK1;received=192.0.2.7",
            Peer("udp", "192.0.2.7", 40000),
            Peer("udp", "192.0.2.7", 5070),
        ),
        # no port: the default
        (
            "SIP/2.0/UDP a.example;branch=z9hG4bK1;received=192.0.2.7",
            Peer("udp", "192.0.2.7", 40000),
            Peer("udp", "192.0.2.7", 5060),
        ),
        # maddr wins for unreliable transports
        (
            "SIP/2.0/UDP a.example:5070;branch=z9hG4bK1;maddr=239.255.255.1;received=192.0.2.7",
            Peer("udp", "192.0.2.7", 40000),
            Peer("udp", "239.255.255.1", 5070),
        ),
        # the sent-by is the source IP: no received, sent-by port
        (
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1",
            Peer("udp", "192.0.2.7", 40000),
            Peer("udp", "192.0.2.7", 5080),
        ),
        # a name and no received: the source (RFC 3263 §5 would be needed)
        (
            "SIP/2.0/UDP a.example:5080;branch=z9hG4bK1",
            Peer("udp", "192.0.2.7", 40000),
            Peer("udp", "192.0.2.7", 40000),
        ),
        # reliable, connection gone: received, sent-by port, TLS default 5061
        (
            "SIP/2.0/TLS a.example;branch=z9hG4bK1;received=192.0.2.7",
            Peer("tls", "192.0.2.7", 40000, "atlanta.example", 9),
            Peer("tls", "192.0.2.7", 5061, "atlanta.example"),
        ),
    ],
)
def test_response_destination(via: str, peer: Peer, expected: Peer) -> None:
    assert response_destination(_response(via), peer) == expected


INVITE = (
    b"INVITE sip:bob@biloxi.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK776asdhds;rport\r\n"
    b"v: SIP/2.0/UDP proxy.example;branch=z9hG4bKabc\r\n"
    b"Max-Forwards: 70\r\n"
    b"t: Bob <sip:bob@biloxi.example>\r\n"
    b"From: Alice <sip:alice@atlanta.example>;tag=1928301774\r\n"
    b"i: a84b4c76e66710@pc33.atlanta.example\r\n"
    b"CSeq: 314159\r\n INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_error_response_copies_the_headers() -> None:
    answer = error_response(INVITE, SipParseError("bad", 400), SOURCE)
    assert answer is not None
    response = parse_message(answer)
    assert isinstance(response, Response) and response.status == 400
    assert [v.host for v in response.vias] == ["pc33.atlanta.example", "proxy.example"]
    assert response.top_via is not None and response.top_via.rport == 40000
    assert response.call_id == "a84b4c76e66710@pc33.atlanta.example"
    assert response.cseq is not None and response.cseq.seq == 314159  # folded line
    assert response.to is not None and response.to.tag


def test_error_response_keeps_a_status_it_knows() -> None:
    answer = error_response(INVITE, SipParseError("version", 505), SOURCE)
    assert answer is not None and answer.startswith(b"SIP/2.0 505 ")
    answer = error_response(INVITE, SipParseError("weird", 299), SOURCE)
    assert answer is not None and answer.startswith(b"SIP/2.0 400 ")


@pytest.mark.parametrize(
    "data",
    [
        INVITE.replace(b"INVITE sip", b"ACK sip", 1),
        INVITE.replace(b"i: a84b", b"X: a84b"),
        INVITE.replace(b"t: Bob", b"To: <sip:x@y>\r\nt: Bob"),  # two To
        b"SIP/2.0 200 OK\r\n\r\n",
        INVITE.replace(b"Via: SIP/2.0/UDP pc33", b"Via: garbage pc33").replace(b"v: ", b"X: "),
        b"\xff\xfe" + INVITE,
        b"",
    ],
)
def test_error_response_refuses(data: bytes) -> None:
    assert error_response(data, SipParseError("bad"), SOURCE) is None


@settings(max_examples=EXAMPLES)
@given(binary(max_size=400), st.integers(0, len(INVITE)), st.sampled_from([400, 413, 505, 513]))
def test_error_response_fuzz(junk: bytes, cut: int, status: int) -> None:
    for data in (junk, INVITE[:cut] + junk + INVITE[cut:]):
        answer = error_response(data, SipParseError("x", status), SOURCE)
        if answer is not None:
            check_answer(answer)


# -- MovedRequests: §17.1.1.3 / §9.1 memory of requests moved to TCP ---------------------------
def _moved_request(method: str, branch: str) -> Request:
    return Request(
        method,
        "sip:bob@biloxi.example",
        [("Via", f"SIP/2.0/TCP 127.0.0.1:5070;branch={branch}"), ("CSeq", f"1 {method}")],
    )


def test_moved_requests_follow_expire_and_stay_bounded() -> None:
    udp = Peer("udp", "192.0.2.1", 5060)
    hop = Peer("tcp", "192.0.2.1", 5060, None, 7)
    moved = MovedRequests(capacity=3)
    moved.remember(_moved_request("MESSAGE", "z9hG4bK1"), udp, hop, now=0.0)
    moved.remember(_moved_request("INVITE", "z9hG4bK2"), udp, hop, now=0.0)
    ack = _moved_request("ACK", "z9hG4bK2")
    followed = moved.follow(ack, udp, now=MOVED_LIFETIME + 1)
    assert followed is not None and followed[0] == hop and followed[1].branch == "z9hG4bK2"
    assert moved.follow(ack, Peer("udp", "192.0.2.2", 5060), now=1.0) is None  # other address
    assert moved.follow(_moved_request("ACK", "z9hG4bK9"), udp, now=1.0) is None
    # non-INVITE: 64*T1; an INVITE waits for Timer C too, and a response refreshes it.
    assert moved.follow(_moved_request("ACK", "z9hG4bK1"), udp, now=MOVED_LIFETIME + 1) is None
    assert moved.follow(ack, udp, now=MOVED_INVITE_LIFETIME + 1) is None
    moved.remember(_moved_request("INVITE", "z9hG4bK3"), udp, hop, now=0.0)
    moved.refresh("z9hG4bK3", now=MOVED_INVITE_LIFETIME)
    assert moved.follow(_moved_request("ACK", "z9hG4bK3"), udp, MOVED_INVITE_LIFETIME + 1)
    for n in range(10, 20):
        moved.remember(_moved_request("INVITE", f"z9hG4bK{n}"), udp, hop, now=1.0)
    assert len(moved) == 3  # the oldest forgotten
    assert moved.follow(_moved_request("ACK", "z9hG4bK19"), udp, now=2.0) is not None
    assert moved.follow(_moved_request("ACK", "z9hG4bK16"), udp, now=2.0) is None
    moved.expire(MOVED_INVITE_LIFETIME + 2)
    assert len(moved) == 0


# -- SentBys: §18.1.2 -----------------------------------------------------------------------------
def test_sent_bys_normalise_and_fail_open_when_full() -> None:
    sent = SentBys(capacity=2)
    assert not sent.ours(parse_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa")[0])
    sent.add(parse_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa")[0])  # no port: 5060
    sent.add(parse_via("SIP/2.0/TLS [2001:DB8::1];branch=z9hG4bKb")[0])  # TLS: 5061
    for ours in (
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc;received=198.51.100.1",
        "SIP/2.0/TLS [2001:db8:0::1]:5061;branch=z9hG4bKd",
    ):
        assert sent.ours(parse_via(ours)[0]), ours
    for other in (
        "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKe",
        "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKf",
        "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKg",  # TCP's default is 5060
    ):
        assert not sent.ours(parse_via(other)[0]), other
    sent.add(parse_via("SIP/2.0/UDP host.example:5999;branch=z9hG4bKh")[0])  # the third: full
    assert sent.overflowed and len(sent) == 0
    assert sent.ours(parse_via("SIP/2.0/UDP 203.0.113.9:1;branch=z9hG4bKi")[0])
