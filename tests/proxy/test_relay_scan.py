"""The fast relay's scanner and splicer against the parser and the functions
the full path uses (stamp_via, make_response, Headers.prepend/set/pop_first)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_scan as rs
from sipsec.proxy import relay_splice as sp
from sipsec.sip import Request, make_response, parse_message
from sipsec.transport.routing import stamp_via

INVITE = (
    b"INVITE sip:bob@atlanta.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"f: Alice <sip:alice@atlanta.example>;tag=1\r\n"
    b"To: <sip:bob@atlanta.example>\r\n"
    b"i: abc@x\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Timestamp: 54\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: 4\r\n\r\nv=0\n"
)


def test_scan_reads_what_a_proxy_needs() -> None:
    s = rs.scan(INVITE)
    assert s is not None
    assert (s.method, s.uri, s.cseq_seq, s.cseq_method) == (
        b"INVITE",
        b"sip:bob@atlanta.example",
        7,
        b"INVITE",
    )
    assert s.max_forwards == 70 and s.to_tag is None and s.body == b"v=0\n"
    assert s.vals[b"call-id"] == b"abc@x" and s.keys[2] == b"from"  # compact forms
    via = rs.parse_top_via(s.value(s.via_lines[0]))
    assert via is not None and via.branch == b"z9hG4bKa1" and via.sent_by == b"192.0.2.10:5070"


def test_scan_declines_what_is_not_plain() -> None:
    bad = [
        INVITE.replace(b"l: 4", b"l: 5"),  # §18.3: a body shorter than Content-Length
        INVITE.replace(b"l: 4\r\n", b""),  # no Content-Length over UDP: the parser's rule
        INVITE.replace(b"To: <sip:bob", b"To: \r\n <sip:bob"),  # folded (§7.3.1)
        INVITE.replace(b"CSeq: 7 INVITE\r\n", b"CSeq: 7 INVITE\r\nCSeq: 8 INVITE\r\n"),
        INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"),
        INVITE.replace(b"i: abc@x", b"i: abc x"),
        INVITE.replace(b"CSeq: 7", b"CSeq: x"),
        INVITE.replace(b"SIP/2.0\r\nVia", b"SIP/2.1\r\nVia"),
        INVITE.replace(b"Timestamp: 54", b"Timestamp 54"),  # no colon
        INVITE.replace(b"Timestamp", b"Time stamp"),  # not a token
        INVITE.replace(b"\r\n\r\n", b"\r\n"),
        INVITE.replace(
            b"To: <sip:bob@atlanta.example>", b"To: <sip:bob@atlanta.example>;tag=a;tag=b"
        ),
    ]
    for data in bad:
        assert rs.scan(data) is None, data


def test_top_via_shapes() -> None:
    assert rs.parse_top_via(b"SIP/2.0/UDP h.example;branch=z9hG4bKx") is not None
    for value in (
        b"SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKx",  # not UDP
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK",  # the cookie alone (RFC 4475 §3.2.1)
        b"SIP/2.0/UDP 192.0.2.1;branch=x",  # RFC 2543 branch
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;received=192.0.2.2",
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;rport=9",
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;branch=z9hG4bKy",
        b"SIP/2.0/UDP 192.0.2.1:0;branch=z9hG4bKx",
    ):
        assert rs.parse_top_via(value) is None, value


_VIA_PARAMS = st.lists(
    st.sampled_from([";rport", ";x", ";y=1", ";ttl=5", ";keep", ";alias"]), max_size=3, unique=True
)


@settings(max_examples=400)
@given(
    host=st.sampled_from(["192.0.2.10", "h.example", "192.0.2.11", "H.Example"]),
    port=st.sampled_from(["", ":5070", ":5060"]),
    params=_VIA_PARAMS,
    before=st.booleans(),
    second=st.booleans(),
    compact=st.booleans(),
    source=st.sampled_from([("192.0.2.10", 5070), ("192.0.2.10", 9999), ("192.0.2.99", 5070)]),
)
def test_stamp_is_the_transports_stamp_via(
    host: str,
    port: str,
    params: list[str],
    before: bool,
    second: bool,
    compact: bool,
    source: tuple[str, int],
) -> None:
    """§18.2.1 / RFC 3581: the relay's byte stamp, and where the line goes,
    equal stamp_via on the parsed request — and so does the 100 Trying."""
    via = f"SIP/2.0/UDP {host}{port};branch=z9hG4bKq{''.join(params)}"
    lines = [
        "OPTIONS sip:bob@atlanta.example SIP/2.0",
        "Max-Forwards: 70",
        f"{'v' if compact else 'Via'}: {via}",
        "From: <sip:a@atlanta.example>;tag=1",
    ]
    if before:
        lines.insert(1, "Timestamp: 1")
    if second:
        lines.append("Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKz")
    lines += ["To: <sip:b@atlanta.example>", "Call-ID: c", "CSeq: 1 OPTIONS", "Content-Length: 0"]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    s = rs.scan(data)
    assert s is not None
    top = rs.parse_top_via(s.value(s.via_lines[0]))
    assert top is not None
    ours_lines, keys = sp.stamped_lines(s, sp.stamp(top, *source))
    request = parse_message(data)
    assert isinstance(request, Request)
    stamp_via(request, source)
    assert sp.join(s.start, ours_lines, s.body) == bytes(request)
    assert sp.trying(ours_lines, keys) == bytes(make_response(request, 100))


@settings(max_examples=300)
@given(
    pop=st.integers(0, 2),
    record=st.booleans(),
    order=st.permutations(["Route: <sip:192.0.2.1;lr>", "Route: <sip:192.0.2.2;lr>", "X: y"]),
)
def test_forwarded_is_what_the_headers_api_does(pop: int, record: bool, order: list[str]) -> None:
    """§16.6 steps 3, 4, 8 and §16.4 on bytes equal Headers.set/prepend/pop_first."""
    lines = [
        "INVITE sip:bob@atlanta.example SIP/2.0",
        "Max-Forwards: 70",
        *order,
        "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKq",
        "From: <sip:a@atlanta.example>;tag=1",
        "To: <sip:b@atlanta.example>",
        "Call-ID: c",
        "CSeq: 1 INVITE",
        "Content-Length: 0",
    ]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    s = rs.scan(data)
    assert s is not None
    pop = min(pop, len(s.routes))
    ours = sp.forwarded(
        s.lines,
        s.keys,
        via=b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr.1;rport",
        max_forwards=b"Max-Forwards: 69",
        pop_routes=pop,
        record_route=b"Record-Route: <sip:192.0.2.1:5060;lr>" if record else None,
    )
    request = parse_message(data)
    assert isinstance(request, Request)
    for _ in range(pop):
        request.headers.pop_first("Route")
    request.headers.set("Max-Forwards", "69")
    if record:
        request.headers.prepend("Record-Route", "<sip:192.0.2.1:5060;lr>")
    request.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr.1;rport")
    assert sp.join(s.start, ours, s.body) == bytes(request)


_SEEDS = [
    INVITE,
    INVITE.replace(b"INVITE", b"BYE"),
    b"SIP/2.0 180 Ringing\r\n" + INVITE.split(b"\r\n", 1)[1],
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(seed)))
        seed = seed[:at] + draw(st.binary(max_size=3)) + seed[at + draw(st.integers(0, 3)) :]
    return seed


@settings(max_examples=1500)
@given(st.binary(max_size=300) | mutated())
def test_scan_never_raises(data: bytes) -> None:
    """Whatever the bytes: None or a Scan whose lines put the datagram back together."""
    s = rs.scan(data)
    if s is not None:
        assert sp.join(s.start, s.lines, s.body) == data
        assert len(s.keys) == len(s.lines) and s.via_lines


_VIA_PIECES = [
    b"SIP/2.0/UDP ", b"SIP/2.0/TCP ", b"192.0.2.10", b"h.example", b":5070", b":0", b":99999",
    b";branch=", b"z9hG4bK", b"z9hG4bKa1", b"x", b";rport", b";rport=9", b";received=1.2.3.4",
    b";maddr=h", b";ttl=1", b"=", b";", b" ", b"\xff", b"BRANCH=", b",",
]  # fmt: skip
_VIA_TRIED = [0]


@settings(max_examples=1500)
@given(
    st.lists(st.sampled_from(_VIA_PIECES), max_size=8).map(b"".join),
    st.sampled_from([b"z9hG4bKa1", b"z9hG4bK", b"z9hG4bKq.r-s", b"abc", b"", b"z9hG4bK=x"]),
)
def test_parse_top_via_through_its_skeleton_is_the_pattern(value: bytes, branch: bytes) -> None:
    """The memo on the Via without its branch reads every value as the
    pattern does (RFC 3261 §20.42, §18.2.1): same verdict, same fields."""
    for text in (value, b"SIP/2.0/UDP 192.0.2.10:5070;branch=" + branch + value):
        for _ in range(2):  # a miss, then a hit
            got, direct = rs.parse_top_via(text), rs._parse_top_via(text)
            assert (got is None) == (direct is None), text
            if got is not None and direct is not None:
                for name in rs.ViaTop.__slots__:
                    assert getattr(got, name) == getattr(direct, name), (text, name)
                _VIA_TRIED[0] += 1


def test_the_via_property_accepted_some() -> None:
    if _VIA_TRIED[0] == 0:
        return  # run alone
    assert _VIA_TRIED[0] > 50
