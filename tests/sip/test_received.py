"""sipsec.sip.received: the §18.2.1 / RFC 3581 stamp, shared by the transport
and the proxy's relay (tests/transport/test_routing.py covers the forms)."""

from __future__ import annotations

import pytest

from sipsec.sip import Request, SipParseError, parse_message
from sipsec.sip.received import parse_ip, same_ip, stamp_via


def _request(via: str) -> Request:
    message = parse_message(
        (
            "OPTIONS sip:bob@biloxi.example SIP/2.0\r\n"
            f"Via: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:a@atlanta.example>;tag=1\r\n"
            "To: <sip:bob@biloxi.example>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    assert isinstance(message, Request)
    return message


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("192.0.2.1", "192.0.2.1", True),
        ("[::1]", "::1", True),
        ("::1", "0:0:0:0:0:0:0:1", True),
        ("192.0.2.1", "192.0.2.2", False),
        ("atlanta.example", "atlanta.example", False),  # names are not addresses
        ("192.0.2.1", "", False),
    ],
)
def test_same_ip(a: str, b: str, same: bool) -> None:
    assert same_ip(a, b) is same


def test_parse_ip_ignores_brackets_and_zone() -> None:
    assert str(parse_ip("[fe80::1%eth0]")) == "fe80::1"
    assert parse_ip("pc33.atlanta.example") is None


def test_stamp_via_writes_received_and_rport() -> None:
    request = _request("SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK776;rport")
    stamp_via(request, ("192.0.2.4", 5071))
    via = request.top_via
    assert via is not None and via.received == "192.0.2.4" and via.rport == 5071
    assert via.branch == "z9hG4bK776"


def test_stamp_via_leaves_a_matching_via_alone() -> None:
    request = _request("SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776")
    before = bytes(request)
    stamp_via(request, ("192.0.2.4", 5060))
    assert bytes(request) == before


def test_transport_and_relay_share_one_stamp() -> None:
    from sipsec.transport import routing

    assert routing.stamp_via is stamp_via and routing.same_ip is same_ip


def test_request_without_via_is_refused() -> None:
    request = _request("SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776")
    request.headers.pop_first("Via")
    with pytest.raises(SipParseError):
        stamp_via(request, ("192.0.2.4", 5060))
