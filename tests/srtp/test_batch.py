"""protect_many / unprotect_many give exactly what packet-by-packet calls give."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.srtp import (
    PROFILES,
    SrtpAuthError,
    SrtpContext,
    SrtpError,
    SrtpMalformedError,
    SrtpReplayError,
)

# Run bigger by hand: SRTP_FUZZ_SCALE=20 tools/test tests/srtp
SCALE = int(os.environ.get("SRTP_FUZZ_SCALE", "1"))

CM80 = "AES_CM_128_HMAC_SHA1_80"


def rtp(seq: int, ssrc: int, size: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq, ssrc) + bytes([seq & 0xFF]) * size


def outcome(result: bytes | SrtpError) -> object:
    return type(result).__name__ if isinstance(result, SrtpError) else result


def singly(call: object, packets: list[bytes]) -> list[object]:
    out: list[object] = []
    for p in packets:
        try:
            out.append(call(p))  # type: ignore[operator]
        except SrtpError as exc:
            out.append(type(exc).__name__)
    return out


def make(profile: str, mki: bool, rate: int = 0) -> SrtpContext:
    key = bytes(range(PROFILES[profile].master_len))
    return SrtpContext(profile, key, mki=b"\x01" if mki else None, key_derivation_rate=rate)


packet_plan = st.lists(
    st.tuples(
        st.integers(0, 70000),  # sequence (wraps)
        st.integers(0, 2),  # SSRC
        st.integers(0, 200),  # payload size
        st.sampled_from(["ok", "ok", "ok", "flip", "cut", "replay", "junk"]),
    ),
    max_size=40,
)


@settings(max_examples=200 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(sorted(PROFILES)),
    mki=st.booleans(),
    rate=st.sampled_from([0, 0, 4]),
    plan=packet_plan,
)
def test_batches_equal_single_calls(
    profile: str, mki: bool, rate: int, plan: list[tuple[int, int, int, str]]
) -> None:
    plain = [rtp(seq, ssrc, size) for seq, ssrc, size, _ in plan]
    plain += [b"\x80", b"\x40" + bytes(20)]  # malformed ones too
    tx_one, tx_many = make(profile, mki, rate), make(profile, mki, rate)
    one = singly(tx_one.protect, plain)
    many = [outcome(r) for r in tx_many.protect_many(plain)]
    assert many == one
    srtp: list[bytes] = []
    for (_, _, _, how), result in zip(plan, one, strict=False):
        if not isinstance(result, bytes):
            continue
        if how == "flip":
            result = result[:-1] + bytes([result[-1] ^ 0x10])
        elif how == "cut":
            result = result[: len(result) // 2]
        elif how == "replay" and srtp:
            result = srtp[-1]
        elif how == "junk":
            result = b"\x80" + result[1:] + b"junk"
        srtp.append(result)
    rx_one, rx_many = make(profile, mki, rate), make(profile, mki, rate)
    assert [outcome(r) for r in rx_many.unprotect_many(srtp)] == singly(rx_one.unprotect, srtp)
    for ctx_a, ctx_b in ((tx_one, tx_many), (rx_one, rx_many)):
        for a, b in ((ctx_a._tx, ctx_b._tx), (ctx_a._rx, ctx_b._rx)):
            assert {k: (w.highest, w.mask) for k, w in a.items()} == {
                k: (w.highest, w.mask) for k, w in b.items()
            }


def test_bad_packet_reported_in_place() -> None:
    tx, rx = make(CM80, False), make(CM80, False)
    good = tx.protect_many([rtp(s, 1, 160) for s in range(1, 257)])
    assert all(isinstance(p, bytes) for p in good)
    batch: list[bytes | bytearray] = [p for p in good if isinstance(p, bytes)]
    batch[200] = batch[200][:-1] + b"\x00"
    batch[210] = batch[209]
    batch[220] = b"\x80\x00"
    batch[230] = bytearray(batch[230])
    out = rx.unprotect_many(batch)
    assert isinstance(out[200], SrtpAuthError)
    assert isinstance(out[210], SrtpReplayError)
    assert isinstance(out[220], SrtpMalformedError)
    assert out[230] == rtp(231, 1, 160)
    assert [o for i, o in enumerate(out) if i not in (200, 210, 220)] == [
        rtp(s, 1, 160) for s in range(1, 257) if s - 1 not in (200, 210, 220)
    ]
    # The refused ones were not recorded: their genuine copies still pass.
    assert rx.unprotect(good[200]) == rtp(201, 1, 160)  # type: ignore[arg-type]
    assert rx.unprotect(good[210]) == rtp(211, 1, 160)  # type: ignore[arg-type]


def test_protect_many_refuses_non_bytes_in_place() -> None:
    out = make(CM80, False).protect_many([rtp(1, 1, 4), "text", rtp(2, 1, 4)])  # type: ignore[list-item]
    assert isinstance(out[1], SrtpMalformedError)
    assert isinstance(out[0], bytes) and isinstance(out[2], bytes)


@pytest.mark.parametrize("profile", ["AEAD_AES_128_GCM", "NULL_HMAC_SHA1_80"])
def test_many_ssrcs_and_profiles(profile: str) -> None:
    tx, rx = make(profile, True), make(profile, True)
    plain = [rtp(s, s % 5, s % 50) for s in range(300)]
    assert rx.unprotect_many(tx.protect_many(plain)) == plain  # type: ignore[arg-type]


def run(seq0: int, count: int, size: int, ssrc: int = 9) -> list[bytes]:
    return [
        struct.pack("!BBHII", 0x80, 0, (seq0 + k) & 0xFFFF, k, ssrc) + bytes([k & 0xFF]) * size
        for k in range(count)
    ]


@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(
        [
            "AES_CM_128_HMAC_SHA1_80",
            "AES_CM_128_HMAC_SHA1_32",
            "AES_256_CM_HMAC_SHA1_80",
            "AEAD_AES_128_GCM",
            "AEAD_AES_256_GCM",
        ]
    ),
    start=st.sampled_from([0, 1, 100, 32700, 65500, 65535]) | st.integers(0, 65535),
    chunks=st.lists(st.integers(1, 300), min_size=1, max_size=4),
    size=st.sampled_from([0, 1, 15, 16, 17, 160]) | st.integers(0, 300),
    bad=st.none() | st.integers(0, 10_000),
    mki=st.booleans(),
)
def test_consecutive_batches_equal_single_calls(
    profile: str, start: int, chunks: list[int], size: int, bad: int | None, mki: bool
) -> None:
    """Batches of one SSRC with consecutive sequence numbers (the whole-batch path)."""
    plain = run(start, sum(chunks), size)
    tx_one, tx_many = make(profile, mki), make(profile, mki)
    one = [tx_one.protect(p) for p in plain]
    many: list[object] = []
    pos = 0
    for chunk in chunks:
        many += tx_many.protect_many(plain[pos : pos + chunk])
        pos += chunk
    assert many == one
    if bad is not None:
        i = bad % len(one)
        one[i] = one[i][:-1] + bytes([one[i][-1] ^ 1])
    rx_one, rx_many = make(profile, mki), make(profile, mki)
    expected = singly(rx_one.unprotect, one)
    got: list[object] = []
    pos = 0
    for chunk in chunks:
        got += [outcome(r) for r in rx_many.unprotect_many(one[pos : pos + chunk])]
        pos += chunk
    assert got == expected
    for ctx_a, ctx_b in ((tx_one, tx_many), (rx_one, rx_many)):
        for a, b in ((ctx_a._tx, ctx_b._tx), (ctx_a._rx, ctx_b._rx)):
            assert {k: (w.highest, w.mask) for k, w in a.items()} == {
                k: (w.highest, w.mask) for k, w in b.items()
            }
        assert ctx_a._tx_key.rtp_count == ctx_b._tx_key.rtp_count


def test_whole_batch_path_refuses_replays_and_old_packets() -> None:
    tx, rx = make(CM80, False), make(CM80, False)
    first = tx.protect_many(run(1, 64, 160))
    assert rx.unprotect_many(first) == run(1, 64, 160)
    again = rx.unprotect_many(first)
    assert all(isinstance(r, SrtpReplayError) for r in again)
    # Key lifetime: a batch that would cross it is cut packet by packet.
    short = SrtpContext(CM80, bytes(range(30)), srtp_lifetime=20)
    out = short.protect_many(run(1, 32, 10))
    assert [isinstance(r, bytes) for r in out] == [True] * 20 + [False] * 12


@pytest.mark.parametrize("profile", [CM80, "AEAD_AES_128_GCM"])
def test_a_batch_longer_than_the_precomputed_columns(profile: str) -> None:
    """Over 4096 packets the uniform check falls back to unpacking every header."""
    from sipsec.srtp.uniform import _MAX_COLUMN, _shape

    plain = run(65000, _MAX_COLUMN + 904, 20)  # wraps the sequence number too
    assert _shape(plain, 0) is not None
    tx_one, tx_many = make(profile, False), make(profile, False)
    one = [tx_one.protect(p) for p in plain]
    assert tx_many.protect_many(plain) == one
    rx_one, rx_many = make(profile, False), make(profile, False)
    assert rx_many.unprotect_many(one) == [rx_one.unprotect(p) for p in one] == plain


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p[:8] + b"\x00\x00\x77\x09" + p[12:],  # another SSRC
        lambda p: p[:11] + bytes([p[11] ^ 1]) + p[12:],  # SSRC, last octet
        lambda p: b"\x90" + p[1:],  # an extension header
        lambda p: p[:2] + bytes([p[2] ^ 0x80]) + p[3:],  # sequence gap (high octet)
        lambda p: p[:3] + bytes([p[3] ^ 1]) + p[4:],  # sequence gap (low octet)
        lambda p: p + b"x",  # another size
    ],
)
def test_nearly_uniform_batches_take_the_packet_path(spoil: object) -> None:
    from sipsec.srtp.uniform import _shape

    plain = run(65530, 40, 160)
    plain[17] = spoil(plain[17])  # type: ignore[operator]
    assert _shape(plain, 0) is None
    tx_one, tx_many = make(CM80, False), make(CM80, False)
    one = singly(tx_one.protect, plain)
    assert [outcome(r) for r in tx_many.protect_many(plain)] == one
