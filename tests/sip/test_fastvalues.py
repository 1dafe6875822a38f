"""The fast path's value builders against the full parser's, value by value:
wherever :mod:`sipsec.sip.fastvalues` builds a name-addr, a Via or a
status line, the general parsers build an equal one; wherever they refuse,
it has refused (raised Unusual). The message-level comparison is
test_fastpath.py; this one reaches shapes a whole message rarely carries
(every display-name form, ports at the 65535 edge, one and several
parameters, the request line's port pattern).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.sip import (
    SipParseError,
    SipUri,
    parse_message,
    parse_name_address,
    parse_uri,
    parse_via,
)
from sipsec.sip.fastvalues import (
    NUMBERS,
    REQUEST_LINE,
    Unusual,
    contacts,
    name_address,
    status_line,
    via,
    vias,
)

from ._messages import name_addrs
from ._messages import vias as via_values

SCALE = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1"))
SEEN = {"built": 0, "refused": 0}


def _uri(uri: Any) -> tuple[Any, ...]:
    assert isinstance(uri, SipUri)
    return (str(uri), uri.scheme, uri.user, uri.password, uri.host, uri.port)


def _na(value: Any) -> tuple[Any, ...]:
    return (str(value), value.display_name, value.params, _uri(value.uri), value.uri.params)


def _via(value: Any) -> tuple[Any, ...]:
    fields = (value.protocol, value.version, value.transport, value.host, value.port)
    return (str(value), *fields, value.params)


def same_name_address(text: str) -> None:
    try:
        fast = name_address(text)
    except Unusual:
        SEEN["refused"] += 1
        return
    SEEN["built"] += 1
    assert _na(fast) == _na(parse_name_address(text))
    assert fast.uri.headers == {} and fast.uri == parse_uri(str(fast.uri))


def same_via(text: str) -> None:
    try:
        fast = via(text)
    except Unusual:
        SEEN["refused"] += 1
        return
    SEEN["built"] += 1
    full = parse_via(text)
    assert len(full) == 1 and _via(fast) == _via(full[0])


EDGES = [
    "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl",
    "Bob <sip:bob@biloxi.example.com>",
    "<sip:alice@client.atlanta.example.com;transport=tcp>",
    "A  B <sip:a@b>",  # inner SP kept, as the full parser keeps it
    "A<sip:a@b>",  # no SP before "<" (RFC 4475 §3.1.1.6)
    '"" <sips:a@b:5061;lr;transport=tls>;expires=30;q=0.5',
    '"Q, R" <sip:x@h.example:65535>',
    "<sip:x@h.example:65536>",
    "<sip:x@h.example:0>",
    "<sip:h.example;lr>;tag=a:b",
    "<sip:h.example;a=b;c>;x=[::1];tag=t",
    " <sip:a@b>",  # leading LWS: not the fast path's
    "A  <sip:a@b>",  # two SP before "<"
    "<sip:a@b> ",
    "<sip:%41@b>",
]


@pytest.mark.parametrize("text", EDGES)
def test_name_address_edges(text: str) -> None:
    same_name_address(text)


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9",
        "SIP/2.0/udp h;branch=z9hG4bK1;received=192.0.2.1",
        "SIP/2.0/UDP h;branch=z9hG4bK1 ;received=[2001:db8::1]",
        "SIP/2.0/Tls [2001:db8::1]:65535;rport;branch=z9hG4bKx",
        "SIP/2.0/UDP h:65536;branch=z9hG4bK1",
        "SIP/2.0/UDP h-;branch=z9hG4bK1",
        "SIP/2.0/UDP h",
        "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b",
    ],
)
def test_via_edges(text: str) -> None:
    same_via(text)


def test_several_values_on_one_line() -> None:
    line = "SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/TCP b:5061;branch=z9hG4bK2"
    assert [_via(v) for v in vias(line)] == [_via(v) for v in parse_via(line)]
    with pytest.raises(Unusual):
        vias("SIP/2.0/UDP a;branch=z9hG4bK1")  # one value: VIA's, not this one's
    line = "<sip:a@b>;expires=60, Bob <sip:b@c>"
    assert [_na(c) for c in contacts(line)] == [
        _na(parse_name_address("<sip:a@b>;expires=60")),
        _na(parse_name_address("Bob <sip:b@c>")),
    ]


@pytest.mark.parametrize("port", ["0", "9", "5060", "10000", "59999", "65529", "65535"])
def test_request_line_ports_the_fast_path_takes(port: str) -> None:
    m = REQUEST_LINE(f"INVITE sip:bob@b.example:{port} SIP/2.0")
    assert m is not None and m.group(5) == port


@pytest.mark.parametrize("port", ["65536", "65540", "65600", "66000", "70000", "99999", "05060"])
def test_request_line_ports_left_to_the_full_parser(port: str) -> None:
    assert REQUEST_LINE(f"INVITE sip:bob@b.example:{port} SIP/2.0") is None


@given(st.integers(0, 99999), st.sampled_from(["", "0"]))
@settings(max_examples=300 * SCALE)
def test_request_line_port_pattern_is_the_range(port: int, zero: str) -> None:
    # The pattern stands in for int(port) <= 65535 (leading zeros aside).
    text = f"{zero}{port}"
    m = REQUEST_LINE(f"INVITE sip:b.example:{text};lr SIP/2.0")
    taken = m is not None
    assert taken == (port <= 65535 and (not zero or (len(text) <= 4 and port < 1000)))
    if taken:  # …and what it takes, the full parser takes the same way
        data = f"INVITE sip:b.example:{text};lr SIP/2.0\r\nContent-Length: 0\r\n\r\n"
        uri = parse_message(data.encode()).uri  # type: ignore[union-attr]
        assert isinstance(uri, SipUri) and uri.port == port


STATUS_LINES = ["SIP/2.0 200 OK", "SIP/2.0 100 ", "SIP/2.0 180", "SIP/2.0 099 x"]


@pytest.mark.parametrize("line", [*STATUS_LINES, "SIP/2.0 20 x", "SIP/2.0 2000"])
def test_status_lines(line: str) -> None:
    try:
        fast = status_line(line)
    except Unusual:
        with pytest.raises(SipParseError):
            parse_message(f"{line}\r\nContent-Length: 0\r\n\r\n".encode())
        return
    full = parse_message(f"{line}\r\nContent-Length: 0\r\n\r\n".encode())
    assert (fast.status, fast.reason) == (full.status, full.reason)  # type: ignore[union-attr]


@settings(max_examples=1500 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans().flatmap(name_addrs))
def test_generated_name_addresses(text: str) -> None:
    same_name_address(text)


@settings(max_examples=800 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans().flatmap(lambda odd: via_values(odd, None)))
def test_generated_vias(text: str) -> None:
    same_via(text.replace("\r\n", ""))  # a folded value arrives unfolded


def test_both_outcomes_were_seen() -> None:
    print(SEEN)
    assert SEEN["built"] > 300 and SEEN["refused"] > 30, SEEN


def test_the_number_table_is_int_on_canonical_text() -> None:
    # fastpath.py looks these up instead of calling int(): each key must be
    # the number's own decimal text (no sign, no leading zero).
    assert all(text == str(n) and text.isascii() for text, n in NUMBERS.items())
    assert set(NUMBERS.values()) == {*range(4096), 5060, 5061}
