"""SDP keys become working SRTP contexts: sipsec.srtp (and libsrtp as a peer nobody here wrote).

Tests are not layered, so this one may join ``sipsec.sdp`` to ``sipsec.srtp``:
``SrtpKeyParams`` fields go one to one into ``SrtpContext``.
"""

from __future__ import annotations

import itertools
import struct

import pytest

from sipsec.sdp import (
    SUITES,
    AudioCapabilities,
    SrtpKeyParams,
    answer_offer,
    build_offer,
    crypto_attributes,
    negotiated,
    parse_sdp,
)
from sipsec.srtp import SrtpAuthError, SrtpContext

from .conftest import vector


def rtp(seq: int, ssrc: int = 0x5EED5EED) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + bytes(range(160))


def context(key: SrtpKeyParams) -> SrtpContext:
    # The mapping the UA uses: suite → profile, key||salt → key, MKI, lifetime.
    if key.lifetime is None:
        return SrtpContext(key.suite, key.key_salt, mki=key.mki)
    return SrtpContext(key.suite, key.key_salt, mki=key.mki, srtp_lifetime=key.lifetime)


def test_rfc4568_4_5_example_keys_protect_and_unprotect() -> None:
    sdp = parse_sdp(vector("rfc4568-4.5-example.sdp"))
    suites = []
    for media in sdp.media[:2]:
        [crypto] = crypto_attributes(media)
        [key] = crypto.key_params()
        assert key.mki == (1).to_bytes(32, "big") and key.lifetime == 1 << 20
        sender, receiver = context(key), context(key)
        packet = rtp(1)
        protected = sender.protect(packet)
        assert protected != packet and key.mki in protected
        assert receiver.unprotect(protected) == packet
        forged = protected[:-1] + bytes([protected[-1] ^ 1])
        with pytest.raises(SrtpAuthError):
            context(key).unprotect(forged)
        suites.append(key.suite)
    assert suites == ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"]


def test_rfc4568_7_1_5_pair_gives_both_directions() -> None:
    offer = parse_sdp(vector("rfc4568-7.1.5-offer.sdp"))
    answer = parse_sdp(vector("rfc4568-7.1.5-answer.sdp"))
    sam, jill = negotiated(offer, answer), negotiated(offer, answer, local_role="answerer")
    packet = rtp(7)
    assert (
        context(jill.receive_keys[0]).unprotect(context(sam.send_keys[0]).protect(packet)) == packet
    )
    assert (
        context(sam.receive_keys[0]).unprotect(context(jill.send_keys[0]).protect(packet)) == packet
    )


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_offer_answer_for_every_suite_gives_working_contexts(suite: str) -> None:
    counter = itertools.count(1)

    def random(n: int) -> bytes:
        start = next(counter)
        return bytes((start * 31 + i) & 0xFF for i in range(n))

    caps = AudioCapabilities(srtp_suites=(suite,))
    offer = parse_sdp(bytes(build_offer("192.0.2.1", 4000, caps, random=random)))
    answer = parse_sdp(bytes(answer_offer(offer, "192.0.2.2", 5000, caps, random=random)))
    alice = negotiated(offer, answer)
    bob = negotiated(offer, answer, local_role="answerer")
    assert alice.send_keys[0].suite == suite
    a_send, a_recv = context(alice.send_keys[0]), context(alice.receive_keys[0])
    b_send, b_recv = context(bob.send_keys[0]), context(bob.receive_keys[0])
    for seq in range(3):
        assert b_recv.unprotect(a_send.protect(rtp(seq, 1))) == rtp(seq, 1)
        assert a_recv.unprotect(b_send.protect(rtp(seq, 2))) == rtp(seq, 2)
    # Each side sends with its own key: a packet from Alice fails under Alice's receive key.
    with pytest.raises(SrtpAuthError):
        a_recv.unprotect(context(alice.send_keys[0]).protect(rtp(9, 3)))


@pytest.mark.interop
@pytest.mark.parametrize(
    "suite",
    ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"],
)
def test_libsrtp_decrypts_what_an_sdp_key_protects(suite: str) -> None:
    pylibsrtp = pytest.importorskip("pylibsrtp")
    native = {
        "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
        "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
        "AEAD_AES_256_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    }
    offer = parse_sdp(
        bytes(build_offer("192.0.2.1", 4000, AudioCapabilities(srtp_suites=(suite,))))
    )
    [key] = crypto_attributes(offer.media[0])[0].key_params()
    policy = pylibsrtp.Policy(
        key=key.key_salt,
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
        srtp_profile=native[suite],
    )
    libsrtp = pylibsrtp.Session(policy)
    packet = rtp(42)
    assert libsrtp.unprotect(context(key).protect(packet)) == packet


def test_suite_table_matches_the_srtp_profiles() -> None:
    from sipsec.srtp import PROFILES

    run = {n: (p.key_len, p.salt_len) for n, p in PROFILES.items() if not n.startswith("NULL")}
    assert run == SUITES
