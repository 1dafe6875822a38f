"""The fast relay's scanner and splicer against the parser and the functions
the full path uses (stamp_via, make_response, Headers.prepend/set/pop_first)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_scan as rs
from sipsec.proxy import relay_splice as sp
from sipsec.sip import Request, make_response, parse_message
from sipsec.transport.routing import stamp_via

from .._strategies import edited

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
    branch=st.sampled_from(["z9hG4bKq", "z9hG4bK0", "z9hG4bK0z9hG4bK0", "z9hG4bKa.1-x~"]),
)
def test_stamp_is_the_transports_stamp_via(
    branch: str,
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
    via = f"SIP/2.0/UDP {host}{port};branch={branch}{''.join(params)}"
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
    # the stamp memo (a miss, then a hit) is the stamp made afresh
    line = sp.stamp(top, *source)
    assert line == sp.stamp(top, *source) == sp.stamp_line(top, *source)
    ours_lines, keys = sp.stamped_lines(s, line)
    request = parse_message(data)
    assert isinstance(request, Request)
    stamp_via(request, source)
    assert sp.join(s.start, ours_lines, s.body) == bytes(request)
    assert sp.trying(ours_lines, keys) == bytes(make_response(request, 100))
    assert (keys is s.keys) == (line is None or ours_lines.index(line) == s.via_lines[0])
    _STAMPS_TRIED[0] += 1


_STAMPS_TRIED = [0]
_CUTS_TRIED = [0]
_RESPONSE_LINES = [
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr.1",
    "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKb",
    "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr.1",
    "From: <sip:a@atlanta.example>;tag=1",
    "To: <sip:b@atlanta.example>;tag=2",
    "Call-ID: c",
    "CSeq: 1 INVITE",
    "X: Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr.1",
    "Content-Length: 0",
]


@settings(max_examples=500)
@given(
    order=st.permutations(_RESPONSE_LINES),
    drop=st.sets(st.sampled_from(_RESPONSE_LINES[:3] + _RESPONSE_LINES[7:8])),
    twice=st.booleans(),
    body=st.sampled_from([b"", b"\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr.1\r\n"]),
)
def test_a_response_without_its_top_via_is_the_lines_joined(
    order: list[str], drop: set[str], twice: bool, body: bytes
) -> None:
    """§16.7 step 3 cut from the bytes equals the other lines joined, whatever
    lines repeat the top Via's text (in a value, in the body, a second time)."""
    kept = [line for line in order if line not in drop]
    if twice:
        kept.insert(len(kept) // 2, _RESPONSE_LINES[0])
    head = "SIP/2.0 200 OK\r\n" + "\r\n".join(kept) + "\r\n\r\n"
    data = head.replace("Content-Length: 0", f"Content-Length: {len(body)}").encode() + body
    r = rs.scan_response(data)
    if r is None:
        return  # no Via left
    _, _, start, lines, via_lines, _, _, body = r
    assert sp.join(start, lines, body) == data
    top = via_lines[0]
    others = sp.join(start, lines[:top] + lines[top + 1 :], body)
    assert sp.without_first(data, lines[top]) == others
    _CUTS_TRIED[0] += 1


def test_the_splice_properties_tried_enough() -> None:
    if _STAMPS_TRIED[0] == 0 or _CUTS_TRIED[0] == 0:
        return  # run alone
    assert _STAMPS_TRIED[0] > 100 and _CUTS_TRIED[0] > 30


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


_RESPONSE = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr.1;rport=5060\r\n"
    b"v: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa1;received=192.0.2.10\r\n"
    b"From: <sip:alice@atlanta.example>;tag=1\r\n"
    b"To: <sip:bob@atlanta.example>;tag=2\r\n"
    b"Call-ID: abc@x\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)
_REPLIES = [
    _RESPONSE,
    _RESPONSE.replace(b"200 OK", b"100 Trying").replace(b"4\r\n\r\nv=0\n", b"0\r\n\r\n"),
    _RESPONSE.replace(b"200 OK", b"486 Busy Here ").replace(b"7 INVITE", b"7 CANCEL"),
    _SEEDS[0],
]
_REPLY_TRIED = [0, 0]  # inputs, of which scan_response read one


def replies() -> st.SearchStrategy[bytes]:
    return edited(_REPLIES)


@settings(max_examples=1500)
@given(replies() | st.binary(max_size=200))
def test_scan_response_is_the_response_scan(data: bytes) -> None:
    """The response fast path reads what scan(response_of=True) reads, cold
    and with its shape's template made (the third sighting makes it)."""
    rs._TEMPLATES.clear()  # cold: other tests' shapes may have spent this generation's budget
    for _ in range(4):
        s, r = rs.scan(data, response_of=True), rs.scan_response(data)
        _REPLY_TRIED[0] += 1
        if s is None or s.method is not None:
            assert r is None, data
            continue
        assert r is not None, data
        _REPLY_TRIED[1] += 1
        status, clean, start, lines, via_lines, vals, cseq_method, body = r
        assert (status, start, lines, via_lines, vals) == (
            s.status,
            s.start,
            s.lines,
            s.via_lines,
            s.vals,
        )
        assert (cseq_method, body, clean) == (s.cseq_method, s.body, rs.clean_reason(s.start))


def test_the_response_property_read_some() -> None:
    if _REPLY_TRIED[0] == 0:
        return  # run alone
    assert 0 < _REPLY_TRIED[1] < _REPLY_TRIED[0]
