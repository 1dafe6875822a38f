"""Messages: start lines, framing, caps, building in code, serialization."""

from __future__ import annotations

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.sip import (
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    Headers,
    Request,
    Response,
    SipParseError,
    SipUri,
    parse_message,
)

OPTIONS = (
    b"OPTIONS sip:carol@chicago.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bKhjhs8ass877\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:carol@chicago.example>\r\n"
    b"From: Alice <sip:alice@atlanta.example>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 63104 OPTIONS\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example>\r\n"
    b"Accept: application/sdp\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_request_fields_and_round_trip() -> None:
    m = parse_message(OPTIONS)
    assert isinstance(m, Request) and m.method == "OPTIONS"
    assert (
        isinstance(m.uri, SipUri)
        and m.uri.user == "carol"
        and m.uri.raw == "sip:carol@chicago.example"
    )
    assert m.call_id == "a84b4c76e66710" and m.max_forwards == 70 and m.content_length == 0
    assert m.body == b"" and bytes(m) == OPTIONS
    assert parse_message(bytearray(OPTIONS)).method == "OPTIONS"  # type: ignore[union-attr]
    assert repr(m) == "<Request OPTIONS sip:carol@chicago.example>"


def test_leading_crlf_is_skipped() -> None:
    assert bytes(parse_message(b"\r\n\r\n" + OPTIONS)) == OPTIONS


def test_response_line() -> None:
    data = OPTIONS.replace(b"OPTIONS sip:carol@chicago.example SIP/2.0", b"SIP/2.0 200 OK then")
    m = parse_message(data)
    assert isinstance(m, Response) and (m.status, m.reason) == (200, "OK then")
    assert m.is_final and not m.is_provisional and bytes(m) == data


@pytest.mark.parametrize(
    ("start", "status"),
    [
        (b"OPTIONS sip:a@b SIP/3.0", 505),
        (b"SIP/1.0 200 OK", 505),
        (b"OPTIONS sip:a@b HTTP/1.1", 400),
        (b"OPTIONS sip:a@b", 400),
        (b"OPT IONS sip:a@b SIP/2.0", 400),
        (b"OPT(ONS sip:a@b SIP/2.0", 400),
        (b"OPTIONS sip:a@b?x=y SIP/2.0", 400),
        (b"SIP/2.0 99 Low", 400),
        (b"SIP/2.0 2000 OK", 400),
        (b"SIP/2.0 OK", 400),
        (b"", 400),
    ],
)
def test_bad_start_lines(start: bytes, status: int) -> None:
    data = start + OPTIONS[OPTIONS.index(b"\r\n") :]
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.status == status


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (OPTIONS[:-2], 400),  # no empty line
        (OPTIONS.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\n"), 400),  # bare LF
        (OPTIONS.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 7\r0\r\n"), 400),  # bare CR
        (OPTIONS.replace(b"Max-Forwards: 70\r\n", b"Max Forwards: 70\r\n"), 400),
        (OPTIONS.replace(b"Max-Forwards: 70\r\n", b": 70\r\n"), 400),
        (OPTIONS.replace(b"Max-Forwards: 70\r\n", b"NoColon\r\n"), 400),
        (OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"), 400),
        (OPTIONS.replace(b"Call-ID: a84b4c76e66710", b"Call-ID: a b"), 400),
        (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 10"), 400),
        (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 99999999"), 413),
        (OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0"), 400),
        (OPTIONS.replace(b"Via: ", b" Via: ", 1), 400),  # a fold before any header
        (OPTIONS.replace(b"alice", b"\xff\xfe"), 400),  # not UTF-8
        (OPTIONS.replace(b"Accept: application/sdp", b"X: " + b"a" * MAX_LINE_LENGTH), 513),
        (OPTIONS.replace(b"Accept: application/sdp", b"X: 1\r\n" * MAX_HEADERS), 513),
        (OPTIONS[:-4] + b"\r\n\r\n" + b"x" * MAX_MESSAGE_SIZE, 513),
    ],
)
def test_bad_messages(data: bytes, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.status == status


def test_first_line_fold_is_an_error_but_later_folds_join() -> None:
    data = OPTIONS.replace(b"Accept: application/sdp", b"Accept: application/sdp,\r\n\t text/plain")
    m = parse_message(data)
    assert m.headers.get_all("Accept") == ["application/sdp", "text/plain"] and bytes(m) == data


def test_type_error_for_non_bytes() -> None:
    with pytest.raises(TypeError):
        parse_message("OPTIONS")  # type: ignore[arg-type]


def test_build_request_and_response() -> None:
    req = Request(
        "INVITE",
        "sip:bob@biloxi.example",
        [
            ("Via", "SIP/2.0/TLS a.example;branch=z9hG4bK1"),
            ("To", "<sip:bob@biloxi.example>"),
            ("From", "<sip:alice@atlanta.example>;tag=1"),
            ("Call-ID", "c1"),
            ("CSeq", "1 INVITE"),
            ("Max-Forwards", "70"),
            ("Content-Type", "application/sdp"),
        ],
        b"v=0\r\n",
    )
    wire = bytes(req)
    assert wire.startswith(b"INVITE sip:bob@biloxi.example SIP/2.0\r\nVia: SIP/2.0/TLS a.example")
    assert wire.endswith(b"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
    again = parse_message(wire)
    assert isinstance(again, Request) and again.body == b"v=0\r\n" and again.cseq is not None
    again.body = b"v=0\r\no=x\r\n"
    assert again.content_length == 10 and parse_message(bytes(again)).body == b"v=0\r\no=x\r\n"
    again.uri = "sips:bob@biloxi.example"
    again.method = "INVITE"
    assert bytes(again).startswith(b"INVITE sips:bob@biloxi.example SIP/2.0\r\n")
    resp = Response(180, None, Headers([("To", "<sip:b@c>;tag=9")]))
    assert resp.reason == "Ringing" and resp.is_provisional
    assert bytes(resp) == b"SIP/2.0 180 Ringing\r\nTo: <sip:b@c>;tag=9\r\nContent-Length: 0\r\n\r\n"
    resp.reason = "Ringing Loudly"
    assert bytes(resp).startswith(b"SIP/2.0 180 Ringing Loudly\r\n")
    assert Response(200, "OK", {"Call-ID": "x"}).call_id == "x"


def test_building_refuses_bad_values() -> None:
    with pytest.raises(LocalProtocolError):
        Request("BAD METHOD", "sip:a@b")
    with pytest.raises(LocalProtocolError):
        Response(700)
    with pytest.raises(LocalProtocolError):
        Response(200, "OK\r\nX: injected")
    req = Request("OPTIONS", "sip:a@b")
    with pytest.raises(LocalProtocolError):
        req.method = "A B"
    with pytest.raises(SipParseError):
        req.uri = "not a uri"


def test_lazy_views_raise_our_error() -> None:
    data = OPTIONS.replace(
        b"Accept: application/sdp", b"Content-Type: nonsense\r\nRequire: a b\r\nExpires: x"
    )
    m = parse_message(data)
    for view in ("content_type", "require", "expires"):
        with pytest.raises(SipParseError):
            getattr(m, view)
    plain = parse_message(OPTIONS)
    assert plain.supported == [] and plain.unsupported == [] and plain.routes == []
    assert plain.expires is None and plain.content_type is None and plain.www_authenticate == []
