"""RFC 5118 IPv6 torture messages (§4, Appendix A.1), from the CRLF copies in
tests/vectors/rfc5118/wire/ (the archive itself uses bare LF; see index.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sipsec.sip import Request, SipParseError, SipUri, parse_message, parse_uri

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc5118"
INDEX = {k: v for k, v in json.loads((VECTORS / "index.json").read_text()).items() if k[0] != "_"}
VALID = sorted(name for name, entry in INDEX.items() if entry["expect"] == "valid")


def wire(name: str) -> bytes:
    return (VECTORS / INDEX[name]["wire_file"]).read_bytes()


def fixed_framing(data: bytes) -> bytes:
    """The RFC prints Content-Length values counted with LF line ends (or
    wrong); set it to the CRLF body length so the message frames."""
    head, _, body = data.partition(b"\r\n\r\n")
    head = re.sub(rb"Content-Length: *\d+", b"Content-Length: %d" % len(body), head)
    return head + b"\r\n\r\n" + body


def test_index() -> None:
    assert len(VALID) == 11 and INDEX["ipv6-bad"]["expect"] == "parse-error"


@pytest.mark.parametrize("name", VALID)
def test_valid_messages_parse_and_round_trip(name: str) -> None:
    data = fixed_framing(wire(name))
    message = parse_message(data)
    assert bytes(message) == data
    assert message.vias and message.to is not None and message.from_ is not None


def test_ipv6_in_sdp_as_printed_has_a_content_length_too_large() -> None:
    # 268 declared, 251 present (index.json "_content_length").
    with pytest.raises(SipParseError, match="Content-Length"):
        parse_message(wire("ipv6-in-sdp"))


def test_ipv6_bad_is_refused() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(fixed_framing(wire("ipv6-bad")))
    assert info.value.status == 400


def test_ipv6_good_fields() -> None:
    m = parse_message(fixed_framing(wire("ipv6-good")))
    assert isinstance(m, Request) and isinstance(m.uri, SipUri)
    assert m.uri.host == "[2001:db8::10]" and m.uri.host_is_ipv6
    assert m.top_via is not None and m.top_via.host == "[2001:db8::9:1]"
    (contact,) = m.contacts
    assert isinstance(contact.uri, SipUri) and contact.uri.host == "[2001:db8::1]"


def test_port_ambiguous_and_unambiguous() -> None:
    amb = parse_message(fixed_framing(wire("port-ambiguous")))
    assert isinstance(amb, Request) and isinstance(amb.uri, SipUri)
    assert (amb.uri.host, amb.uri.port) == ("[2001:db8::10:5070]", None)
    unamb = parse_message(fixed_framing(wire("port-unambiguous")))
    assert isinstance(unamb, Request) and isinstance(unamb.uri, SipUri)
    assert (unamb.uri.host, unamb.uri.port) == ("[2001:db8::10]", 5070)


def test_via_received_with_and_without_brackets() -> None:
    no = parse_message(fixed_framing(wire("via-received-param-no-delim")))
    assert no.top_via is not None and no.top_via.received == "2001:db8::9:255"
    yes = parse_message(fixed_framing(wire("via-received-param-with-delim")))
    assert yes.top_via is not None and yes.top_via.received == "[2001:db8::9:255]"


def test_mult_ip_in_header() -> None:
    m = parse_message(fixed_framing(wire("mult-ip-in-header")))
    assert [v.sent_by for v in m.vias] == ["[2001:db8::9:1]:6050", "192.0.2.1", "[2001:db8::9:255]"]
    assert m.vias[2].received == "192.0.2.200"


def test_ipv4_mapped() -> None:
    m = parse_message(fixed_framing(wire("ipv4-mapped-ipv6")))
    assert m.vias[0].host == "[::ffff:192.0.2.10]"
    assert m.vias[0].port == 19823 and m.vias[1].port is None


def test_three_colons_are_tolerated_and_compare_by_text() -> None:
    bug = parse_message(fixed_framing(wire("ipv6-bug-abnf-3-colons")))
    good = parse_message(fixed_framing(wire("ipv6-correct-abnf-2-colons")))
    assert isinstance(bug, Request) and isinstance(good, Request)
    assert isinstance(bug.uri, SipUri) and bug.uri.host == "[2001:db8:::192.0.2.1]"
    assert good.uri == parse_uri("sip:user@[2001:db8::192.0.2.1]")
    # IPv6 references compare by address: a spelled-out form is the same host.
    assert good.uri == parse_uri("sip:user@[2001:0db8:0:0:0:0:c000:0201]")
