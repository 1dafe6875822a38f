"""The per-SSRC lanes give exactly what the single-packet path gives.

Each test runs one packet plan through a context with its lanes and through
a twin whose lanes are switched off (the ``protect_one``/``unprotect_one``
path, itself held against the general path by test_batch.py), and compares
every result, every error and the state left behind.
"""

from __future__ import annotations

import os
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.srtp import PROFILES, SrtpContext, SrtpError
from sipsec.srtp.crypto import ctr_xor
from sipsec.srtp.lane import AHEAD, RxLane, TxLane, _tails
from sipsec.srtp.lane_gcm import GcmRxLane, GcmTxLane
from sipsec.srtp.rtp import cm_iv

# Run bigger by hand: SRTP_FUZZ_SCALE=20 tools/test tests/srtp/test_lane.py
SCALE = int(os.environ.get("SRTP_FUZZ_SCALE", "1"))
CM80 = "AES_CM_128_HMAC_SHA1_80"
# Every AES-CM and AES-GCM suite takes the lanes; NULL never does.
LANE_PROFILES = [
    CM80,
    "AES_CM_128_HMAC_SHA1_32",
    "AES_192_CM_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_80",
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
]


def twins(profile: str = CM80, **options: object) -> tuple[SrtpContext, SrtpContext]:
    key = bytes(range(PROFILES[profile].master_len))
    fast = SrtpContext(profile, key, **options)  # type: ignore[arg-type]
    plain = SrtpContext(profile, key, **options)  # type: ignore[arg-type]
    plain._tx_lanes = plain._rx_lanes = False  # the path the lanes stand in for
    return fast, plain


def rtp(seq: int, ssrc: int, size: int, csrcs: int = 0, marker: bool = False) -> bytes:
    first = 0x80 | csrcs
    header = struct.pack("!BBHII", first, 0x80 if marker else 0, seq & 0xFFFF, seq, ssrc)
    return header + bytes(4 * csrcs) + bytes([seq & 0xFF]) * size


def result(call: object, packet: bytes) -> object:
    try:
        return call(packet)  # type: ignore[operator]
    except SrtpError as exc:
        return type(exc).__name__


def state(ctx: SrtpContext) -> object:
    windows = [
        sorted((ssrc, w.highest, w.mask) for ssrc, w in table.items())
        for table in (ctx._tx, ctx._rx)
    ]
    return windows, [(k.rtp_count, k.rtcp_count) for k in ctx._keys.values()]


# A plan: per packet the step in sequence number (mostly the next one), which
# of three SSRCs, payload size, CSRC count, and what happens to it on the way.
plan = st.lists(
    st.tuples(
        st.sampled_from([1, 1, 1, 1, 0, -1, -3, 2, 40, 3000, 40000]),
        st.sampled_from([0, 0, 0, 1, 2]),
        st.integers(0, 200),
        st.sampled_from([0, 0, 0, 1]),
        st.sampled_from(["ok", "ok", "ok", "ok", "flip", "cut", "replay", "junk", "mem"]),
    ),
    max_size=60,
)
ssrcs = st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=3, unique=True)


@settings(max_examples=600 * SCALE, deadline=None)
@given(plan, ssrcs, st.integers(0, 0xFFFF), st.sampled_from(LANE_PROFILES))
def test_lanes_match_the_single_packet_path(
    steps: list[tuple[int, int, int, int, str]], ids: list[int], seq0: int, profile: str
) -> None:
    tx, tx_ref = twins(profile, allow_repeat_tx=True)
    rx, rx_ref = twins(profile)
    seq = seq0
    sent: list[bytes] = []
    for step, which, size, csrcs, fate in steps:
        seq = (seq + step) & 0xFFFF
        packet = rtp(seq, ids[which], size, csrcs)
        protected = result(tx.protect, packet)
        assert protected == result(tx_ref.protect, packet)
        if not isinstance(protected, bytes):
            continue
        sent.append(protected)
        wire: object = protected
        if fate == "flip":
            wire = protected[:-1] + bytes([protected[-1] ^ 1])
        elif fate == "cut":
            wire = protected[: len(protected) // 2]
        elif fate == "replay":
            wire = sent[len(sent) // 2]
        elif fate == "junk":
            wire = b"\x80" + bytes(size)
        elif fate == "mem":
            wire = memoryview(protected)  # not bytes: never a lane's
        assert result(rx.unprotect, wire) == result(rx_ref.unprotect, wire)
    assert state(tx) == state(tx_ref)
    assert state(rx) == state(rx_ref)


def test_a_call_takes_the_lanes() -> None:
    """The steady state really runs in the lanes (else the test above proves nothing)."""
    tx, _ = twins()
    rx, _ = twins()
    for seq in range(5):
        assert rx.unprotect(tx.protect(rtp(seq, 7, 160))) == rtp(seq, 7, 160)
    assert isinstance(tx._tx_lane, TxLane) and tx._tx_lane.ssrc == 7
    assert isinstance(rx._rx_lane, RxLane) and rx._rx_lane.ssrc == 7
    gcm, _ = twins("AEAD_AES_128_GCM")
    for seq in range(5):
        assert gcm.unprotect(gcm.protect(rtp(seq, 7, 160))) == rtp(seq, 7, 160)
    assert isinstance(gcm._tx_lane, GcmTxLane) and isinstance(gcm._rx_lane, GcmRxLane)
    other, _ = twins("NULL_HMAC_SHA1_80")
    assert other.unprotect(other.protect(rtp(0, 7, 160))) == rtp(0, 7, 160)
    assert other._tx_lane is None and other._rx_lane is None


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(1, 300), st.sampled_from([CM80, "AEAD_AES_128_GCM"]))
def test_rollover_in_the_lanes(seq0: int, count: int, profile: str) -> None:
    """Across the 16-bit wrap the ROC (§3.3.1) moves on in the lane as it does outside."""
    tx, tx_ref = twins(profile)
    rx, rx_ref = twins(profile)
    start = (seq0 - count // 2) & 0xFFFF
    for i in range(count):
        packet = rtp((start + i) & 0xFFFF, 99, 33)
        protected = tx.protect(packet)
        assert protected == tx_ref.protect(packet)
        assert rx.unprotect(protected) == rx_ref.unprotect(protected) == packet
    assert state(tx) == state(tx_ref) and state(rx) == state(rx_ref)


def test_key_lifetime_and_key_switch_leave_the_lane() -> None:
    """At the end of the key's lifetime the lane steps aside (the general path
    refuses); after use_key the next packet is protected under the new key."""
    for profile in (CM80, "AEAD_AES_128_GCM"):
        tx, tx_ref = twins(profile, srtp_lifetime=4)
        for seq in range(6):
            packet = rtp(seq, 1, 20)
            assert result(tx.protect, packet) == result(tx_ref.protect, packet)
        assert result(tx.protect, rtp(9, 1, 20)) == "SrtpKeyExhaustedError"
    a, a_ref = twins(mki=b"\x01")
    for ctx in (a, a_ref):
        ctx.add_key(bytes(30), b"\x02")
    for seq in range(4):
        if seq == 2:
            a.use_key(b"\x02")
            a_ref.use_key(b"\x02")
        packet = rtp(seq, 5, 50)
        assert a.protect(packet) == a_ref.protect(packet)
    assert a.protect(rtp(4, 5, 50))[-11:-10] == b"\x02"  # the MKI of the key now in use


# Index plans for the keystream kept ahead (lane.AHEAD packets from a
# multiple of AHEAD): steps within it, to its edge and past it, size changes.
ahead_plan = st.lists(
    st.tuples(
        st.sampled_from([1, 1, 1, 1, 1, 2, 5, AHEAD - 1, AHEAD, AHEAD + 1, 3 * AHEAD, 1000]),
        st.sampled_from([160, 160, 160, 1, 15, 16, 17, 33, 0]),
    ),
    min_size=1,
    max_size=100,
)


@settings(max_examples=400 * SCALE, deadline=None)
@given(ahead_plan, st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), st.randoms())
def test_keystream_kept_ahead_is_the_plain_transform(
    steps: list[tuple[int, int]], seq0: int, ssrc: int, rng: random.Random
) -> None:
    """Byte for byte what §4.1.1's counter-mode transform (crypto.ctr_xor,
    one packet at a time) gives, on send and on receive, whatever the index
    sequence; and the receiver, given the packets reordered, lost and
    repeated, answers as the path without lanes does."""
    tx, tx_ref = twins()
    rx, rx_ref = twins()
    keys = tx._tx_key.rtp
    assert keys is not None and keys.ecb is not None
    seq, index = seq0, -1
    sent: list[bytes] = []
    for step, size in steps:
        seq = (seq + step) & 0xFFFF
        index = seq if index < 0 else index + step  # a new stream starts at ROC 0
        packet = rtp(seq, ssrc, size)
        protected = tx.protect(packet)
        assert protected == tx_ref.protect(packet)
        body = protected[12:-10]
        assert ctr_xor(keys.ecb, cm_iv(keys, ssrc, index), body) == packet[12:]
        sent.append(protected)
    # Delivery: mostly in order, some swapped, lost or delivered twice.
    arrivals: list[bytes] = []
    for i, p in enumerate(sent):
        fate = rng.random()
        if fate < 0.1 and arrivals:
            arrivals.insert(len(arrivals) - 1, p)
        elif fate < 0.15:
            continue
        elif fate < 0.2:
            arrivals += [p, sent[rng.randrange(i + 1)]]
        else:
            arrivals.append(p)
    for wire in arrivals:
        assert result(rx.unprotect, wire) == result(rx_ref.unprotect, wire)
    assert state(tx) == state(tx_ref) and state(rx) == state(rx_ref)


def test_counter_tails_are_the_blocks_they_stand_for() -> None:
    """Each table of counter-block tails, made from the shared 3-octet ones or
    afresh (longer payloads), is (c ^ p, j) for packet p and block j, in order."""
    for blocks in (1, 10, 15, 16, 17, 40):
        for c in range(256):
            expected = [b""] + [
                bytes((c ^ p, j >> 8, j & 0xFF)) for p in range(AHEAD) for j in range(blocks)
            ]
            assert _tails(c, blocks) == expected
            assert _tails(c, blocks) == expected  # and again, from the cache when kept
