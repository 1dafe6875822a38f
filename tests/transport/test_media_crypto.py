"""SRTP around a media stream, sans-IO: 5 s of audio both ways on a fake clock."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp import MediaConfig, MediaStream, ReceiverReport, build_compound, g711, is_rtcp
from sipsec.rtp.packet import build_rtp
from sipsec.rtp.quality import align, snr_db, sweep_tone
from sipsec.srtp import SrtpContext
from sipsec.transport.media_crypto import MediaCrypto

SUITE = "AES_CM_128_HMAC_SHA1_80"
A = ("127.0.0.1", 40000)
B = ("127.0.0.1", 50000)


def secure_pair() -> tuple[MediaCrypto, MediaCrypto]:
    k1, k2 = os.urandom(30), os.urandom(30)
    return MediaCrypto.srtp(SUITE, k1, k2), MediaCrypto.srtp(SUITE, k2, k1)


def run(
    a: MediaStream, b: MediaStream, ca: MediaCrypto, cb: MediaCrypto, end: float, tamper: int = 0
) -> tuple[bytes, bytes, list[bytes]]:
    """Pump both streams to ``end`` with 5 ms of delay; return both recordings
    and every protected datagram A sent.  ``tamper``: flip a bit in every
    n-th of A's datagrams on the way."""
    now = 0.0
    recordings: dict[int, list[bytes]] = {id(a): [], id(b): []}
    wire: list[bytes] = []
    in_flight: list[tuple[float, MediaStream, MediaCrypto, bytes, tuple[str, int]]] = []
    while now <= end:
        for stream, crypto, peer, peer_crypto, source in ((a, ca, b, cb, A), (b, cb, a, ca, B)):
            stream.handle_timer(now)
            for data, _, _ in crypto.protect(stream.datagrams_to_send()):
                if stream is a:
                    wire.append(data)
                    if tamper and len(wire) % tamper == 0:
                        data = data[:-1] + bytes([data[-1] ^ 1])
                in_flight.append((now + 0.005, peer, peer_crypto, data, source))
            recordings[id(stream)].append(stream.take_audio())
        now += 0.005
        for item in [i for i in in_flight if i[0] <= now]:
            in_flight.remove(item)
            _, peer, peer_crypto, data, source = item
            plain = peer_crypto.unprotect(data, is_rtcp(data))
            if plain is not None:
                peer.receive(plain, source, now)
    return b"".join(recordings[id(a)]), b"".join(recordings[id(b)]), wire


def test_five_seconds_both_ways_over_srtp() -> None:
    tone_a, tone_b = sweep_tone(5.0), sweep_tone(5.0, amplitude=8000)
    cfg = MediaConfig()
    a = MediaStream(cfg, now=0.0, remote_rtp=B, audio=tone_a, rng=random.Random(1))
    b = MediaStream(cfg, now=0.0, remote_rtp=A, audio=tone_b, rng=random.Random(2))
    ca, cb = secure_pair()
    rec_a, rec_b, wire = run(a, b, ca, cb, 5.5)
    for sent, recording in ((tone_a, rec_b), (tone_b, rec_a)):
        lag = align(sent, recording)
        assert lag == 0
        assert snr_db(sent, recording, lag) >= 35
    assert a.stats is not None and b.stats is not None
    assert a.stats.received == b.stats.received == 250
    assert ca.counters == cb.counters  # all zero: nothing refused
    assert cb.counters.auth_failed == 0
    # What went over the wire is not the audio: SRTP encrypted it.
    rtp = [w for w in wire if not is_rtcp(w)]
    assert all(len(w) == 12 + 160 + 10 for w in rtp)
    assert a.rtt is not None


def test_forged_and_replayed_packets_are_counted_not_raised() -> None:
    cfg = MediaConfig()
    a = MediaStream(cfg, now=0.0, remote_rtp=B, audio=sweep_tone(1.0), rng=random.Random(3))
    b = MediaStream(cfg, now=0.0, remote_rtp=A, rng=random.Random(4))
    ca, cb = secure_pair()
    _, _, wire = run(a, b, ca, cb, 1.2, tamper=10)
    assert cb.counters.auth_failed == len(wire) // 10
    assert b.stats is not None
    assert b.stats.received == 50 - cb.counters.auth_failed
    # Replaying what was already accepted is refused as a replay.
    for data in wire[:5]:
        if not is_rtcp(data):
            assert cb.unprotect(data, False) is None
    assert cb.counters.replayed >= 4


def test_plain_must_be_asked_for() -> None:
    plain = MediaCrypto.plain()
    assert not plain.secure and plain.unprotect(b"x", False) == b"x"
    with pytest.raises(ValueError, match="both"):
        MediaCrypto(SrtpContext(SUITE, bytes(30)), None)
    assert "key" not in repr(MediaCrypto.srtp(SUITE, bytes(30), bytes(30))).lower()


GARBAGE_SINK = secure_pair()[1]  # refusals change no SRTP state, so one will do


@settings(max_examples=500)
@given(st.binary(max_size=200), st.booleans())
def test_garbage_is_counted(data: bytes, rtcp: bool) -> None:
    cb = GARBAGE_SINK
    before = cb.counters.auth_failed + cb.counters.replayed + cb.counters.other
    assert cb.unprotect(data, rtcp) is None
    assert cb.counters.auth_failed + cb.counters.replayed + cb.counters.other == before + 1


@pytest.mark.interop
def test_libsrtp_reads_what_the_stream_sends() -> None:
    """libsrtp (pylibsrtp), a peer nobody here wrote, opens the session's packets."""
    pylibsrtp = pytest.importorskip("pylibsrtp")
    key = os.urandom(30)
    crypto = MediaCrypto.srtp(SUITE, key, os.urandom(30))
    tone = sweep_tone(0.2)
    stream = MediaStream(MediaConfig(), now=0.0, remote_rtp=B, audio=tone, rng=random.Random(9))
    stream.handle_timer(1.0)
    policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
    session = pylibsrtp.Session(policy=policy)
    payloads = []
    for data, _, rtcp in crypto.protect(stream.datagrams_to_send()):
        plain = session.unprotect_rtcp(data) if rtcp else session.unprotect(data)
        if not rtcp:
            payloads.append(plain[12:])
    assert len(payloads) == 10
    assert g711.ulaw_decode(b"".join(payloads)) == g711.ulaw_decode(g711.ulaw_encode(tone))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["rtp", "rtp", "rtp", "rtcp", "junk"]),
            st.integers(0, 0xFFFF),
            st.integers(0, 200),
        ),
        max_size=30,
    ),
    st.sampled_from([SUITE, "AEAD_AES_128_GCM"]),
    st.integers(1, 40),
)
def test_protect_one_is_protect_a_datagram_at_a_time(
    items: list[tuple[str, int, int]], suite: str, lifetime: int
) -> None:
    """What a session sends through protect_one (one datagram at a time) is
    what protect gives for the batch: the same datagrams, the same refusals
    (a key past its lifetime, malformed input) counted the same."""
    key = bytes(range(30 if suite == SUITE else 28))
    one = MediaCrypto(SrtpContext(suite, key, srtp_lifetime=lifetime), SrtpContext(suite, key))
    batch = MediaCrypto(SrtpContext(suite, key, srtp_lifetime=lifetime), SrtpContext(suite, key))
    datagrams: list[tuple[bytes, tuple[str, int], bool]] = []
    for kind, seq, size in items:
        if kind == "rtp":
            data = build_rtp(0, seq, seq * 160, 0x1234, bytes(size), False)
        elif kind == "rtcp":
            data = build_compound([ReceiverReport(0x1234, [])])
        else:
            data = bytes(size % 12)
        datagrams.append((data, A, kind == "rtcp"))
    singly = [(one.protect_one(d, r), addr, r) for d, addr, r in datagrams]
    assert [x for x in singly if x[0] is not None] == batch.protect(datagrams)
    assert one.counters == batch.counters
