"""The one HOST:PORT parser (RFC 3261 §25.1 hostport, RFC 5118 IPv6 forms)."""

from __future__ import annotations

import ipaddress
import os
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.transport.hostport import (
    TRANSPORTS,
    HostPortError,
    format_host_port,
    parse_host_port,
    parse_transport_address,
)

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1000"))
RFC5118 = Path(__file__).resolve().parents[1] / "vectors" / "rfc5118"
DEFAULTS = {"udp": 5060, "tcp": 5060, "tls": 5061}


# -- RFC 3261 §25.1: hostport = host [ ":" port ] ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # hostname = *( domainlabel "." ) toplabel [ "." ]
        ("atlanta.com", ("atlanta.com", 5060)),
        ("biloxi.com:5061", ("biloxi.com", 5061)),
        ("pc33.atlanta.com.", ("pc33.atlanta.com.", 5060)),
        ("localhost:0", ("localhost", 0)),
        ("x", ("x", 5060)),
        ("a-1.b2.Example", ("a-1.b2.Example", 5060)),
        ("1and1.example:7", ("1and1.example", 7)),  # a domainlabel may start with a digit
        # IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
        ("192.0.2.4", ("192.0.2.4", 5060)),
        ("192.0.2.4:65535", ("192.0.2.4", 65535)),
        ("0.0.0.0:1", ("0.0.0.0", 1)),
        # IPv6reference = "[" IPv6address "]": returned without the brackets
        ("[2001:db8::10]", ("2001:db8::10", 5060)),
        ("[2001:db8::10]:5070", ("2001:db8::10", 5070)),
        ("[::1]:0", ("::1", 0)),
        ("[::ffff:192.0.2.10]:19823", ("::ffff:192.0.2.10", 19823)),
        ("[2001:DB8:0:0:0:0:0:1]", ("2001:DB8:0:0:0:0:0:1", 5060)),
        # port = 1*DIGIT: leading zeros are digits too
        ("h.example:05060", ("h.example", 5060)),
        ("h.example:" + "0" * 5000 + "7", ("h.example", 7)),
    ],
)
def test_rfc3261_hostport_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text, default_port=5060, allow_zero_port=True) == expected


def _rfc5118_hostports() -> list[tuple[str, str]]:
    """(file, hostport) for every Via sent-by and Request-URI host in the
    RFC 5118 torture messages (the RFC authors' text, not ours)."""
    found: list[tuple[str, str]] = []
    for path in sorted(RFC5118.glob("*.dat")):
        text = path.read_text("ascii")
        uri = re.match(r"[A-Z]+ sips?:(?:[^@ ]*@)?(\S+) SIP/2\.0", text)
        assert uri is not None, path.name
        found.append((path.stem, uri.group(1)))
        found += [(path.stem, m) for m in re.findall(r"^Via: SIP/2\.0/UDP ([^;\s]+)", text, re.M)]
    return found


# RFC 5118 §4.2 and §4.10: unbracketed IPv6 and a third colon are not hostports.
RFC5118_BAD = {("ipv6-bad", "2001:db8::10"), ("ipv6-bug-abnf-3-colons", "[2001:db8:::192.0.2.1]")}


@pytest.mark.parametrize(("name", "hostport"), _rfc5118_hostports())
def test_rfc5118_hostports(name: str, hostport: str) -> None:
    if (name, hostport) in RFC5118_BAD:
        with pytest.raises(HostPortError):
            parse_host_port(hostport, default_port=5060)
        return
    host, port = parse_host_port(hostport, default_port=5060)
    assert "[" not in host and format_host_port(host, port).startswith(hostport)


def test_rfc5118_port_ambiguity() -> None:
    # §4.3: inside the brackets the ":5070" is part of the address.
    assert parse_host_port("[2001:db8::10:5070]", default_port=5060) == ("2001:db8::10:5070", 5060)
    assert parse_host_port("[2001:db8::10]:5070") == ("2001:db8::10", 5070)
    # Unbracketed, the same text would silently mean another address: refused,
    # unless the caller takes a bare address with no port (the hosts map).
    with pytest.raises(HostPortError, match="brackets"):
        parse_host_port("2001:db8::10:5070", default_port=0)
    assert parse_host_port("2001:db8::10:5070", default_port=0, bare_ipv6=True) == (
        "2001:db8::10:5070",
        0,
    )


# -- refused, each with its reason ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty address"),
        (":5060", "empty host"),
        ("h.example:", "empty port after ':'"),
        ("h.example", "missing port"),
        ("[::1]", "missing port"),
        ("h.example:sip", "port 'sip' is not a number"),
        ("h.example:¹", "port '¹' is not a number"),  # str.isdigit() says True
        ("h.example:٥٠٦٠", "is not a number"),  # Arabic-Indic 5060
        ("h.example:+5", "is not a number"),
        ("h.example: 5", "is not a number"),
        ("h.example:0", "port 0 is out of range 1-65535"),
        ("h.example:65536", "port 65536 is out of range 1-65535"),
        ("h.example:" + "9" * 5000, "is out of range 1-65535"),
        ("[::1", "'[' without its ']'"),
        ("[::1]5060", "'5060' after ']'"),
        ("[]:5060", "[] is not an IPv6 address"),
        ("[192.0.2.1]:5060", "is not an IPv6 address"),
        ("[2001:db8:::1]:5060", "is not an IPv6 address"),
        ("[fe80::1%eth0]:5060", "zone index"),
        ("::1:5060", "IPv6 goes in brackets"),
        ("1:2:3", "more than one ':'"),
        ("h.example:5060:5061", "more than one ':'"),
        ("256.0.0.1:5060", "'256.0.0.1' is not an IPv4 address"),
        ("01.2.3.4:5060", "is not an IPv4 address"),
        ("1.2.3:5060", "is not an IPv4 address"),
        ("a_b.example:5060", "is not a host name"),
        ("-a.example:5060", "is not a host name"),
        ("a-.example:5060", "is not a host name"),
        ("a..example:5060", "is not a host name"),
        ("example.123:5060", "is not a host name"),  # toplabel starts with ALPHA
        (".:5060", "is not a host name"),
        ("host name:5060", "is not a host name"),
        ("bücher.example:5060", "is not ASCII"),
    ],
)
def test_bad_host_ports_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(HostPortError) as info:
        parse_host_port(text)
    assert reason in str(info.value) and info.value.reason in str(info.value)
    assert info.value.text == text and isinstance(info.value, ValueError)


def test_messages_are_short_for_long_input() -> None:
    with pytest.raises(HostPortError) as info:
        parse_host_port("x" * 10_000 + ":" + "1" * 10_000)
    assert len(str(info.value)) < 300


# -- TRANSPORT:HOST:PORT --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udp:127.0.0.1:5060", ("udp", "127.0.0.1", 5060)),
        ("TCP:proxy.example:5070", ("tcp", "proxy.example", 5070)),
        ("tls:[::1]", ("tls", "::1", 5061)),
        ("tls:biloxi.example", ("tls", "biloxi.example", 5061)),
        ("tcp:[2001:db8::1]:0", ("tcp", "2001:db8::1", 0)),
    ],
)
def test_transport_addresses(text: str, expected: tuple[str, str, int]) -> None:
    assert parse_transport_address(text, default_port=DEFAULTS, allow_zero_port=True) == expected


def test_transport_defaults() -> None:
    assert parse_transport_address("h.example", default_transport="udp", default_port=9) == (
        "udp",
        "h.example",
        9,
    )
    assert parse_transport_address("[::1]:7", default_transport="tcp") == ("tcp", "::1", 7)
    assert parse_transport_address("::1", default_transport="udp", default_port=1, bare_ipv6=True)[
        1:
    ] == ("::1", 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("sctp:1.2.3.4:5060", "unknown transport 'sctp' (udp, tcp or tls)"),
        ("ws:[::1]:80", "unknown transport 'ws'"),
        ("127.0.0.1:5060", "missing transport"),
        ("[::1]:5060", "missing transport"),
        ("fe80::1", "missing transport"),  # an address, not an unknown "fe80" transport
        ("udp:", "empty address"),
        ("udp:5060", "'5060' is not an IPv4 address"),
        ("tcp:h.example", "missing port"),
        ("tls:h.example:0", "out of range 1-65535"),
    ],
)
def test_bad_transport_addresses(text: str, reason: str) -> None:
    with pytest.raises(HostPortError) as info:
        parse_transport_address(text)
    assert reason in str(info.value)


# -- Hypothesis: any text parses or raises HostPortError; valid ones round-trip -------------------
TRIED = {"accepted": 0, "refused": 0, "round trips": 0}

# Text that looks like addresses often enough to reach every branch.
_ADDRESS_ALPHABET = string.ascii_letters[:8] + "0123456789.:[]-_%% tcpudlsx¹٥é"
address_like = st.text(alphabet=_ADDRESS_ALPHABET, max_size=30)
any_text = st.one_of(st.text(max_size=40), address_like)
label = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
top = st.from_regex(r"[A-Za-z](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
hostnames = st.builds(
    lambda labels, last, dot: ".".join([*labels, last]) + dot,
    st.lists(label, max_size=4),
    top,
    st.sampled_from(["", "."]),
)
hosts = st.one_of(
    hostnames,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
)


# Written addresses, some with a prefix, some cut or with a port out of range.
written = st.builds(
    lambda prefix, host, port, cut: (prefix + format_host_port(host, port))[:cut],
    st.sampled_from(["", "udp:", "TLS:", "tcp:", "sctp:"]),
    hosts,
    st.integers(0, 70000),
    st.integers(0, 60),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(any_text, written), st.sampled_from([None, 0, 5060]), st.booleans(), st.booleans())
def test_any_text_parses_or_raises_host_port_error(
    text: str, default: int | None, zero: bool, bare: bool
) -> None:
    for parse in (parse_host_port, _without_transport):
        try:
            host, port = parse(text, default_port=default, allow_zero_port=zero, bare_ipv6=bare)
        except HostPortError as exc:
            TRIED["refused"] += 1
            assert exc.reason and exc.text == text
            continue
        TRIED["accepted"] += 1
        assert host and host.isascii() and "[" not in host and "]" not in host
        # The caller's default is the caller's; a written port is checked.
        assert port == default or (0 if zero else 1) <= port <= 65535
        # What was accepted comes back the same once written out again.
        assert parse_host_port(format_host_port(host, port), allow_zero_port=True) == (host, port)


def _without_transport(text: str, **kwargs: object) -> tuple[str, int]:
    transport, host, port = parse_transport_address(text, default_transport="udp", **kwargs)  # type: ignore[arg-type]
    assert transport in TRANSPORTS
    return host, port


@settings(max_examples=EXAMPLES, deadline=None)
@given(hosts, st.integers(1, 65535), st.sampled_from(TRANSPORTS), st.booleans())
def test_valid_addresses_round_trip(host: str, port: int, transport: str, upper: bool) -> None:
    TRIED["round trips"] += 1
    text = format_host_port(host, port)
    assert parse_host_port(text) == (host, port)
    prefix = transport.upper() if upper else transport
    assert parse_transport_address(f"{prefix}:{text}") == (transport, host, port)
    if ":" in host:  # IPv6: what came back is the address written
        assert ipaddress.ip_address(host) == ipaddress.ip_address(text[1 : text.index("]")])


def test_hypothesis_reached_both_outcomes() -> None:
    # Runs after the two above in file order; alone, there is nothing to check.
    if not TRIED["accepted"] + TRIED["refused"]:
        pytest.skip("the fuzz tests did not run")
    print(TRIED)
    total = TRIED["accepted"] + TRIED["refused"]
    assert TRIED["accepted"] > total // 20 and TRIED["refused"] > total // 20, TRIED
