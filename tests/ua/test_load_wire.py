"""The load generator's byte scanner and header copying against the general
path (``sipsec.sip.parse_message`` and ``make_response``): on the RFC 3665
call flows (tests/vectors/rfc3665, copied from the shared corpus) and on
Hypothesis-mutated messages, the fast path either gives the general path's
answer or refuses with SipParseError — never another answer, never another
exception."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sipsec.sip import (
    Request,
    Response,
    SipParseError,
    SipUri,
    make_response,
    parse_message,
    parse_uri,
)
from sipsec.ua.load_wire import (
    Scanned,
    contact_uri,
    hop_of,
    normalize,
    reply_headers,
    route_set,
    scan,
    scan_fast,
    scan_general,
    with_tag,
)

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1500"))

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc3665"
ALL_FLOWS = {path.name: path.read_bytes() for path in sorted(VECTORS.glob("*.sip"))}


def _parses(data: bytes) -> bool:
    try:
        parse_message(data)
    except SipParseError:
        return False
    return True


# The README names the RFC's printing flaws kept in the corpus (§3.10 F4: an
# unfolded Record-Route continuation); those are inputs for the fuzz test only.
FLOWS = {name: data for name, data in ALL_FLOWS.items() if _parses(data)}
FALLBACK = ("127.0.0.9", 5999)


def general(data: bytes) -> Scanned:
    """What :func:`scan` must answer, read by the full parser."""
    message = parse_message(data)
    kind: int | bytes = message.status if isinstance(message, Response) else message.method.encode()
    assert message.call_id is not None and message.cseq is not None
    to, via = message.to, message.top_via
    assert to is not None and via is not None
    return (
        kind,
        message.call_id.encode(),
        message.cseq.method.encode(),
        (to.tag or "").encode(),
        (via.branch or "").encode(),
    )


def test_vectors_are_there() -> None:
    assert len(FLOWS) > 150  # the RFC 3665 messages, requests and responses
    assert len(ALL_FLOWS) - len(FLOWS) <= 2


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_scan_agrees_with_the_parser_on_rfc3665(name: str) -> None:
    data = FLOWS[name]
    assert scan(data) == general(data)


def test_rfc3665_has_the_shapes_the_slow_path_handles() -> None:
    """The corpus exercises the fallback: folded Via lines (§7.3.1)."""
    folded = [d for d in FLOWS.values() if b"\r\n " in d.split(b"\r\n\r\n")[0]]
    assert folded


RINGING = (
    b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKa1;rport\r\n"
    b"From: <sip:load@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>;tag=b\r\n"
    b"Call-ID: abc@host\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RINGING, (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1")),
        # compact forms (§7.3.3), any case, white space before the colon
        (
            RINGING.replace(b"Call-ID:", b"i:").replace(b"To:", b"t :").replace(b"Via:", b"v:"),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1"),
        ),
        (RINGING.replace(b"CSeq:", b"cseq:"), (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1")),
        # a folded To line, a parameter written with spaces and in capitals
        (
            RINGING.replace(b">;tag=b", b">\r\n ; TAG = b"),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1"),
        ),
        # ;tag= inside <> is a URI parameter, not the To tag (§20.10)
        (RINGING.replace(b">;tag=b", b";tag=u>"), (180, b"abc@host", b"INVITE", b"", b"z9hG4bKa1")),
        # the top Via is the first value of the first Via line
        (
            RINGING.replace(b";rport\r\n", b";rport, SIP/2.0/UDP h;branch=z9hG4bKz\r\n"),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1"),
        ),
        (
            RINGING.replace(b"Via:", b"Via: SIP/2.0/UDP p;branch=z9hG4bKp\r\nVia:", 1),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKp"),
        ),
    ],
)
def test_scan_reads_the_usual_and_the_rare_shapes(data: bytes, expected: Scanned) -> None:
    assert scan(data) == expected == general(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"SIP/2.0 180 Ringing\r\n",  # no end of headers
        RINGING.replace(b"180", b"18x"),
        RINGING.replace(b"SIP/2.0 180", b"SIP/2.0 1800"),
        RINGING.replace(b"SIP/2.0 180", b"SIP/2.0 099"),
        RINGING.replace(b"Call-ID: abc@host\r\n", b""),
        RINGING.replace(b"Call-ID: abc@host", b"Call-ID: "),
        RINGING.replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"),
        RINGING.replace(b"CSeq: 1 INVITE", b"CSeq: 1"),
        RINGING.replace(b"To:", b"X-To:"),
        RINGING.replace(b"Via:", b"X-Via:"),
        RINGING.replace(b"SIP/2.0 180 Ringing", b"BYE sip:x SIP/2.0"),  # CSeq method differs
        RINGING.replace(b"SIP/2.0 180 Ringing", b"BYE sip:x HTTP/1.1"),
        RINGING.replace(b"SIP/2.0 180 Ringing", b"B(E sip:x SIP/2.0"),
    ],
)
def test_scan_refuses_what_it_cannot_match(data: bytes) -> None:
    with pytest.raises(SipParseError):
        scan(data)


def _mutate(base: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at %= len(base) + 1
    return base[:at] + insert + base[at + cut :]


MUTATED = st.one_of(
    st.binary(max_size=400),
    st.builds(
        _mutate,
        st.sampled_from([*sorted(ALL_FLOWS.values()), RINGING]),
        st.integers(0, 2000),
        st.integers(0, 8),
        st.sampled_from(
            [b"", b" ", b"\t", b"\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b"=", b"tag=",
             b";branch=", b"\x00", b"\xff", b"i: x\r\n", b"T", b"v: SIP/2.0/UDP h\r\n"]
        )
        | st.binary(max_size=6),
    ),
)  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATED)
@example(RINGING.replace(b"Call-ID", b"Call-ID\r\n "))
def test_scan_never_disagrees_with_the_parser(data: bytes) -> None:
    """Any bytes: scan returns or raises SipParseError; when both read the
    message, scan's answer is the parser's."""
    try:
        fast = scan(data)
    except SipParseError:
        return
    try:
        expected = general(data)
    except SipParseError:
        return  # the scanner reads five fields, not the whole message
    assert fast == expected


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATED)
def test_the_fast_path_answers_as_the_general_path(data: bytes) -> None:
    """scan_fast declines (None) or gives scan_general's answer, for any bytes."""
    fast = scan_fast(data)
    if fast is None:
        return
    assert fast == scan_general(data)


def test_the_fast_path_reads_every_datagram_of_a_call() -> None:
    """The generator's own messages, and the RFC's usual ones, take the fast
    path: a change that made them decline would cost every datagram."""
    from sipsec.ua.load_scenario import ScenarioConfig, UacScenario, UasScenario

    uac_addr, uas_addr = ("127.0.0.1", 40000), ("127.0.0.1", 50000)
    target = "sip:uas@127.0.0.1:50000"
    uac = UacScenario(ScenarioConfig(uac_addr, next_hop=uas_addr, target=target), rate=1, calls=1)
    uas = UasScenario(ScenarioConfig(uas_addr, target=target))
    uac.start(0.0)
    seen: list[bytes] = []
    for _ in range(4):
        for data, _ in uac.datagrams_to_send():
            seen.append(data)
            uas.receive(data, uac_addr, 0.0)
        for data, _ in uas.datagrams_to_send():
            seen.append(data)
            uac.receive(data, uas_addr, 0.0)
    assert len(seen) == 7 and uac.stats.calls_succeeded == 1
    for data in seen:
        assert scan_fast(data) == scan_general(data)
    usual = [d for d in FLOWS.values() if b"\r\n " not in d.split(b"\r\n\r\n")[0]]
    assert sum(scan_fast(d) is not None for d in usual) >= 0.9 * len(usual)


def _invites() -> list[bytes]:
    out = []
    for data in FLOWS.values():
        message = parse_message(data)
        is_invite = isinstance(message, Request) and message.method == "INVITE"
        if is_invite and message.to is not None and message.to.tag is None:
            out.append(data)
    return out


INVITES = _invites()


def _responses_agree(fast: bytes, slow: Response) -> None:
    parsed = parse_message(fast)
    assert isinstance(parsed, Response) and parsed.status == slow.status
    for name in ("Via", "From", "To", "Call-ID", "CSeq", "Record-Route"):
        assert parsed.headers.get_all(name) == slow.headers.get_all(name), name


@pytest.mark.parametrize("data", INVITES[:20])
def test_copied_headers_make_the_responses_make_response_makes(data: bytes) -> None:
    """§8.2.6.2 and §12.1.1 by copying lines = by the message API."""
    invite = parse_message(data)
    assert isinstance(invite, Request)
    copied, routes, to = reply_headers(normalize(data))
    ok = b"SIP/2.0 200 OK\r\n" + routes + copied + with_tag(to, b"t1")
    slow = make_response(invite, 200, to_tag="t1")
    for value in invite.headers.get_lines("Record-Route"):
        slow.headers.add("Record-Route", value)
    _responses_agree(ok + b"Content-Length: 0\r\n\r\n", slow)
    trying = b"SIP/2.0 100 Trying\r\n" + copied + to + b"Content-Length: 0\r\n\r\n"
    _responses_agree(trying, make_response(invite, 100))
    assert with_tag(with_tag(to, b"t1"), b"t2") == with_tag(to, b"t1")  # one tag only


def _by_name(block: bytes) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for line in block.split(b"\r\n"):
        if line:
            out.setdefault(line.split(b":", 1)[0].lower(), []).append(line)
    return out


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATED)
def test_reply_headers_by_find_and_by_line_agree(data: bytes) -> None:
    """The find-based copy of a request's lines and the line-by-line one give
    the same lines of each name, in the same order (Via order matters)."""
    from sipsec.ua.load_wire import _reply_headers_by_line

    try:
        head = normalize(data)
        slow = _reply_headers_by_line(head, head.lower())
    except SipParseError:
        return
    fast = reply_headers(head)
    assert [_by_name(part) for part in fast] == [_by_name(part) for part in slow]


def test_invites_in_the_corpus() -> None:
    assert len(INVITES) >= 10


def _two_hundreds() -> list[bytes]:
    out = []
    for data in FLOWS.values():
        message = parse_message(data)
        if isinstance(message, Response) and message.status == 200 and message.contacts:
            out.append(data)
    return out


@pytest.mark.parametrize("data", _two_hundreds())
def test_route_set_and_contact_agree_with_the_parser(data: bytes) -> None:
    """§12.1.2: the route set is the Record-Route URIs reversed; the remote
    target is the Contact URI."""
    message = parse_message(data)
    assert isinstance(message, Response)
    head = normalize(data)
    expected = [str(r.uri).encode() for r in reversed(message.record_routes)]
    assert route_set(head) == expected
    contact = message.contacts[0].uri
    assert contact_uri(head, head.lower()) == str(contact).encode()


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", '"Proxy, Inc." ', "P "]),
            st.sampled_from(["sip:10.0.0.1;lr", "sip:p.example:5070;lr;transport=udp",
                             "sip:[2001:db8::1]:5062;lr", "sips:x@y.example"]),
            st.sampled_from(["", ";x=1", ";a=b;c"]),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)  # fmt: skip
def test_route_set_reads_any_record_route_list(
    routes: list[tuple[str, str, str]], one_line: bool
) -> None:
    values = [f"{name}<{uri}>{params}" for name, uri, params in routes]
    lines = [", ".join(values)] if one_line else values
    ok = "SIP/2.0 200 OK\r\n" + "".join(f"Record-Route: {v}\r\n" for v in lines)
    ok += "Contact: <sip:uas@127.0.0.1:5070>\r\n\r\n"
    head = normalize(ok.encode())
    assert route_set(head) == [uri.encode() for _, uri, _ in reversed(routes)]


def test_route_set_refuses_a_value_that_is_no_name_addr() -> None:
    with pytest.raises(SipParseError):
        route_set(b"SIP/2.0 200 OK\r\nRecord-Route: sip:p;lr\r\n")


def reference_hop(uri: bytes) -> tuple[str, int] | None:
    """What hop_of must answer, by parse_uri."""
    try:
        parsed = parse_uri(uri.decode("ascii"))
    except (SipParseError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, SipUri) or parsed.scheme != "sip":
        return None
    host = parsed.host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return FALLBACK
    return host, parsed.port or 5060


HOSTS = st.sampled_from(["127.0.0.1", "10.1.2.3", "[::1]", "[2001:db8::7]", "uas.example", "h"])


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(
    st.sampled_from(["sip:", "SIP:", "sips:", "tel:"]),
    st.sampled_from(["", "uas@", "a.b:pw@"]),
    HOSTS,
    st.sampled_from(["", ":5070", ":1", ":65535"]),
    st.sampled_from(["", ";lr", ";transport=udp;lr", "?subject=x"]),
)
def test_hop_of_agrees_with_parse_uri(
    scheme: str, user: str, host: str, port: str, params: str
) -> None:
    uri = f"{scheme}{user}{host}{port}{params}".encode()
    assert hop_of(uri, FALLBACK) == reference_hop(uri)


@pytest.mark.parametrize("uri", [b"sip:", b"sip:h:99999", b"sip:h:x", b"sip:[::1", b"sip:[::1]x"])
def test_hop_of_refuses_broken_uris(uri: bytes) -> None:
    assert hop_of(uri, FALLBACK) is None
