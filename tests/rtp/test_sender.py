"""The RTP sender: random start, one packet per ptime, talkspurt markers."""

from __future__ import annotations

import random

import pytest

from sipsec.rtp.packet import RtpPacket
from sipsec.rtp.sender import RtpSender


def test_initial_values_are_random() -> None:
    a = RtpSender(0, now=0.0, rng=random.Random(1))
    b = RtpSender(0, now=0.0, rng=random.Random(2))
    pa = RtpPacket.parse(a.send(b"x", 0.0))
    pb = RtpPacket.parse(b.send(b"x", 0.0))
    assert pa.ssrc != pb.ssrc
    assert pa.sequence_number != pb.sequence_number
    assert pa.timestamp != pb.timestamp


def test_sequence_timestamp_and_marker() -> None:
    s = RtpSender(8, now=10.0, rng=random.Random(3))
    assert s.samples_per_frame == 160 and s.next_time == 10.0
    first = RtpPacket.parse(s.send(bytes(160), 10.0))
    assert s.next_time == pytest.approx(10.02)
    second = RtpPacket.parse(s.send(bytes(160), 10.02))
    assert first.marker and not second.marker
    assert first.payload_type == 8
    assert second.sequence_number == (first.sequence_number + 1) % 65536
    assert second.timestamp == (first.timestamp + 160) % 2**32
    s.skip()  # a suppressed silent frame: time moves, sequence does not
    third = RtpPacket.parse(s.send(bytes(160), 10.06))
    assert third.marker
    assert third.sequence_number == (second.sequence_number + 1) % 65536
    assert third.timestamp == (second.timestamp + 320) % 2**32
    assert (s.packets_sent, s.octets_sent) == (3, 480)


def test_late_packets_are_counted() -> None:
    s = RtpSender(0, now=0.0, rng=random.Random(4))
    s.send(b"", 0.009)  # within half a ptime
    s.send(b"", 0.035)  # due at 0.02: 15 ms late
    assert s.late_packets == 1
    assert s.max_lateness == pytest.approx(0.015)


def test_rtp_timestamp_follows_the_clock() -> None:
    s = RtpSender(0, now=5.0, rng=random.Random(5))
    first = RtpPacket.parse(s.send(b"", 5.0))
    assert s.rtp_timestamp_at(5.0) == first.timestamp
    assert s.rtp_timestamp_at(6.0) == (first.timestamp + 8000) % 2**32


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="payload type"):
        RtpSender(128, now=0.0, rng=random.Random())
    with pytest.raises(ValueError, match="positive"):
        RtpSender(0, now=0.0, rng=random.Random(), ptime=0)
