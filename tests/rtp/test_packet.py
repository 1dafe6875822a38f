"""RTP packets (RFC 3550 §5.1): exact round trips, and only RtpError for bad bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp.packet import RtpError, RtpPacket, build_rtp

# Built field by field from the §5.1 figure: V=2, P=0, X=0, CC=0, M=1, PT=0,
# seq 0x1234, timestamp 0xDEADBEEF, SSRC 0x01020304, payload "abc".
SIMPLE = bytes.fromhex("80 80 1234 deadbeef 01020304") + b"abc"
# V=2 P=1 X=1 CC=2, M=0 PT=96; two CSRCs; extension profile 0xBEDE, one word;
# payload "xy", 3 octets of padding (count 3 in the last one).
FULL = (
    bytes.fromhex("b2 60 0001 00000002 00000003 0000000a 0000000b")
    + bytes.fromhex("bede 0001 11223344")
    + b"xy"
    + bytes.fromhex("000003")
)


def test_parse_simple() -> None:
    p = RtpPacket.parse(SIMPLE)
    assert (p.payload_type, p.marker, p.sequence_number) == (0, True, 0x1234)
    assert (p.timestamp, p.ssrc, p.payload) == (0xDEADBEEF, 0x01020304, b"abc")
    assert bytes(p) == SIMPLE
    assert build_rtp(0, 0x1234, 0xDEADBEEF, 0x01020304, b"abc", True) == SIMPLE


def test_parse_every_field() -> None:
    p = RtpPacket.parse(FULL)
    assert p.payload_type == 96 and not p.marker
    assert p.csrcs == [10, 11]
    assert p.extension == (0xBEDE, bytes.fromhex("11223344"))
    assert p.payload == b"xy" and p.padding == 3
    assert bytes(p) == FULL


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "shorter"),
        (SIMPLE[:11], "shorter"),
        (b"\x40" + SIMPLE[1:], "version 1"),
        (b"\x00" + SIMPLE[1:], "version 0"),
        (b"\x83" + SIMPLE[1:12] + b"\0" * 8, "CSRCs"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe\xde", "extension"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe\xde\x00\x05", "past the end"),
        (b"\xa0" + SIMPLE[1:12] + b"\x00", "padding"),
        (b"\xa0" + SIMPLE[1:12] + b"ab\x09", "padding"),
    ],
)
def test_malformed(data: bytes, why: str) -> None:
    with pytest.raises(RtpError, match=why):
        RtpPacket.parse(data)


def test_serialize_refuses_impossible_fields() -> None:
    with pytest.raises(RtpError):
        bytes(RtpPacket(0, 0, 0, 0, csrcs=list(range(16))))
    with pytest.raises(RtpError):
        bytes(RtpPacket(0, 0, 0, 0, extension=(1, b"abc")))
    with pytest.raises(RtpError):
        bytes(RtpPacket(0, 0, 0, 0, padding=256))


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    extension=st.none()
    | st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])),
    padding=st.integers(0, 255),
)


@settings(max_examples=500)
@given(packets)
def test_round_trip(packet: RtpPacket) -> None:
    data = bytes(packet)
    assert RtpPacket.parse(data) == packet
    assert bytes(RtpPacket.parse(data)) == data


@settings(max_examples=1000)
@given(st.binary(max_size=120))
def test_any_bytes_parse_or_raise_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert bytes(packet) == data  # whatever parses serializes back exactly


@settings(max_examples=300)
@given(packets, st.data())
def test_every_truncation_is_refused_or_shorter(packet: RtpPacket, data: st.DataObject) -> None:
    wire = bytes(packet)
    cut = data.draw(st.integers(0, len(wire) - 1))
    try:
        RtpPacket.parse(wire[:cut])
    except RtpError:
        pass


def test_padding_octets_survive_a_round_trip() -> None:
    # §5.1 fixes only the last padding octet (the count): the others are kept as received.
    data = bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + b"\x99\x01\x02\x03"
    packet = RtpPacket.parse(data)
    assert packet.payload == b"\x99" and packet.padding == 3
    assert bytes(packet) == data
    built = RtpPacket(0, 0, 0, 0, payload=b"\x99", padding=3)  # built here: zeros, then the count
    assert bytes(built) == bytes([0xA0]) + bytes(11) + b"\x99\x00\x00\x03"
