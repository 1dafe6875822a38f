"""The load generator's header copying and dialog reading (sipsec.ua.load_wire)
against the general path (``sipsec.sip.parse_message``, ``make_response``)
and against plain line-by-line readings: on the RFC 3665 call flows
(tests/vectors/rfc3665, copied from the shared corpus) and on
Hypothesis-mutated messages. The scanner's tests are in test_load_scan.py."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
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
    contact_uri,
    header_value,
    hop_of,
    normalize,
    reply_headers,
    reply_headers_by_line,
    route_set,
    to_value,
    with_tag,
)

from ._load_inputs import EXAMPLES, FLOWS, MUTATED

FALLBACK = ("127.0.0.9", 5999)


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
def test_reply_headers_by_pattern_and_by_line_agree(data: bytes) -> None:
    """The regular-expression copy of a request's lines and the line-by-line
    one give the same lines, in the same order (Via order matters)."""
    try:
        head = normalize(data)
        slow = reply_headers_by_line(head)
    except SipParseError:
        with pytest.raises(SipParseError):
            reply_headers(normalize(data))
        return
    assert reply_headers(head) == slow


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATED)
def test_to_and_contact_by_pattern_agree_with_find(data: bytes) -> None:
    """to_value and contact_uri (one pattern each) read the line the plain
    first-of-long-or-compact search reads (§7.3.3)."""
    try:
        head = normalize(data)
    except SipParseError:
        return
    low = head.lower()
    assert to_value(head) == header_value(head, low, (b"\r\nto:", b"\r\nt:"))
    contact = header_value(head, low, (b"\r\ncontact:", b"\r\nm:"))
    if not contact:
        assert contact_uri(head) is None
    else:
        assert contact_uri(head) == contact_uri(b"\r\nContact: " + contact + b"\r\n")


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
    assert contact_uri(head) == str(contact).encode()


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
