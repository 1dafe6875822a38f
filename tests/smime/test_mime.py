"""The MIME entity codec (RFC 2045, RFC 2046 §5.1), exact to the byte."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.smime import MalformedBody, MimeEntity
from sipsec.smime.mime import (
    build_multipart,
    canonical_crlf,
    format_params,
    parse_multipart,
    parse_params,
)

SDP = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n"


def test_round_trip_is_exact() -> None:
    raw = b"Content-Type: application/sdp\r\nContent-Disposition: session\r\n\r\n" + SDP
    entity = MimeEntity.parse(raw)
    assert entity.headers == [
        ("Content-Type", "application/sdp"),
        ("Content-Disposition", "session"),
    ]
    assert entity.body == SDP
    assert bytes(entity) == raw


def test_bare_lf_folding_and_lookup() -> None:
    entity = MimeEntity.parse(b"content-type: text/plain;\n\tcharset=utf-8\nX-A:b\n\nhi\n")
    assert entity.get("Content-Type") == "text/plain; charset=utf-8"
    assert entity.get("x-a") == "b"
    assert entity.get("missing") is None
    assert entity.content_type() == ("text/plain", {"charset": "utf-8"})
    assert entity.body == b"hi\n"
    assert bytes(entity).startswith(b"content-type: text/plain; charset=utf-8\r\nX-A: b\r\n\r\n")


def test_no_headers_and_default_type() -> None:
    entity = MimeEntity.parse(b"\r\nbody")
    assert entity.headers == [] and entity.body == b"body"
    assert entity.content_type() == ("text/plain", {})


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: text/plain\r\nno empty line",
        b" folded: first\r\n\r\n",
        b"No colon\r\n\r\n",
        b"Caf\xc3\xa9: x\r\n\r\n",
    ],
)
def test_malformed_entities(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        MimeEntity.parse(raw)


def test_params() -> None:
    value = (
        'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; '
        'boundary="a b\\"c"'
    )
    media, params = parse_params(value)
    assert media == "multipart/signed"
    assert params == {
        "protocol": "application/pkcs7-signature",
        "micalg": "sha-256",
        "boundary": 'a b"c',
    }
    assert parse_params(format_params(media, params)) == (media, params)
    for bad in ["a/b; x", 'a/b; x="open', "a/b; x=y z", "a/b; =y"]:
        with pytest.raises(MalformedBody):
            parse_params(bad)


def test_multipart_parts_are_the_exact_bytes() -> None:
    parts = [b"Content-Type: application/sdp\r\n\r\n" + SDP, b"X: y\r\n\r\n\x00\r\n\x01"]
    body = b"preamble\r\n" + build_multipart(parts, "b42") + b"epilogue"
    assert parse_multipart(body, "b42") == parts
    # The same with bare LF framing, as openssl writes it.
    lf = b"--b42\nA: b\n\nx\n--b42\nC: d\n\ny\n--b42--\n"
    assert parse_multipart(lf, "b42") == [b"A: b\n\nx", b"C: d\n\ny"]


@pytest.mark.parametrize(
    ("body", "boundary"),
    [
        (b"--b\r\nA: b\r\n\r\nx\r\n", "b"),  # no closing delimiter
        (b"nothing here", "b"),
        (b"--b--\r\n", "b"),
        (b"--b\r\n\r\nx\r\n--b--", ""),
        (b"--b\r\n\r\nx\r\n--b--", "x" * 71),
    ],
)
def test_malformed_multipart(body: bytes, boundary: str) -> None:
    with pytest.raises(MalformedBody):
        parse_multipart(body, boundary)


def test_transfer_encodings() -> None:
    assert (
        MimeEntity([("Content-Transfer-Encoding", "base64")], b"aGVs\r\nbG8=\r\n").decoded_body()
        == b"hello"
    )
    assert MimeEntity([("Content-Transfer-Encoding", "8bit")], b"\xff").decoded_body() == b"\xff"
    with pytest.raises(MalformedBody, match="base64"):
        MimeEntity([("Content-Transfer-Encoding", "base64")], b"a*b=").decoded_body()
    with pytest.raises(MalformedBody, match="quoted-printable"):
        MimeEntity([("Content-Transfer-Encoding", "quoted-printable")], b"").decoded_body()


def test_canonical_crlf() -> None:
    assert canonical_crlf(b"a\nb\r\nc\n") == b"a\r\nb\r\nc\r\n"


@settings(max_examples=800)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_malformed(data: bytes) -> None:
    try:
        entity = MimeEntity.parse(data)
        entity.content_type()
        entity.decoded_body()
        parse_multipart(entity.body, entity.content_type()[1].get("boundary", "b"))
    except MalformedBody:
        pass


_NAMES = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=15)
_VALUES = st.text("".join(map(chr, range(32, 127))), max_size=30).map(str.strip)


@settings(max_examples=300)
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=6), st.binary(max_size=200))
def test_serialize_then_parse(headers: list[tuple[str, str]], body: bytes) -> None:
    entity = MimeEntity(headers, body)
    again = MimeEntity.parse(bytes(entity))
    assert again.headers == headers
    assert again.body == body
