"""Next hops, Via and Contact (RFC 3263 §4.1–4.2, RFC 3581, §8.1.1.7–8)."""

from __future__ import annotations

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.sip import parse_uri, parse_via
from sipsec.transaction import Peer
from sipsec.ua.addressing import contact_uri, is_ip_literal, static_peer, transport_of, via_value


@pytest.mark.parametrize(
    ("uri", "peer"),
    [
        ("sip:bob@192.0.2.4", Peer("udp", "192.0.2.4", 5060)),
        ("sip:bob@192.0.2.4:5070;transport=tcp", Peer("tcp", "192.0.2.4", 5070)),
        ("sip:bob@192.0.2.4;transport=TLS", Peer("tls", "192.0.2.4", 5061)),
        ("sips:bob@192.0.2.4", Peer("tls", "192.0.2.4", 5061)),
        ("sips:bob@192.0.2.4;transport=tcp", Peer("tls", "192.0.2.4", 5061)),
        ("sip:bob@[2001:db8::1]:5080", Peer("udp", "2001:db8::1", 5080)),
        ("sip:bob@biloxi.example;maddr=192.0.2.9", Peer("udp", "192.0.2.9", 5060)),
        ("sip:bob@192.0.2.4;transport=sctp", Peer("udp", "192.0.2.4", 5060)),
        ("sip:bob@biloxi.example", None),
        ("sips:biloxi.example:5061", None),
    ],
)
def test_static_peer(uri: str, peer: Peer | None) -> None:
    assert static_peer(parse_uri(uri)) == peer


def test_tel_uri_has_no_hop() -> None:
    with pytest.raises(LocalProtocolError):
        static_peer(parse_uri("tel:+15551234"))


def test_transport_and_literals() -> None:
    uri = parse_uri("sip:x@h;transport=tcp")
    assert transport_of(uri) == "tcp"  # type: ignore[arg-type]
    assert is_ip_literal("[::1]") and is_ip_literal("10.0.0.1") and not is_ip_literal("h.example")


def test_via_has_rport_and_branch() -> None:
    [via] = parse_via(via_value("udp", ("2001:db8::5", 5062), "z9hG4bKabc"))
    assert via.transport == "UDP" and via.host == "[2001:db8::5]" and via.port == 5062
    assert via.rport is True and via.branch == "z9hG4bKabc"


def test_contact_uris() -> None:
    assert contact_uri("alice", "udp", ("192.0.2.1", 5060), secure=False) == (
        "sip:alice@192.0.2.1:5060;transport=udp"
    )
    assert contact_uri("alice", "tls", ("192.0.2.1", 5061), secure=True) == (
        "sips:alice@192.0.2.1:5061"
    )
    assert contact_uri("a b", "tcp", ("::1", 5060), secure=False) == (
        "sip:a%20b@[::1]:5060;transport=tcp"
    )
    with pytest.raises(LocalProtocolError):
        contact_uri("alice", "udp", ("192.0.2.1", 5060), secure=True)
