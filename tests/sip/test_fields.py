"""Typed header values: name-addr (RFC 3261 §20.10, §20.20), CSeq (§20.16),
media types (§20.15), delta-seconds. Via: test_via.py."""

from __future__ import annotations

import pytest

from sipsec.sip import (
    CSeq,
    MediaType,
    NameAddress,
    SipParseError,
    SipUri,
    parse_cseq,
    parse_media_type,
    parse_name_address,
    parse_params,
    parse_uri,
)
from sipsec.sip.fields import parse_delta_seconds


@pytest.mark.parametrize(
    ("text", "display", "uri", "params"),
    [
        (
            '"A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s',
            "A. G. Bell",
            "sip:agb@bell-telephone.com",
            {"tag": "a48s"},
        ),
        (
            "Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8",
            "Anonymous",
            "sip:c8oqz84zk7z@privacy.org",
            {"tag": "hyh8"},
        ),
        (
            "sip:+12125551212@server.phone2net.com;tag=887s",
            None,
            "sip:+12125551212@server.phone2net.com",
            {"tag": "887s"},
        ),
        ("<sip:a@b;lr>;expires=60;q=0.5", None, "sip:a@b;lr", {"expires": "60", "q": "0.5"}),
        ('"\\"quoted\\" name" <sips:x@y>', '"quoted" name', "sips:x@y", {}),
        ("Mr  Watson <tel:+1-555-0100>", "Mr  Watson", "tel:+1-555-0100", {}),
        ("<urn:service:sos>", None, "urn:service:sos", {}),
        ("SIP:UPPER@CASE.example", None, "SIP:UPPER@CASE.example", {}),
    ],
)
def test_name_address(text: str, display: str | None, uri: str, params: dict[str, str]) -> None:
    na = parse_name_address(text)
    assert na.display_name == display and str(na.uri) == uri and na.params == params
    assert str(na) == text.strip()


def test_name_address_star_tag_expires_q() -> None:
    star = parse_name_address("*", allow_star=True)
    assert star.is_star and star.uri is None and str(star) == "*"
    with pytest.raises(SipParseError):
        parse_name_address("*")
    na = parse_name_address("<sip:a@b>;expires=280297596632815;q=0.7;tag=x")
    assert na.expires == 2**32 - 1 and na.q == 0.7 and na.tag == "x"
    with pytest.raises(SipParseError):
        parse_name_address("<sip:a@b>;q=2").q  # noqa: B018


def test_name_address_built() -> None:
    na = NameAddress(parse_uri("sip:bob@biloxi.example"), 'Bob "B"', {"tag": "1"})
    assert str(na) == '"Bob \\"B\\"" <sip:bob@biloxi.example>;tag=1'
    again = parse_name_address(str(na))
    assert again.display_name == 'Bob "B"' and again.tag == "1" and again.uri == na.uri
    tagged = parse_name_address("<sip:bob@biloxi.example>").with_tag("zz")
    assert str(tagged) == "<sip:bob@biloxi.example>;tag=zz"


@pytest.mark.parametrize(
    "text",
    [
        "",
        '"Mr. J. User <sip:j.user@example.com>',  # RFC 4475 §3.1.2.6
        '"Watson, Thomas" < sip:t.watson@example.org >',  # §3.1.2.14
        "Bell, Alexander <sip:a.g.bell@example.com>",  # §3.1.2.15
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # §3.1.2.13
        "<sip:a@b",
        '"x" sip:a@b',
        "<sip:a@b>;;",
        "<sip:a@b> junk",
    ],
)
def test_bad_name_address(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_name_address(text)


def test_uri_params_vs_header_params() -> None:
    inside = parse_name_address("<sip:a@b;transport=tcp>;tag=1")
    outside = parse_name_address("sip:a@b;transport=tcp;tag=1")
    assert (
        isinstance(inside.uri, SipUri)
        and inside.uri.transport == "tcp"
        and inside.params == {"tag": "1"}
    )
    assert isinstance(outside.uri, SipUri) and outside.uri.params == {}
    assert outside.params == {"transport": "tcp", "tag": "1"}


def test_cseq() -> None:
    assert parse_cseq("4711 INVITE") == CSeq(4711, "INVITE")
    assert parse_cseq(" 0009   ACK ") == CSeq(9, "ACK") and str(CSeq(9, "ACK")) == "9 ACK"
    assert parse_cseq(f"{2**32 - 1} BYE").seq == 2**32 - 1
    for bad in (
        "",
        "1",
        "INVITE",
        "-1 INVITE",
        f"{2**32} BYE",
        "36893488147419103232 REGISTER",
        "1 IN VITE",
    ):
        with pytest.raises(SipParseError):
            parse_cseq(bad)
    assert len({CSeq(1, "A"), CSeq(1, "A")}) == 1


def test_media_type() -> None:
    mt = parse_media_type('multipart/signed; protocol="application/pkcs7-signature";micalg=sha-256')
    assert mt.mime_type == "multipart/signed"
    assert mt.params == {"protocol": "application/pkcs7-signature", "micalg": "sha-256"}
    assert str(mt) == 'multipart/signed;protocol="application/pkcs7-signature";micalg=sha-256'
    assert parse_media_type("Application/SDP") == MediaType("application", "sdp")
    for bad in ("", "text", "text/", "/plain", "text/plain;"):
        with pytest.raises(SipParseError):
            parse_media_type(bad)


def test_delta_seconds_and_params() -> None:
    assert parse_delta_seconds("3600") == 3600 and parse_delta_seconds("00") == 0
    assert parse_delta_seconds("1" + "0" * 100) == 2**32 - 1
    assert parse_delta_seconds("9" * 5000) == 2**32 - 1  # never reaches int()
    with pytest.raises(SipParseError):
        parse_delta_seconds("-1")
    assert parse_params(' ; a = "b;c" ;d') == {"a": "b;c", "d": None}
