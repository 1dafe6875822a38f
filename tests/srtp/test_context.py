"""SrtpContext: libsrtp's validation packets, ROC, replay, MKI, re-keying, lifetimes."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from sipsec.srtp import (
    PROFILES,
    SrtpAuthError,
    SrtpConfigError,
    SrtpContext,
    SrtpError,
    SrtpKeyExhaustedError,
    SrtpMalformedError,
    SrtpReplayError,
    SrtpUnknownMkiError,
)
from sipsec.srtp.kdf import LABEL_RTP, SessionKeys
from sipsec.srtp.rtp import seal_rtp

CM80 = "AES_CM_128_HMAC_SHA1_80"
KEY = bytes(range(30))


def rtp(
    seq: int, ssrc: int = 0x11223344, payload: bytes = b"\xab" * 20, first: int = 0x80
) -> bytes:
    return struct.pack("!BBHII", first, 0, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) + payload


def key_for(profile: str, seed: int = 0) -> bytes:
    return bytes((seed + i) & 0xFF for i in range(PROFILES[profile].master_len))


def test_srtp_errors_are_sipsec_errors() -> None:
    from sipsec.errors import SipsecError

    for cls in (SrtpAuthError, SrtpReplayError, SrtpMalformedError, SrtpUnknownMkiError):
        assert issubclass(cls, SrtpError)
    assert issubclass(SrtpError, SipsecError)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_libsrtp_srtp_validate(vectors: dict[str, Any], which: int) -> None:
    """libsrtp test/srtp_driver.c srtp_validate*(): the exact packets."""
    v = vectors["libsrtp_srtp_validate"][which]
    key = bytes.fromhex(v["master_key"] + v["master_salt"])
    tx, rx = SrtpContext(v["profile"], key), SrtpContext(v["profile"], key)
    assert tx.protect(bytes.fromhex(v["rtp_packet"])).hex() == v["srtp_packet"]
    assert rx.unprotect(bytes.fromhex(v["srtp_packet"])).hex() == v["rtp_packet"]
    if "srtcp_packet" in v:
        assert tx.protect_rtcp(bytes.fromhex(v["rtcp_packet"])).hex() == v["srtcp_packet"]
        assert rx.unprotect_rtcp(bytes.fromhex(v["srtcp_packet"])).hex() == v["rtcp_packet"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_round_trip_every_profile(profile: str) -> None:
    tx, rx = SrtpContext(profile, key_for(profile)), SrtpContext(profile, key_for(profile))
    p = PROFILES[profile]
    # CSRCs and a header extension stay in the clear and are authenticated.
    csrc_ext = bytes([0x92]) + rtp(7)[1:12] + bytes(8) + bytes.fromhex("bede0001") + b"\x10xyz"
    for packet in (rtp(1), rtp(2, payload=b""), csrc_ext + b"payload", rtp(3, payload=bytes(1000))):
        srtp = tx.protect(packet)
        assert len(srtp) == len(packet) + p.rtp_tag_len
        hlen = len(packet) - (7 if packet.startswith(csrc_ext) else len(packet) - 12)
        assert srtp[:hlen] == packet[:hlen]
        if p.cipher.value != "null" and len(packet) > hlen:
            assert srtp[hlen : len(packet)] != packet[hlen:]
        assert rx.unprotect(srtp) == packet
    report = bytes.fromhex("81c80006") + bytes.fromhex("cafebabe") + bytes(20)
    srtcp = tx.protect_rtcp(report)
    assert len(srtcp) == len(report) + 4 + p.rtcp_tag_len
    assert rx.unprotect_rtcp(srtcp) == report


def test_tag_lengths() -> None:
    for profile, rtp_tag, rtcp_tag in [
        ("AES_CM_128_HMAC_SHA1_32", 4, 10),
        ("AES_256_CM_HMAC_SHA1_32", 4, 10),
        ("AES_192_CM_HMAC_SHA1_80", 10, 10),
        ("AEAD_AES_256_GCM", 16, 16),
    ]:
        ctx = SrtpContext(profile, key_for(profile))
        assert len(ctx.protect(rtp(1))) == len(rtp(1)) + rtp_tag
        assert len(ctx.protect_rtcp(bytes.fromhex("81c80001cafebabe"))) == 8 + 4 + rtcp_tag


@pytest.mark.parametrize("profile", [CM80, "AEAD_AES_128_GCM", "NULL_HMAC_SHA1_80"])
def test_forged_and_replayed_packets_change_nothing(profile: str) -> None:
    key = key_for(profile)
    tx, rx = SrtpContext(profile, key), SrtpContext(profile, key)
    first = tx.protect(rtp(100))
    assert rx.unprotect(first) == rtp(100)
    with pytest.raises(SrtpReplayError) as info:
        rx.unprotect(first)
    assert not info.value.too_old
    second = tx.protect(rtp(101))
    forged = second[:-1] + bytes([second[-1] ^ 0x01])
    with pytest.raises(SrtpAuthError):
        rx.unprotect(forged)
    assert rx.unprotect(second) == rtp(101)  # the forgery did not mark 101 as seen
    # A forged packet far ahead must not move the window (nor the ROC).
    ahead = SrtpContext(profile, key).protect(rtp(30000))
    with pytest.raises(SrtpAuthError):
        rx.unprotect(ahead[:20] + bytes([ahead[20] ^ 1]) + ahead[21:])
    assert rx.unprotect(tx.protect(rtp(102))) == rtp(102)
    assert rx.unprotect(ahead) == rtp(30000)


def test_replay_window_too_old() -> None:
    tx, rx = SrtpContext(CM80, KEY), SrtpContext(CM80, KEY, replay_window=64)
    old = tx.protect(rtp(1))
    for seq in range(2, 70):
        rx.unprotect(tx.protect(rtp(seq)))
    with pytest.raises(SrtpReplayError) as info:
        rx.unprotect(old)
    assert info.value.too_old


def test_late_packets_inside_window_are_accepted() -> None:
    tx, rx = SrtpContext(CM80, KEY), SrtpContext(CM80, KEY)
    packets = [tx.protect(rtp(seq)) for seq in range(50)]
    for p in packets[::-1]:  # all reversed: within 128 of the first seen
        rx.unprotect(p)


def test_roc_across_sequence_wrap_with_reordering() -> None:
    """Appendix A: seq 65530..65535, 0..10 gives ROC 1; a late 65534 still uses ROC 0."""
    tx, rx = SrtpContext(CM80, KEY), SrtpContext(CM80, KEY)
    seqs = [*range(65000, 65536), *range(0, 20)]
    protected = {s: tx.protect(rtp(s)) for s in seqs}
    order = [*range(65000, 65530), 65531, 65530, 0, 65533, 1, 65532, 65535, 2, 65534, *range(3, 20)]
    for s in order:
        assert rx.unprotect(protected[s]) == rtp(s)
    # After the wrap the sender's ROC is 1: packets must not decrypt under ROC 0.
    fresh = SrtpContext(CM80, KEY)
    with pytest.raises(SrtpAuthError):
        fresh.unprotect(protected[5])


def test_repeat_tx() -> None:
    strict = SrtpContext(CM80, KEY)
    strict.protect(rtp(9))
    with pytest.raises(SrtpReplayError):
        strict.protect(rtp(9))
    lax = SrtpContext(CM80, KEY, allow_repeat_tx=True)
    assert lax.protect(rtp(9)) == lax.protect(rtp(9))
    for seq in range(10, 200):
        lax.protect(rtp(seq))
    with pytest.raises(SrtpReplayError) as info:
        lax.protect(rtp(9))  # behind the window: refused even so, as libsrtp does
    assert info.value.too_old


def test_many_ssrcs_in_one_context() -> None:
    tx, rx = SrtpContext(CM80, KEY), SrtpContext(CM80, KEY)
    a, b = tx.protect(rtp(5, ssrc=1)), tx.protect(rtp(5, ssrc=2))
    assert a[12:] != b[12:]  # the SSRC is in the IV
    assert rx.unprotect(b) == rtp(5, ssrc=2)
    assert rx.unprotect(a) == rtp(5, ssrc=1)
    with pytest.raises(SrtpReplayError):
        rx.unprotect(a)


def test_mki_keys_and_rekeying_without_loss() -> None:
    k1, k2 = key_for(CM80, 1), key_for(CM80, 2)
    tx = SrtpContext(CM80, k1, mki=b"\x00\x01")
    rx = SrtpContext(CM80, k1, mki=b"\x00\x01")
    rx.add_key(k2, b"\x00\x02")
    tx.add_key(k2, b"\x00\x02")
    before = tx.protect(rtp(1))
    assert before[-12:-10] == b"\x00\x01"  # §3.1: MKI between payload and tag
    tx.use_key(b"\x00\x02")
    after = tx.protect(rtp(2))
    assert after[-12:-10] == b"\x00\x02"
    # Delivered out of order across the switch: both accepted.
    assert rx.unprotect(after) == rtp(2)
    assert rx.unprotect(before) == rtp(1)
    with pytest.raises(SrtpUnknownMkiError):
        rx.unprotect(after[:-12] + b"\x00\x09" + after[-10:])
    rx.remove_key(b"\x00\x02")
    with pytest.raises(SrtpUnknownMkiError):
        rx.unprotect(tx.protect(rtp(3)))
    with pytest.raises(SrtpConfigError):
        tx.remove_key(b"\x00\x02")  # in use for sending
    with pytest.raises(SrtpUnknownMkiError):
        tx.use_key(b"\x00\x07")
    with pytest.raises(SrtpConfigError):
        tx.add_key(k2, b"\x01")  # wrong MKI length
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY).add_key(k2, b"\x01")  # no MKI: one key only


@pytest.mark.parametrize("profile", ["AEAD_AES_128_GCM", CM80])
def test_mki_rtcp(profile: str) -> None:
    key = key_for(profile)
    tx, rx = SrtpContext(profile, key, mki=b"K"), SrtpContext(profile, key, mki=b"K")
    report = bytes.fromhex("81c80006cafebabe") + bytes(20)
    srtcp = tx.protect_rtcp(report)
    assert rx.unprotect_rtcp(srtcp) == report
    if profile == CM80:
        bad = srtcp[:-11] + b"Q" + srtcp[-10:]
    else:
        assert srtcp[-1:] == b"K"  # RFC 7714: MKI after the E||index word
        bad = srtcp[:-1] + b"Q"
    with pytest.raises(SrtpUnknownMkiError):
        rx.unprotect_rtcp(bad)
    srtp = tx.protect(rtp(1))
    assert rx.unprotect(srtp) == rtp(1)


def test_key_derivation_rate_rederives_at_boundaries() -> None:
    """§4.3.1: with rate 2^4, packet index i uses the session keys of r = i DIV 16."""
    p = PROFILES[CM80]
    tx = SrtpContext(CM80, KEY, key_derivation_rate=16)
    rx = SrtpContext(CM80, KEY, key_derivation_rate=16)
    for seq in range(0, 40):
        srtp = tx.protect(rtp(seq))
        keys = SessionKeys.derive(p, KEY[:16], KEY[16:], LABEL_RTP, seq // 16)
        assert srtp == seal_rtp(keys, rtp(seq), 12, 0x11223344, seq, b"", 10)
        assert rx.unprotect(srtp) == rtp(seq)
    # A rate-0 receiver cannot read packets after the first epoch.
    plain = SrtpContext(CM80, KEY)
    plain.unprotect(SrtpContext(CM80, KEY, key_derivation_rate=16).protect(rtp(3)))
    with pytest.raises(SrtpAuthError):
        plain.unprotect(tx.protect(rtp(40)))
    rtcp = SrtpContext(CM80, KEY, key_derivation_rate=2)
    peer = SrtpContext(CM80, KEY, key_derivation_rate=2)
    for _ in range(6):
        assert peer.unprotect_rtcp(rtcp.protect_rtcp(bytes.fromhex("81c80001cafebabe"))) == (
            bytes.fromhex("81c80001cafebabe")
        )


def test_key_lifetime() -> None:
    tx = SrtpContext(CM80, KEY, srtp_lifetime=3, srtcp_lifetime=2)
    rx = SrtpContext(CM80, KEY, srtp_lifetime=2)
    sent = [tx.protect(rtp(s)) for s in range(3)]
    with pytest.raises(SrtpKeyExhaustedError):
        tx.protect(rtp(3))
    rx.unprotect(sent[0])
    rx.unprotect(sent[1])
    with pytest.raises(SrtpKeyExhaustedError):
        rx.unprotect(sent[2])
    tx.protect_rtcp(bytes.fromhex("81c80001cafebabe"))
    tx.protect_rtcp(bytes.fromhex("81c80001cafebabe"))
    with pytest.raises(SrtpKeyExhaustedError):
        tx.protect_rtcp(bytes.fromhex("81c80001cafebabe"))


def test_rekeying_after_exhaustion_keeps_streams() -> None:
    tx = SrtpContext(CM80, KEY, mki=b"\x01", srtp_lifetime=2)
    rx = SrtpContext(CM80, KEY, mki=b"\x01")
    tx.add_key(key_for(CM80, 9), b"\x02")
    rx.add_key(key_for(CM80, 9), b"\x02")
    out = [tx.protect(rtp(1)), tx.protect(rtp(2))]
    with pytest.raises(SrtpKeyExhaustedError):
        tx.protect(rtp(3))
    tx.use_key(b"\x02")
    out.append(tx.protect(rtp(3)))
    assert [rx.unprotect(p) for p in out] == [rtp(1), rtp(2), rtp(3)]


@pytest.mark.parametrize("profile", [CM80, "AEAD_AES_128_GCM", "NULL_HMAC_SHA1_80"])
def test_srtcp_e_flag_and_index(profile: str) -> None:
    key = key_for(profile)
    report = bytes.fromhex("81c80006cafebabe") + b"sender info, 20 bytes"[:20]
    enc = SrtpContext(profile, key)
    clear = SrtpContext(profile, key, rtcp_encrypt=False)
    rx = SrtpContext(profile, key)
    tail = -4 - (0 if profile.startswith("AEAD") else PROFILES[profile].rtcp_tag_len)
    e1, e2 = enc.protect_rtcp(report), enc.protect_rtcp(report)
    word1 = int.from_bytes(e1[tail : tail + 4 or None], "big")
    word2 = int.from_bytes(e2[tail : tail + 4 or None], "big")
    null = profile.startswith("NULL")
    assert word1 == (0 if null else 0x80000000) | 1  # §3.4: E flag, index starts at 1
    assert word2 & 0x7FFFFFFF == 2
    c1 = clear.protect_rtcp(report)
    assert int.from_bytes(c1[tail : tail + 4 or None], "big") == 1  # E = 0
    assert c1[: len(report)] == report
    assert (e1[8 : len(report)] == report[8:]) is null
    assert rx.unprotect_rtcp(e1) == report
    assert rx.unprotect_rtcp(e2) == report
    with pytest.raises(SrtpReplayError):
        rx.unprotect_rtcp(e2)
    with pytest.raises(SrtpReplayError):
        rx.unprotect_rtcp(c1)  # same SSRC and index 1: a replay, whatever the E flag
    other = report[:4] + b"\x00\x00\x00\x05" + report[8:]
    assert rx.unprotect_rtcp(clear.protect_rtcp(other)) == other  # own index; E=0 accepted
    flipped = bytearray(e1)
    flipped[tail] ^= 0x80  # clear the E flag: the tag no longer verifies
    with pytest.raises((SrtpAuthError, SrtpReplayError)):
        SrtpContext(profile, key).unprotect_rtcp(bytes(flipped))


def test_configuration_errors() -> None:
    with pytest.raises(SrtpConfigError):
        SrtpContext("AES_CM_999", KEY)
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY[:29])
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY, replay_window=10)
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY, key_derivation_rate=3)
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY, key_derivation_rate=1 << 25)
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY, srtp_lifetime=0)
    with pytest.raises(SrtpConfigError):
        SrtpContext(CM80, KEY, mki=b"")
    assert isinstance(SrtpConfigError("x"), ValueError)


def test_repr_hides_key() -> None:
    ctx = SrtpContext(CM80, KEY, mki=b"\x07")
    assert KEY.hex() not in repr(ctx)
    assert "07" in repr(ctx)
    assert ctx.profile == CM80


def test_bad_input_is_typed() -> None:
    ctx = SrtpContext(CM80, KEY)
    for bad in (b"", b"\x80" * 11, bytes([0x40]) + rtp(1)[1:], bytes([0x8F]) + rtp(1)[1:]):
        with pytest.raises(SrtpMalformedError):
            ctx.protect(bad)
        with pytest.raises(SrtpMalformedError):
            ctx.unprotect(bad)
    with pytest.raises(SrtpMalformedError):
        ctx.protect(bytes(70000))
    with pytest.raises(SrtpMalformedError):
        ctx.protect_rtcp(b"\x80\xc8")
    with pytest.raises(SrtpMalformedError):
        ctx.unprotect("text")  # type: ignore[arg-type]
    assert ctx.unprotect(bytearray(SrtpContext(CM80, KEY).protect(rtp(4)))) == rtp(4)
