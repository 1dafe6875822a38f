"""SRTP speed: sipsec against libsrtp (pylibsrtp), same run, same packets.

Packets are 172-octet G.711 RTP packets (12-octet header, 160-octet payload)
of one SSRC with consecutive sequence numbers. Prints packets per second and
the sipsec/libsrtp ratio for single-packet protect/unprotect and for the
batch API (``protect_many``/``unprotect_many`` over batches of 256 against
libsrtp's per-packet loop). Runs of both sides are interleaved and the best of
``--repeat`` is kept; by default the clock is the process's CPU time, so that
other work on a shared machine does not tilt the ratio.

    .venv/bin/python bench/bench_srtp.py [--packets N] [--repeat R] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import os
import struct
import time
from collections.abc import Callable

import pylibsrtp

from sipsec.srtp import SrtpContext

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
}
KEY_LEN = {"AES_CM_128_HMAC_SHA1_80": 30, "AEAD_AES_128_GCM": 28}
BATCH = 256


def packets(count: int, ssrc: int = 0x5EC0DE01) -> list[bytes]:
    payload = os.urandom(160)
    return [
        struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, i * 160 & 0xFFFFFFFF, ssrc) + payload
        for i in range(count)
    ]


def libsrtp_pair(profile: str, key: bytes) -> tuple[pylibsrtp.Session, pylibsrtp.Session]:
    prof = PROFILES[profile]
    tx = pylibsrtp.Session(
        pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=prof)
    )
    rx = pylibsrtp.Session(
        pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=prof)
    )
    return tx, rx


def race(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    count: int,
    repeat: int,
    clock: Callable[[], float],
) -> tuple[float, float]:
    """Best packets/s of each, their runs interleaved so that both see the same load."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for side, run in enumerate((ours, theirs)):
            t0 = clock()
            run()
            best[side] = min(best[side], clock() - t0)
    return count / best[0], count / best[1]


def bench(
    profile: str, count: int, repeat: int, clock: Callable[[], float]
) -> list[tuple[str, float, float]]:
    key = os.urandom(KEY_LEN[profile])
    plain = packets(count)
    prof = PROFILES[profile]
    out = pylibsrtp.Policy.SSRC_ANY_OUTBOUND
    inb = pylibsrtp.Policy.SSRC_ANY_INBOUND
    protected = [libsrtp_pair(profile, key)[0].protect(p) for p in plain]
    # Bit-exact before timed: sipsec must produce what libsrtp produces.
    assert protected == SrtpContext(profile, key).protect_many(plain)

    # New sessions every run: a sequence number already used would be refused.
    def s_protect() -> None:
        f = SrtpContext(profile, key).protect
        for p in plain:
            f(p)

    def s_unprotect() -> None:
        f = SrtpContext(profile, key).unprotect
        for p in protected:
            f(p)

    def s_protect_many() -> None:
        f = SrtpContext(profile, key).protect_many
        for i in range(0, count, BATCH):
            f(plain[i : i + BATCH])

    def s_unprotect_many() -> None:
        f = SrtpContext(profile, key).unprotect_many
        for i in range(0, count, BATCH):
            f(protected[i : i + BATCH])

    def l_protect() -> None:
        f = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=out, srtp_profile=prof)).protect
        for p in plain:
            f(p)

    def l_unprotect() -> None:
        f = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=inb, srtp_profile=prof)).unprotect
        for p in protected:
            f(p)

    return [
        (f"{profile} protect", *race(s_protect, l_protect, count, repeat, clock)),
        (f"{profile} unprotect", *race(s_unprotect, l_unprotect, count, repeat, clock)),
        (f"{profile} protect_many/{BATCH}", *race(s_protect_many, l_protect, count, repeat, clock)),
        (
            f"{profile} unprotect_many/{BATCH}",
            *race(s_unprotect_many, l_unprotect, count, repeat, clock),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: process CPU time (fair on a shared machine); wall: perf_counter",
    )
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"{'case':44} {'sipsec pkt/s':>13} {'libsrtp pkt/s':>14} {'ratio':>6}")
    print(f"{'':44} {'':>13} {'(per-packet)':>14}")
    for profile in PROFILES:
        for name, ours, theirs in bench(profile, args.packets, args.repeat, clock):
            print(f"{name:44} {ours:13,.0f} {theirs:14,.0f} {ours / theirs:6.2f}x")


if __name__ == "__main__":
    main()
