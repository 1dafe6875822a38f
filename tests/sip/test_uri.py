"""URIs: RFC 3261 §19.1 parsing, §19.1.2 escaping, §19.1.4 equality; tel (RFC 3966)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import AbsoluteUri, SipParseError, SipUri, TelUri, parse_uri, unescape

# RFC 3261 §19.1.4, the examples it lists as equivalent ...
EQUAL = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
]
# ... and as not equivalent.
NOT_EQUAL = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;newparam=6"),
]


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal(a: str, b: str) -> None:
    ua, ub = parse_uri(a), parse_uri(b)
    assert ua == ub and ub == ua
    assert hash(ua) == hash(ub)


@pytest.mark.parametrize(("a", "b"), NOT_EQUAL)
def test_not_equal(a: str, b: str) -> None:
    assert parse_uri(a) != parse_uri(b)


def test_fields() -> None:
    uri = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=TLS;lr;maddr=239.255.255.1?h=v")
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.password) == ("sips", "alice", "secret")
    assert (uri.host, uri.port, uri.host_is_ipv6, uri.secure) == ("[2001:db8::1]", 5061, True, True)
    assert uri.transport == "tls" and uri.lr and uri.maddr == "239.255.255.1"
    assert uri.headers == {"h": "v"}
    assert uri.host_port == "[2001:db8::1]:5061"
    assert str(uri) == uri.raw


def test_built_uri_is_escaped() -> None:
    uri = SipUri("example.com", user="I have spaces", params={"x": "a b", "lr": None})
    assert str(uri) == "sip:I%20have%20spaces@example.com;x=a%20b;lr"
    assert parse_uri(str(uri)) == uri
    assert uri.replace(port=5070).port == 5070
    assert str(uri.replace(host="h", params={})) == "sip:I%20have%20spaces@h"


def test_tel_and_absolute() -> None:
    tel = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (
        isinstance(tel, TelUri) and tel.is_global and tel.params["phone-context"] == "example.com"
    )
    assert tel == parse_uri("tel:+12015550123;phone-context=example.com")
    assert hash(tel) == hash(parse_uri("tel:+1.201.555.0123;phone-context=example.com"))
    assert str(tel) == "tel:+1-201-555-0123;phone-context=example.com"
    other = parse_uri("http://www.example.com/x")
    assert isinstance(other, AbsoluteUri) and other.scheme == "http"
    assert other == parse_uri("HTTP://www.example.com/x")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sip:",
        "sip:2001:db8::10",  # RFC 5118 §4.2
        "<sip:a@b>",
        " sip:a@b",
        "sip:a@b c",
        "sip:a@@b",
        "sip:a@b:99999",
        "sip:a@b;=x",
        "sip:a@[::1",
        "sip:a@b?x",
        "tel:",
        "tel:xyz",
        "1abc:x",
        "mailto:a b",
    ],
)
def test_bad(text: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_uri(text)
    assert info.value.status == 400


def test_unescape_once_and_invalid_utf8() -> None:
    assert unescape("v%61lue%25%34%31") == "value%41"
    assert unescape("100%") == "100%"
    uri = SipUri("h", user=unescape("%ff%00"))
    assert str(uri) == "sip:%FF%00@h"


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_parse_uri_only_raises_sip_parse_error(text: str) -> None:
    try:
        uri = parse_uri(text)
    except SipParseError:
        return
    assert str(uri) == text or isinstance(uri, AbsoluteUri)
    hash(uri)
    assert uri == uri


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20
    ),
    st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    st.none() | st.integers(0, 65535),
    st.dictionaries(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        st.none() | st.text(min_size=1, max_size=10),
        max_size=3,
    ),
)
def test_build_and_reparse(
    user: str, host: str, port: int | None, params: dict[str, str | None]
) -> None:
    uri = SipUri(host, user=user, port=port, params=params)
    again = parse_uri(str(uri))
    assert isinstance(again, SipUri)
    assert (again.user, again.host, again.port, again.params) == (user, host, port, params)
    assert again == uri and hash(again) == hash(uri)


def test_views_reprs_and_odd_hosts() -> None:
    uri = parse_uri("sip:alice@atlanta.example;user=phone;method=INVITE")
    assert isinstance(uri, SipUri) and uri.user_param == "phone" and uri.method == "INVITE"
    assert not uri.secure and uri.transport is None and not uri.lr and uri.maddr is None
    assert repr(uri) == "SipUri('sip:alice@atlanta.example;user=phone;method=INVITE')"
    # The tolerated three-colon form is no IPv6 address: it compares as text.
    odd = parse_uri("sip:[2001:db8:::192.0.2.1]")
    assert odd == parse_uri("sip:[2001:DB8:::192.0.2.1]") and odd != parse_uri("sip:[2001:db8::1]")
    assert parse_uri("sip:a@b") != "sip:a@b" and parse_uri("tel:+1") != "tel:+1"
    assert parse_uri("x:y") != "x:y"
    tel = TelUri("+1-555-0100", {"ext": "7", "isub": None})
    assert str(tel) == "tel:+1-555-0100;ext=7;isub" and tel.raw == str(tel)
    assert repr(tel) == "TelUri('tel:+1-555-0100;ext=7;isub')" and not TelUri("5").is_global
    absolute = parse_uri("urn:service:sos")
    assert repr(absolute) == "AbsoluteUri('urn:service:sos')" and absolute.raw == "urn:service:sos"
    assert len({absolute, parse_uri("URN:service:sos")}) == 1
    assert (
        str(SipUri("h", password="x", user="u", headers={"Subject": "a b"}))
        == "sip:u:x@h?Subject=a%20b"
    )
    assert parse_uri("sips:h").scheme == "sips" and parse_uri("SIPS:H").scheme == "sips"
