"""Whole bodies: the RFC documents round-trip byte for byte; order and framing errors."""

from __future__ import annotations

import pytest

from sipsec.errors import ProtocolError
from sipsec.sdp import (
    Attribute,
    Connection,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    direction_of,
    parse_sdp,
)

from .conftest import DOCUMENTS, vector


@pytest.mark.parametrize("name", DOCUMENTS)
def test_rfc_documents_round_trip_exactly(name: str) -> None:
    data = vector(name)
    assert bytes(parse_sdp(data)) == data
    assert SessionDescription.parse(data) == parse_sdp(data)


def test_rfc4566_section5_example_structure() -> None:
    sdp = parse_sdp(vector("rfc4566-5-example.sdp"))
    assert sdp.origin.username == "jdoe" and sdp.origin.address == "10.47.16.5"
    assert sdp.name == "SDP Seminar"
    assert sdp.emails == ["j.doe@example.com (Jane Doe)"]
    assert sdp.connection == Connection("224.2.17.12", "IP4", "IN", 127)
    assert [(m.media, m.port, m.proto, m.formats) for m in sdp.media] == [
        ("audio", 49170, "RTP/AVP", ["0"]),
        ("video", 51372, "RTP/AVP", ["99"]),
    ]
    # §5: the session-level a=recvonly applies to both media.
    assert [direction_of(sdp, m) for m in sdp.media] == ["recvonly", "recvonly"]
    assert sdp.media[1].attribute_values("rtpmap") == ["99 h263-1998/90000"]


def test_unknown_attributes_are_kept() -> None:
    sdp = parse_sdp(vector("rfc4568-4.5-example.sdp"))
    app = sdp.media[2]
    assert (app.media, app.proto, app.formats) == ("application", "udp", ["wb"])
    assert app.attributes == [Attribute("orient", "portrait")]


def test_lf_bodies_and_a_missing_final_line_end_round_trip() -> None:
    data = vector("rfc4566-5-example.sdp").replace(b"\r\n", b"\n")
    sdp = parse_sdp(data)
    assert sdp.eol == "\n" and bytes(sdp) == data
    assert bytes(parse_sdp(data[:-1])) == data[:-1]


def test_builder_makes_a_body_that_parses_back() -> None:
    sdp = SessionDescription(
        origin=Origin("alice", "1", "2", "192.0.2.1"),
        connection=Connection("192.0.2.1"),
    )
    media = MediaDescription("audio", 4000, "RTP/AVP", ["0"])
    media.add_attribute("rtpmap", "0 PCMU/8000")
    media.add_attribute("sendonly")
    sdp.media.append(media)
    data = bytes(sdp)
    assert data == (
        b"v=0\r\no=alice 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n"
    )
    assert parse_sdp(data) == sdp


BASE = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "UTF-8"),
        (b"v=1\r\n" + BASE[5:], "version"),
        (BASE.replace(b"v=0\r\n", b""), "required"),
        (BASE.replace(b"s=-\r\n", b""), "required"),
        (BASE.replace(b"t=0 0\r\n", b""), "required"),
        (b"o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\ns=-\r\nt=0 0\r\n", "order"),
        (BASE + b"s=again\r\n", "order"),
        (BASE + b"c=IN IP4 192.0.2.1\r\n", "order"),
        (BASE + b"x=unknown\r\n", "not allowed"),
        (BASE + b"m=audio 1 RTP/AVP 0\r\nt=0 0\r\n", "not allowed"),
        (BASE + b"m=audio 1 RTP/AVP 0\r\na=x\r\nc=IN IP4 192.0.2.1\r\n", "order"),
        (BASE + b"m=audio 1 RTP/AVP 0\r\ni=a\r\ni=b\r\n", "order"),
        (BASE + b"a=x\r\n\r\n", "type"),
        (BASE + b"a=x\n", "stray"),
        (BASE + b"a=x\ra=y\r\n", "stray"),
        (BASE + b"a=x\x00\r\n", "stray"),
        (BASE + b"A=x\r\n", "type"),
        (BASE + b"a =x\r\n", "type"),
        (BASE.replace(b"t=0 0\r\n", b"r=7d 1h 0\r\n"), "without"),
        (BASE + b"a=" + b"x" * 70000 + b"\r\n", "larger"),
    ],
)
def test_invalid_bodies_raise_sdp_error_400(body: bytes, why: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(body)
    assert isinstance(info.value, ProtocolError)
    assert info.value.status == 400 and why in info.value.reason


def test_media_level_connection_wins() -> None:
    body = BASE.replace(b"t=0", b"c=IN IP4 192.0.2.1\r\nt=0") + (
        b"m=audio 1 RTP/AVP 0\r\nc=IN IP4 198.51.100.7\r\nc=IN IP4 198.51.100.8\r\n"
    )
    sdp = parse_sdp(body)
    assert sdp.connection_for(sdp.media[0]) == Connection("198.51.100.7")
    assert bytes(sdp) == body


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "x\r\nk=clear:injected"), ("name", "\ud800"), ("information", "a\x00")],
)
def test_built_values_cannot_inject_lines(field: str, value: str) -> None:
    sdp = SessionDescription()
    setattr(sdp, field, value)
    with pytest.raises(SdpError) as info:
        bytes(sdp)
    assert info.value.status == 500


def test_validate_parses_a_built_description_back() -> None:
    sdp = SessionDescription()
    sdp.media.append(MediaDescription("audio", 70000, "RTP/AVP", ["0"]))
    with pytest.raises(SdpError, match="65535"):
        sdp.validate()
    sdp.media[0].port = 7000
    assert sdp.validate() == sdp


KITCHEN_SINK = (
    b"v=0\r\n"
    b"o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
    b"s=SDP Seminar\r\n"
    b"i=A Seminar on the session description protocol\r\n"
    b"u=http://www.example.com/seminars/sdp.pdf\r\n"
    b"e=j.doe@example.com (Jane Doe)\r\n"
    b"e=Jane Doe <j.doe@example.com>\r\n"
    b"p=+1 617 555-6011\r\n"
    b"c=IN IP4 224.2.1.1/127/3\r\n"
    b"b=X-YZ:128\r\n"
    b"t=3034423619 3042462419\r\n"
    b"r=604800 3600 0 90000\r\n"
    b"r=7d 1h 0 25h\r\n"
    b"t=0 0\r\n"
    b"z=2882844526 -1h 2898848070 0\r\n"
    b"k=prompt\r\n"
    b"a=recvonly\r\n"
    b"m=video 49170/2 RTP/AVP 31\r\n"
    b"i=the video\r\n"
    b"c=IN IP6 FF15::101/3\r\n"
    b"b=AS:256\r\n"
    b"k=uri:https://keys.example/v\r\n"
    b"a=rtpmap:31 H261/90000\r\n"
    b"m=audio 49172 RTP/AVP 0\r\n"
    b"a=tool:caf\xc3\xa9\r\n"
)


def test_every_line_type_round_trips() -> None:
    sdp = parse_sdp(KITCHEN_SINK)
    assert bytes(sdp) == KITCHEN_SINK
    assert sdp.phones == ["+1 617 555-6011"] and len(sdp.emails) == 2
    assert [len(t.repeats) for t in sdp.times] == [2, 0]
    assert sdp.times[0].repeats[1].offsets_s == [0, 90000]
    assert sdp.zone is not None and sdp.zone.adjustments == [(2882844526, -3600), (2898848070, 0)]
    assert sdp.key is not None and sdp.key.method == "prompt"
    video = sdp.media[0]
    assert (video.information, video.port_count, video.bandwidths[0].bandwidth) == (
        "the video",
        2,
        256,
    )
    assert video.key is not None and video.key.method == "uri"
    assert sdp.media[1].attribute_values("tool") == ["café"]


@pytest.mark.parametrize(
    "bad",
    [
        b"c=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n",
        b"z=1 0\r\nz=2 0\r\n",
        b"k=prompt\r\nk=prompt\r\n",
        b"u=a\r\nu=b\r\n",
    ],
)
def test_session_lines_allowed_once(bad: bytes) -> None:
    body = BASE.replace(b"t=0 0\r\n", b"") + (
        b"t=0 0\r\n" + bad if bad[0:1] in b"zk" else bad + b"t=0 0\r\n"
    )
    with pytest.raises(SdpError, match="repeated"):
        parse_sdp(body)


def test_bytes_only_and_a_bad_eol_is_ours() -> None:
    with pytest.raises(SdpError):
        parse_sdp("v=0\r\n")  # type: ignore[arg-type]
    with pytest.raises(SdpError) as info:
        bytes(SessionDescription(eol="\r"))
    assert info.value.status == 500


def test_address_ranges_are_bounded() -> None:
    with pytest.raises(SdpError):
        Connection.parse("IN IP4 224.2.1.1/127/257")
    with pytest.raises(SdpError, match="past the end"):
        Connection.parse("IN IP4 255.255.255.255/1/2").addresses()
    with pytest.raises(SdpError, match="numeric"):
        Connection.parse("IN IP6 host.example/2").addresses()
    assert Connection.parse("IN IP4 host.example").addresses() == ["host.example"]
