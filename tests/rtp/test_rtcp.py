"""RTCP (RFC 3550 §6) packets and compounds, RFC 5761 demultiplexing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp.packet import RtpError
from sipsec.rtp.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    build_compound,
    is_rtcp,
    parse_compound,
)

u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(
    ReportBlock,
    ssrc=u32,
    fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-0x800000, 0x7FFFFF),
    highest_sequence=u32,
    jitter=u32,
    lsr=u32,
    dlsr=u32,
)
words = st.binary(max_size=24).map(lambda b: b[: len(b) // 4 * 4])
sr = st.builds(
    SenderReport,
    ssrc=u32,
    ntp_timestamp=st.integers(0, 2**64 - 1),
    rtp_timestamp=u32,
    packet_count=u32,
    octet_count=u32,
    reports=st.lists(blocks, max_size=4),
    extension=words,
)
rr = st.builds(ReceiverReport, ssrc=u32, reports=st.lists(blocks, max_size=4), extension=words)
sdes = st.builds(
    SourceDescription,
    chunks=st.lists(
        st.tuples(
            u32, st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=40)), max_size=4)
        ),
        max_size=5,
    ),
)
bye = st.builds(Bye, ssrcs=st.lists(u32, max_size=31), reason=st.binary(max_size=255))
unknown = st.builds(
    UnknownRtcp,
    packet_type=st.sampled_from([204, 205, 206, 207]),
    count=st.integers(0, 31),
    body=words,
)
rtcp_packets = st.lists(sr | rr | sdes | bye | unknown, min_size=1, max_size=4)


@settings(max_examples=400)
@given(rtcp_packets)
def test_compound_round_trip(packets: list[RtcpPacket]) -> None:
    data = build_compound(packets)
    assert parse_compound(data) == packets
    assert build_compound(parse_compound(data)) == data
    assert is_rtcp(data)


def test_sender_report_layout() -> None:
    """§6.4.1 field by field: header, sender info, one report block."""
    block = ReportBlock(0xAABBCCDD, 64, -2, 0x10005, 77, 0x12345678, 0x10000)
    data = bytes(SenderReport(1, 0x0102030405060708, 9, 10, 11, [block]))
    assert data[:4] == bytes.fromhex("81c8000c")  # V=2 RC=1, PT=200, 12 words follow
    assert data[4:28] == bytes.fromhex("00000001 01020304 05060708 00000009 0000000a 0000000b")
    assert data[28:] == bytes.fromhex("aabbccdd 40fffffe 00010005 0000004d 12345678 00010000")


def test_sdes_cname() -> None:
    data = bytes(SourceDescription([(7, [(1, b"alice@atlanta.example")])]))
    assert len(data) % 4 == 0
    (packet,) = parse_compound(data)
    assert isinstance(packet, SourceDescription)
    assert packet.cname(7) == "alice@atlanta.example"
    assert packet.cname(8) is None


def test_demultiplexing_rfc5761() -> None:
    assert is_rtcp(bytes.fromhex("80c8"))  # SR
    assert is_rtcp(bytes.fromhex("81cb"))  # BYE
    assert not is_rtcp(bytes.fromhex("8000"))  # PCMU
    assert not is_rtcp(bytes.fromhex("8088"))  # PCMA with marker
    assert not is_rtcp(bytes.fromhex("80e0"))  # PT 96 with marker: 224
    assert not is_rtcp(b"\x80")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\xc8\x00",
        bytes.fromhex("40c80000"),  # version 1
        bytes.fromhex("80c80001"),  # length past the end
        bytes.fromhex("80c80000"),  # SR without sender info
        bytes.fromhex("81c90001 00000001"),  # RR claims a block it lacks
        bytes.fromhex("81ca0001 00000001"),  # SDES chunk without null item
        bytes.fromhex("81ca0002 00000001 0109"),  # + item past the end ...
        bytes.fromhex("82cb0001 00000001"),  # BYE with 2 SSRCs, holds 1
        bytes.fromhex("81cb0002 00000001 09616263"),  # BYE reason past the end
        bytes.fromhex("a0c90001 00000004") + bytes.fromhex("80c90000"),  # padding not last
        bytes.fromhex("a0c90001 00000000"),  # padding count 0
        bytes.fromhex("80c90000 00"),  # trailing octet
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_compound(data)


def test_padding_on_the_last_packet() -> None:
    data = bytes.fromhex("a0c90002 00000005 00000004")
    (packet,) = parse_compound(data)
    assert packet == ReceiverReport(5, [])


def test_serialize_refuses_impossible_fields() -> None:
    with pytest.raises(RtpError):
        bytes(ReportBlock(1, 256, 0, 0, 0, 0, 0))
    with pytest.raises(RtpError):
        bytes(Bye(list(range(32))))
    with pytest.raises(RtpError):
        bytes(SourceDescription([(1, [(0, b"x")])]))
    with pytest.raises(RtpError):
        bytes(UnknownRtcp(204, 0, b"abc"))


@settings(max_examples=1000)
@given(st.binary(max_size=120))
def test_any_bytes_parse_or_raise_rtp_error(data: bytes) -> None:
    try:
        parse_compound(data)
    except RtpError:
        pass


@settings(max_examples=200)
@given(rtcp_packets, st.data())
def test_truncations_never_escape(packets: list[RtcpPacket], data: st.DataObject) -> None:
    wire = build_compound(packets)
    cut = data.draw(st.integers(0, len(wire) - 1))
    try:
        parse_compound(wire[:cut])
    except RtpError:
        pass
