"""Hypothesis: any input gives a result or an SrtpError, and a refused packet changes nothing.

Like h11's fuzz harness: bytes of every shape, and valid packets bent out of
shape (bit flips, cuts, appended junk), against every profile, with and
without an MKI.
"""

from __future__ import annotations

import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.srtp import PROFILES, SrtpContext, SrtpError

# Run bigger by hand: SRTP_FUZZ_SCALE=20 tools/test tests/srtp
SCALE = int(os.environ.get("SRTP_FUZZ_SCALE", "1"))

PROFILE_NAMES = sorted(PROFILES)


def state(ctx: SrtpContext) -> object:
    """Everything a packet may change, in comparable form."""
    streams = [
        {ssrc: (w.highest, w.mask) for ssrc, w in table.items()}
        for table in (ctx._tx, ctx._rx, ctx._rx_rtcp)
    ]
    counts = {mki: (k.rtp_count, k.rtcp_count) for mki, k in ctx._keys.items()}
    return streams, dict(ctx._tx_rtcp), counts


def make(profile: str, mki: bool) -> SrtpContext:
    key = bytes(range(PROFILES[profile].master_len))
    return SrtpContext(profile, key, mki=b"\x05\x06" if mki else None)


def primed(profile: str, mki: bool) -> tuple[SrtpContext, SrtpContext, list[bytes], list[bytes]]:
    """A sender and a receiver that has already seen a few packets."""
    tx, rx = make(profile, mki), make(profile, mki)
    srtp = [tx.protect(struct.pack("!BBHII", 0x80, 0, s, 0, 77) + b"x" * s) for s in range(1, 9)]
    srtcp = [tx.protect_rtcp(struct.pack("!BBHI", 0x81, 200, 1, 77) + b"abcd") for _ in range(3)]
    for p in srtp[:4]:
        rx.unprotect(p)
    rx.unprotect_rtcp(srtcp[0])
    return tx, rx, srtp, srtcp


def bend(data: bytes, flips: list[int], cut: int | None, junk: bytes) -> bytes:
    out = bytearray(data)
    for bit in flips:
        out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    if cut is not None:
        out = out[: cut % (len(out) + 1)]
    return bytes(out) + junk


@settings(max_examples=1000 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILE_NAMES),
    mki=st.booleans(),
    data=st.binary(max_size=120),
    rtcp=st.booleans(),
)
def test_any_bytes(profile: str, mki: bool, data: bytes, rtcp: bool) -> None:
    ctx = make(profile, mki)
    for call in (ctx.unprotect_rtcp, ctx.protect_rtcp) if rtcp else (ctx.unprotect, ctx.protect):
        before = state(ctx)
        try:
            call(data)
        except SrtpError:
            assert state(ctx) == before


@settings(max_examples=1000 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILE_NAMES),
    mki=st.booleans(),
    which=st.integers(0, 10),
    flips=st.lists(st.integers(0, 8 * 400), max_size=3),
    cut=st.none() | st.integers(0, 400),
    junk=st.binary(max_size=8),
)
def test_bent_packets_change_nothing(
    profile: str, mki: bool, which: int, flips: list[int], cut: int | None, junk: bytes
) -> None:
    _, rx, srtp, srtcp = primed(profile, mki)
    is_rtcp = which >= len(srtp)
    original = srtcp[which % len(srtcp)] if is_rtcp else srtp[which]
    packet = bend(original, flips, cut, junk)
    call = rx.unprotect_rtcp if is_rtcp else rx.unprotect
    before = state(rx)
    try:
        call(packet)
    except SrtpError:
        assert state(rx) == before
    else:
        # Accepted: only an untouched, not yet seen packet may pass.
        assert packet == original
        assert which >= 4
