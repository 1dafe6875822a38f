"""§16.4 route processing, RFC 5658 Record-Route, our Via."""

from __future__ import annotations

from sipsec.proxy.routing import (
    LocalAddresses,
    next_hop,
    pop_own_routes,
    reaches_over_tls,
    record_route_values,
    via_value,
)
from sipsec.sip import parse_uri

from ._e3_harness import request

LOCAL = LocalAddresses("atlanta.example", {"udp": ("192.0.2.1", 5060), "tls": ("192.0.2.1", 5061)})


def test_what_is_ours() -> None:
    assert LOCAL.is_ours(parse_uri("sip:192.0.2.1:5060;lr"))
    assert LOCAL.is_ours(parse_uri("sip:192.0.2.1;lr"))  # default port
    assert LOCAL.is_ours(parse_uri("sips:192.0.2.1:5061;lr"))
    assert LOCAL.is_ours(parse_uri("sip:atlanta.example;lr"))
    assert not LOCAL.is_ours(parse_uri("sip:192.0.2.1:5070"))
    assert not LOCAL.is_ours(parse_uri("sip:bob@biloxi.example"))
    assert LOCAL.is_our_domain(parse_uri("sip:bob@atlanta.example"))
    assert LOCAL.is_our_domain(parse_uri("sip:bob@192.0.2.1"))
    assert not LOCAL.is_our_domain(parse_uri("sip:atlanta.example"))


def test_loose_route_popped_and_next_hop_is_the_next_route() -> None:
    req = request(
        "BYE", "sip:bob@192.0.2.20:5080",
        extra=[("Route", "<sip:192.0.2.1:5061;transport=tls;lr>, <sip:192.0.2.1:5060;lr>"),
               ("Route", "<sip:192.0.2.30:5060;lr>")],
    )  # fmt: skip
    assert pop_own_routes(req, LOCAL)
    assert req.headers.get_all("route") == ["<sip:192.0.2.30:5060;lr>"]
    assert str(next_hop(req)) == "sip:192.0.2.30:5060;lr"


def test_strict_router_rewrite_is_undone() -> None:
    req = request(
        "BYE", "sip:192.0.2.1:5060;lr",
        extra=[("Route", "<sip:192.0.2.30;lr>"), ("Route", "<sip:bob@192.0.2.20:5080>")],
    )  # fmt: skip
    pop_own_routes(req, LOCAL)
    assert str(req.uri) == "sip:bob@192.0.2.20:5080"
    assert req.headers.get_all("route") == ["<sip:192.0.2.30;lr>"]


def test_not_ours_is_left_alone() -> None:
    req = request("INVITE", "sip:bob@biloxi.example", extra=[("Route", "<sip:192.0.2.30;lr>")])
    assert not pop_own_routes(req, LOCAL)
    assert str(next_hop(req)) == "sip:192.0.2.30;lr"


def test_record_route_single_double_and_sips() -> None:
    assert record_route_values(LOCAL, "udp", "udp", False) == ["<sip:192.0.2.1:5060;lr>"]
    assert record_route_values(LOCAL, "udp", "tls", False) == [
        "<sip:192.0.2.1:5061;transport=tls;lr>",
        "<sip:192.0.2.1:5060;lr>",
    ]
    assert record_route_values(LOCAL, "tls", "tls", True) == ["<sips:192.0.2.1:5061;lr>"]


def test_via_and_tls_reachability() -> None:
    assert via_value(LOCAL, "tls", "z9hG4bKk.0") == (
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKk.0;rport"
    )
    assert reaches_over_tls(parse_uri("sips:bob@192.0.2.20"))
    assert reaches_over_tls(parse_uri("sip:bob@192.0.2.20;transport=tls"))
    assert not reaches_over_tls(parse_uri("sip:bob@192.0.2.20"))


def test_ipv6_addresses_are_bracketed_everywhere() -> None:
    local = LocalAddresses("atlanta.example", {"udp": ("::1", 5060)})
    assert local.sent_by == frozenset({"[::1]:5060"})
    assert local.is_ours(parse_uri("sip:[::1]:5060;lr"))
    assert via_value(local, "udp", "z9hG4bKx.0").startswith("SIP/2.0/UDP [::1]:5060;")
    assert record_route_values(local, "udp", "udp", False) == ["<sip:[::1]:5060;lr>"]
