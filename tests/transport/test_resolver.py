"""RFC 3263 §4 server location against a local authoritative DNS server."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import SipUri, parse_uri
from sipsec.transaction import Peer
from sipsec.transport.resolver import HostsEntryError, Resolver, parse_hosts_entry

from ._e1_dns import DnsServer, Zone

EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1000"))  # more by hand

ZONE: Zone = {
    # NAPTR: TLS preferred, then TCP, then UDP (RFC 3263 §4.1 example shape)
    ("atlanta.example", "NAPTR"): [
        '10 50 "s" "SIPS+D2T" "" _sips._tcp.atlanta.example.',
        '20 50 "s" "SIP+D2T" "" _sip._tcp.atlanta.example.',
        '30 50 "s" "SIP+D2U" "" _sip._udp.atlanta.example.',
        '5 50 "s" "SIP+D2S" "" _sip._sctp.atlanta.example.',  # unsupported: skipped
    ],
    ("_sips._tcp.atlanta.example", "SRV"): ["0 0 5061 proxy.atlanta.example."],
    ("_sip._tcp.atlanta.example", "SRV"): ["0 0 5060 proxy.atlanta.example."],
    ("_sip._udp.atlanta.example", "SRV"): ["0 0 5060 proxy.atlanta.example."],
    ("proxy.atlanta.example", "A"): ["192.0.2.10"],
    ("proxy.atlanta.example", "AAAA"): ["2001:db8::10"],
    # no NAPTR: SRV per transport; priorities
    ("_sip._udp.biloxi.example", "SRV"): [
        "20 0 5070 backup.biloxi.example.",
        "10 0 5060 server.biloxi.example.",
    ],
    ("_sip._tcp.biloxi.example", "SRV"): ["10 0 5060 server.biloxi.example."],
    ("server.biloxi.example", "A"): ["192.0.2.20"],
    ("backup.biloxi.example", "A"): ["192.0.2.21"],
    ("biloxi.example", "A"): ["192.0.2.99"],
    # neither NAPTR nor SRV: A records on the default port
    ("plain.example", "A"): ["192.0.2.30"],
}


def uri(text: str) -> SipUri:
    parsed = parse_uri(text)
    assert isinstance(parsed, SipUri)
    return parsed


async def _resolve(text: str, **options: object) -> tuple[list[Peer], list[tuple[str, str]]]:
    async with DnsServer(ZONE) as server:
        resolver = Resolver(nameservers=[server.address], rng=random.Random(1), **options)  # type: ignore[arg-type]
        peers = await resolver.resolve(uri(text))
        return peers, list(server.queries)


async def test_naptr_order_then_srv_then_addresses() -> None:
    peers, queries = await _resolve("sip:alice@atlanta.example")
    assert queries[0] == ("atlanta.example", "NAPTR")
    assert [p.transport for p in peers] == ["tls", "tls", "tcp", "tcp", "udp", "udp"]
    assert peers[0] == Peer("tls", "192.0.2.10", 5061, "atlanta.example")
    assert peers[1] == Peer("tls", "2001:db8::10", 5061, "atlanta.example")
    assert all(p.server_name == "atlanta.example" for p in peers)


async def test_sips_only_ever_tls() -> None:
    peers, _ = await _resolve("sips:alice@atlanta.example")
    assert {p.transport for p in peers} == {"tls"}
    peers, _ = await _resolve("sips:bob@biloxi.example")  # no _sips._tcp SRV: A, port 5061
    assert peers == [Peer("tls", "192.0.2.99", 5061, "biloxi.example")]


async def test_srv_without_naptr_by_priority() -> None:
    peers, queries = await _resolve("sip:bob@biloxi.example")
    assert ("_sip._udp.biloxi.example", "SRV") in queries
    assert peers[:2] == [
        Peer("udp", "192.0.2.20", 5060, "biloxi.example"),
        Peer("udp", "192.0.2.21", 5070, "biloxi.example"),
    ]
    assert peers[2] == Peer("tcp", "192.0.2.20", 5060, "biloxi.example")


async def test_no_srv_falls_back_to_a_on_default_port() -> None:
    peers, _ = await _resolve("sip:carol@plain.example")
    assert peers == [Peer("udp", "192.0.2.30", 5060, "plain.example")]


async def test_explicit_port_means_no_srv() -> None:
    peers, queries = await _resolve("sip:bob@biloxi.example:5080")
    assert peers == [Peer("udp", "192.0.2.99", 5080, "biloxi.example")]
    assert not any(q[1] in ("SRV", "NAPTR") for q in queries)


async def test_explicit_transport_skips_naptr() -> None:
    peers, queries = await _resolve("sip:bob@biloxi.example;transport=tcp")
    assert peers == [Peer("tcp", "192.0.2.20", 5060, "biloxi.example")]
    assert ("biloxi.example", "NAPTR") not in queries


async def test_maddr_is_the_target() -> None:
    peers, _ = await _resolve("sip:bob@biloxi.example;maddr=plain.example")
    assert peers == [Peer("udp", "192.0.2.30", 5060, "plain.example")]


async def test_unknown_name_is_empty() -> None:
    peers, _ = await _resolve("sip:nobody@nowhere.example")
    assert peers == []


async def test_dns_off_gives_nothing_for_names() -> None:
    resolver = Resolver(use_dns=False)
    assert await resolver.resolve(uri("sip:bob@biloxi.example")) == []


# -- static -----------------------------------------------------------------------------------
def test_ip_literals() -> None:
    r = Resolver(use_dns=False)
    assert r.resolve_static(uri("sip:bob@192.0.2.1")) == [Peer("udp", "192.0.2.1", 5060)]
    assert r.resolve_static(uri("sips:bob@192.0.2.1")) == [Peer("tls", "192.0.2.1", 5061)]
    assert r.resolve_static(uri("sip:bob@[2001:db8::1]:5070;transport=tcp")) == [
        Peer("tcp", "2001:db8::1", 5070)
    ]
    assert r.resolve_static(uri("sips:bob@192.0.2.1;transport=tcp")) == [
        Peer("tls", "192.0.2.1", 5061)
    ]
    assert r.resolve_static(uri("sips:bob@192.0.2.1;transport=udp")) == []  # no SIPS over UDP
    assert r.resolve_static(uri("sip:bob@biloxi.example")) is None


def test_hosts_map() -> None:
    name, peer = parse_hosts_entry("biloxi.example=tls:127.0.0.1:5061")
    r = Resolver({name: [peer, Peer("udp", "127.0.0.1", 5060)]}, use_dns=False)
    assert r.resolve_static(uri("sip:bob@biloxi.example")) == [
        Peer("tls", "127.0.0.1", 5061, "biloxi.example"),
        Peer("udp", "127.0.0.1", 5060, "biloxi.example"),
    ]
    assert r.resolve_static(uri("sips:bob@BILOXI.example")) == [
        Peer("tls", "127.0.0.1", 5061, "biloxi.example")
    ]
    assert r.resolve_static(uri("sip:bob@biloxi.example;transport=tcp")) == [
        Peer("tcp", "127.0.0.1", 5060, "biloxi.example")
    ]
    assert r.resolve_static(uri("sip:bob@biloxi.example:7000;transport=udp")) == [
        Peer("udp", "127.0.0.1", 7000, "biloxi.example")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("biloxi.example=tls:127.0.0.1:5061", Peer("tls", "127.0.0.1", 5061, "biloxi.example")),
        ("Biloxi.Example.=127.0.0.1", Peer("udp", "127.0.0.1", 5060, "biloxi.example")),
        ("b.example=tcp:[::1]:5070", Peer("tcp", "::1", 5070, "b.example")),
        ("b.example=tls:[::1]", Peer("tls", "::1", 5061, "b.example")),
        ("b.example=::1", Peer("udp", "::1", 5060, "b.example")),
        ("b.example=TLS:[2001:db8::1]:5063", Peer("tls", "2001:db8::1", 5063, "b.example")),
        (" b.example = tcp:192.0.2.1:05070 ", Peer("tcp", "192.0.2.1", 5070, "b.example")),
    ],
)
def test_parse_hosts_entry(text: str, expected: Peer) -> None:
    assert parse_hosts_entry(text)[1] == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is not name=[transport:]ip[:port]"),
        ("biloxi.example", "is not name=[transport:]ip[:port]"),
        ("=127.0.0.1", "is not name=[transport:]ip[:port]"),
        ("127.0.0.1=127.0.0.1", "is not name=[transport:]ip[:port]"),
        ("b.example=host.example", "'host.example' is not an IP address"),
        ("b.example=1.2.3.4:99999", "port 99999 is out of range 1-65535"),
        ("b.example=1.2.3.4:0", "port 0 is out of range 1-65535"),
        ("b.example=1.2.3.4:", "empty port"),
        ("b.example=[::1", "'[' without its ']'"),
        ("b.example=[::1]:", "empty port"),
        ("b.example=tls:1.2.3.4:x", "port 'x' is not a number"),
        ("b.example=tls:1.2.3.4:٥٠٦١", "is not a number"),
        ("b.example=sctp:1.2.3.4:5060", "unknown transport 'sctp'"),
        ("b.example=tls:", "empty address"),
        ("b.example=1.2.3.4.5", "is not an IPv4 address"),
    ],
)
def test_bad_hosts_entries(text: str, reason: str) -> None:
    with pytest.raises(HostsEntryError) as info:
        parse_hosts_entry(text)
    assert reason in str(info.value) and str(info.value).startswith("hosts entry ")


@settings(max_examples=EXAMPLES)
@given(st.text(max_size=60))
def test_hosts_entry_fuzz(text: str) -> None:
    try:
        name, peer = parse_hosts_entry(text)
    except HostsEntryError:
        return
    assert name and 0 < peer.port < 65536 and peer.server_name == name
