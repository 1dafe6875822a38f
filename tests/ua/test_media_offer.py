"""Offer, answer and key transport of the UA's SDP, in memory (no sockets)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.ca import CertificateStore, build_root, generate_key
from sipsec.errors import LocalProtocolError
from sipsec.sdp import PCMA, parse_sdp
from sipsec.ua.media_offer import (
    KeyTransportRefused,
    LocalOffer,
    MediaOfferError,
    MediaPolicy,
    NegotiatedMedia,
    ReceivedSdp,
    SmimeIdentity,
    accept_answer,
    create_answer,
    create_offer,
    unwrap_sdp,
    wrap_sdp,
)

# NOW, the clock of every call here, is the shared PKI's issue time: its
# certificates are valid at that instant.
from .._pki import NOW, Authority, Credentials
from .._pki import Pki as SharedPki
from .._strategies import mutated

ALICE, BOB = "sip:alice@atlanta.example", "sip:bob@biloxi.example"
# Run once by hand with SIPSEC_FUZZ_EXAMPLES=20000 for a deeper search.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "400"))


@dataclass(frozen=True)
class Pki:
    store: CertificateStore
    alice: SmimeIdentity
    bob: SmimeIdentity
    carol: SmimeIdentity  # a third party, trusted, who is neither
    mallory: SmimeIdentity  # claims Alice's address, from a CA nobody trusts


@pytest.fixture(scope="module")
def pki(pki: SharedPki, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The suite's Alice and Bob, Carol from the same root, and Mallory from a
    root of her own (built locally with the same helper)."""
    rogue = Authority.create(tmp_path_factory.mktemp("rogue"), "Rogue CA")

    def identity(creds: Credentials) -> SmimeIdentity:
        return SmimeIdentity(creds.certificate, creds.private_key)

    carol = pki.user("sip:carol@chicago.example")
    mallory = rogue.user(ALICE)
    return Pki(
        pki.store(), identity(pki.alice), identity(pki.bob), identity(carol), identity(mallory)
    )


def counting_random() -> Callable[[int], bytes]:
    """Deterministic distinct octets, so keys differ and tests repeat."""
    counter = itertools.count(1)
    return lambda n: bytes((next(counter) * 7 + i) % 256 for i in range(n))


def _policy(pki: Pki, who: str, **kw: object) -> MediaPolicy:
    identity = pki.alice if who == "alice" else pki.bob
    return replace(MediaPolicy(identity=identity, trust=pki.store), **kw)  # type: ignore[arg-type]


def _round_trip(
    pki: Pki, *, smime: bool, hop_is_tls: bool, **kw: object
) -> tuple[LocalOffer, ReceivedSdp, NegotiatedMedia, NegotiatedMedia]:
    alice, bob = _policy(pki, "alice", **kw), _policy(pki, "bob", **kw)
    recipient = pki.bob.certificate if smime else None
    offer = create_offer(
        "127.0.0.1", 40000, alice, hop_is_tls=hop_is_tls, recipient=recipient, now=NOW
    )
    received = unwrap_sdp(
        offer.body.body,
        offer.body.content_type,
        bob,
        hop_is_tls=hop_is_tls,
        signer_address=ALICE,
        now=NOW,
    )
    bob_side, answer = create_answer(
        received, "127.0.0.2", 50000, bob, hop_is_tls=hop_is_tls, now=NOW
    )
    got = unwrap_sdp(
        answer.body, answer.content_type, alice, hop_is_tls=hop_is_tls, signer_address=BOB, now=NOW
    )
    alice_side = accept_answer(offer, got, alice)
    return offer, received, alice_side, bob_side


@pytest.mark.parametrize("key_lines", ["crypto", "k"])
@pytest.mark.parametrize("smime", [False, True])
def test_round_trip_keys_cross_over(pki: Pki, key_lines: str, smime: bool) -> None:
    offer, received, alice, bob = _round_trip(
        pki, smime=smime, hop_is_tls=not smime, key_lines=key_lines
    )
    assert alice.suite == bob.suite == "AES_CM_128_HMAC_SHA1_80"
    assert alice.send_key == bob.receive_key and alice.receive_key == bob.send_key
    assert alice.send_key != alice.receive_key
    assert alice.remote_rtp == ("127.0.0.2", 50000) and bob.remote_rtp == ("127.0.0.1", 40000)
    assert alice.config.payload_type == 0 and alice.config.ptime == 0.02
    assert alice.config.rtcp_mux and alice.send and alice.receive
    assert alice.smime is smime and bob.smime is smime and received.encrypted is smime
    sdp = bytes(offer.sdp)
    assert (b"a=crypto:" in sdp) is (key_lines == "crypto")
    assert (b"k=base64:" in sdp) is (key_lines == "k")
    if smime:
        assert offer.body.content_type.startswith("multipart/signed")
        assert ("Content-Disposition", "session;handling=required") in offer.body.headers
        assert b"inline:" not in offer.body.body and b"k=base64" not in offer.body.body
        assert received.signer == pki.alice.certificate
    else:
        assert offer.body.content_type == "application/sdp" and offer.body.headers == ()


def test_smime_answer_goes_back_encrypted_to_the_offer_signer(pki: Pki) -> None:
    _, received, _, _ = _round_trip(pki, smime=True, hop_is_tls=False)
    bob = _policy(pki, "bob")
    _, answer = create_answer(received, "127.0.0.2", 50000, bob, hop_is_tls=False, now=NOW)
    assert answer.encrypted
    # Only Alice's key opens it: Carol, a trusted stranger, gets 493.
    carol = MediaPolicy(identity=pki.carol, trust=pki.store)
    with pytest.raises(MediaOfferError) as info:
        unwrap_sdp(
            answer.body, answer.content_type, carol, hop_is_tls=True, signer_address=BOB, now=NOW
        )
    assert info.value.status == 493


@pytest.mark.parametrize(
    "suites",
    [
        ("AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80"),
        ("AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_32"),
    ],
)
def test_answerer_takes_the_first_suite_it_supports(pki: Pki, suites: tuple[str, str]) -> None:
    alice = _policy(pki, "alice", suites=suites)
    bob = _policy(pki, "bob", suites=(suites[1],))
    offer = create_offer("127.0.0.1", 40000, alice, hop_is_tls=True, recipient=None, now=NOW)
    assert bytes(offer.sdp).count(b"a=crypto:") == 2
    received = unwrap_sdp(
        offer.body.body, None, bob, hop_is_tls=True, signer_address=ALICE, now=NOW
    )
    bob_side, answer = create_answer(received, "127.0.0.2", 50000, bob, hop_is_tls=True, now=NOW)
    got = unwrap_sdp(
        answer.body, answer.content_type, alice, hop_is_tls=True, signer_address=BOB, now=NOW
    )
    alice_side = accept_answer(offer, got, alice)
    assert alice_side.suite == bob_side.suite == suites[1]
    assert alice_side.send_key == bob_side.receive_key


def test_no_common_suite_is_488(pki: Pki) -> None:
    alice = _policy(pki, "alice", suites=("AEAD_AES_256_GCM",))
    bob = _policy(pki, "bob", suites=("AES_CM_128_HMAC_SHA1_80",))
    offer = create_offer("127.0.0.1", 40000, alice, hop_is_tls=True, recipient=None, now=NOW)
    received = unwrap_sdp(
        offer.body.body, None, bob, hop_is_tls=True, signer_address=ALICE, now=NOW
    )
    with pytest.raises(MediaOfferError) as info:
        create_answer(received, "127.0.0.2", 50000, bob, hop_is_tls=True, now=NOW)
    assert info.value.status == 488 and "a=crypto" in info.value.reason


def test_plain_rtp_only_when_both_ask(pki: Pki) -> None:
    _, _, alice, bob = _round_trip(pki, smime=False, hop_is_tls=False, srtp=False)
    assert alice.suite is None and bob.send_key is None
    rtp = _policy(pki, "alice", srtp=False)
    offer = create_offer("127.0.0.1", 40000, rtp, hop_is_tls=False, recipient=None, now=NOW)
    assert b"RTP/AVP" in offer.body.body and b"crypto" not in offer.body.body
    srtp = _policy(pki, "bob")
    received = unwrap_sdp(
        offer.body.body, None, srtp, hop_is_tls=False, signer_address=ALICE, now=NOW
    )
    with pytest.raises(MediaOfferError) as info:
        create_answer(received, "127.0.0.2", 50000, srtp, hop_is_tls=False, now=NOW)
    assert info.value.status == 488


def test_codec_follows_the_answerer_preference(pki: Pki) -> None:
    _, _, alice, bob = _round_trip(pki, smime=False, hop_is_tls=True, codecs=(PCMA,))
    assert alice.config.payload_type == bob.config.payload_type == 8


def test_cleartext_key_is_never_sent_over_a_hop_that_is_not_tls(pki: Pki) -> None:
    policy = _policy(pki, "alice")
    with pytest.raises(KeyTransportRefused) as info:
        create_offer("127.0.0.1", 40000, policy, hop_is_tls=False, recipient=None, now=NOW)
    assert "RFC 4568 §8.3" in info.value.reason and "a=crypto" in info.value.reason
    k_policy = _policy(pki, "alice", key_lines="k")
    with pytest.raises(KeyTransportRefused, match="k="):
        create_offer("127.0.0.1", 40000, k_policy, hop_is_tls=False, recipient=None, now=NOW)


@pytest.mark.parametrize("key_lines", ["crypto", "k"])
def test_cleartext_key_received_over_udp_is_refused_488(pki: Pki, key_lines: str) -> None:
    alice = _policy(pki, "alice", key_lines=key_lines)
    offer = create_offer("127.0.0.1", 40000, alice, hop_is_tls=True, recipient=None, now=NOW)
    with pytest.raises(MediaOfferError) as info:
        unwrap_sdp(
            offer.body.body, "application/sdp", _policy(pki, "bob"),
            hop_is_tls=False, signer_address=ALICE, now=NOW,
        )  # fmt: skip
    assert info.value.status == 488 and "not TLS" in info.value.reason


def test_signed_but_not_encrypted_key_over_udp_is_refused(pki: Pki) -> None:
    from sipsec.smime import MimeEntity, sign_entity

    alice = _policy(pki, "alice")
    offer = create_offer("127.0.0.1", 40000, alice, hop_is_tls=True, recipient=None, now=NOW)
    signed = sign_entity(
        MimeEntity([("Content-Type", "application/sdp")], offer.body.body),
        pki.alice.certificate,
        pki.alice.key,
        now=NOW,
    )
    with pytest.raises(MediaOfferError) as info:
        unwrap_sdp(
            signed.body, signed.get("Content-Type"), _policy(pki, "bob"),
            hop_is_tls=False, signer_address=ALICE, now=NOW,
        )  # fmt: skip
    assert info.value.status == 488


def _smime_offer(pki: Pki, sender: SmimeIdentity, recipient: x509.Certificate) -> LocalOffer:
    policy = MediaPolicy(identity=sender, trust=pki.store)
    return create_offer("127.0.0.1", 40000, policy, hop_is_tls=False, recipient=recipient, now=NOW)


def _open(
    pki: Pki, offer: LocalOffer, *, signer: str = ALICE, body: bytes | None = None
) -> ReceivedSdp:
    return unwrap_sdp(
        offer.body.body if body is None else body,
        offer.body.content_type,
        _policy(pki, "bob"),
        hop_is_tls=False,
        signer_address=signer,
        now=NOW,
    )


def test_tampered_smime_body_is_400(pki: Pki) -> None:
    offer = _smime_offer(pki, pki.alice, pki.bob.certificate)
    body = bytearray(offer.body.body)
    middle = len(body) // 3  # inside the enveloped part, which the signature covers
    body[middle] ^= 0x01
    with pytest.raises(MediaOfferError) as info:
        _open(pki, offer, body=bytes(body))
    assert info.value.status == 400


def test_wrong_recipient_is_493(pki: Pki) -> None:
    offer = _smime_offer(pki, pki.alice, pki.carol.certificate)
    with pytest.raises(MediaOfferError) as info:
        _open(pki, offer)
    assert info.value.status == 493 and "S/MIME" in info.value.reason


def test_from_mismatch_is_403(pki: Pki) -> None:
    offer = _smime_offer(pki, pki.alice, pki.bob.certificate)
    with pytest.raises(MediaOfferError) as info:
        _open(pki, offer, signer="sip:eve@atlanta.example")
    assert info.value.status == 403 and "eve@atlanta.example" in info.value.reason


def test_untrusted_signer_is_403(pki: Pki) -> None:
    offer = _smime_offer(pki, pki.mallory, pki.bob.certificate)
    with pytest.raises(MediaOfferError) as info:
        _open(pki, offer)
    assert info.value.status == 403 and "not trusted" in info.value.reason


def test_encrypted_but_unsigned_is_403(pki: Pki) -> None:
    from sipsec.smime import MimeEntity, encrypt_entity

    offer = create_offer(
        "127.0.0.1", 40000, _policy(pki, "alice"), hop_is_tls=True, recipient=None, now=NOW
    )
    enveloped = encrypt_entity(
        MimeEntity([("Content-Type", "application/sdp")], offer.body.body), [pki.bob.certificate]
    )
    with pytest.raises(MediaOfferError) as info:
        unwrap_sdp(
            enveloped.body, enveloped.get("Content-Type"), _policy(pki, "bob"),
            hop_is_tls=False, signer_address=ALICE, now=NOW,
        )  # fmt: skip
    assert info.value.status == 403 and "must be signed" in info.value.reason


def _forged_envelope_outcomes(pki: Pki, bob: MediaPolicy) -> set[tuple[int, str] | None]:
    """Each octet value XORed into the block before the last changes the
    CBC padding of an unsigned envelope to Bob; what did he answer?"""
    from sipsec.smime import MimeEntity, encrypt_entity

    offer = create_offer(
        "127.0.0.1", 40000, _policy(pki, "alice"), hop_is_tls=True, recipient=None, now=NOW
    )
    enveloped = encrypt_entity(
        MimeEntity([("Content-Type", "application/sdp")], offer.body.body),
        [pki.bob.certificate],
        cipher="aes128-cbc",
    )
    ctype = "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
    der = enveloped.decoded_body()
    seen: set[tuple[int, str] | None] = set()
    for value in range(256):
        forged = bytearray(der)
        forged[-17] ^= value  # the last octet of the second-to-last CBC block
        try:
            unwrap_sdp(bytes(forged), ctype, bob, hop_is_tls=False, signer_address=ALICE, now=NOW)
        except MediaOfferError as exc:
            seen.add((exc.status, exc.reason))
        else:
            seen.add(None)
    return seen


def test_a_forged_envelope_gets_the_same_answer_as_an_unsigned_one(pki: Pki) -> None:
    """No padding oracle (Vaudenay 2002): whatever decryption made of the
    forged padding, the UA answers one status and one reason."""
    seen = _forged_envelope_outcomes(pki, _policy(pki, "bob"))
    assert seen == {(403, "S/MIME: the body must be signed by its sender (RFC 3261 §23.4.3)")}


def test_the_forgery_probe_is_a_real_one(pki: Pki) -> None:
    """Without the signature requirement the answers differ by padding, so
    the test above can fail."""
    assert len(_forged_envelope_outcomes(pki, _policy(pki, "bob", require_signature=False))) >= 2


def test_smime_without_trust_anchors_or_our_key_is_493(pki: Pki) -> None:
    offer = _smime_offer(pki, pki.alice, pki.bob.certificate)
    for policy in (MediaPolicy(identity=pki.bob), MediaPolicy(trust=pki.store)):
        with pytest.raises(MediaOfferError) as info:
            unwrap_sdp(
                offer.body.body, offer.body.content_type, policy,
                hop_is_tls=False, signer_address=ALICE, now=NOW,
            )  # fmt: skip
        assert info.value.status == 493


def test_other_body_types_are_415_and_empty_is_488(pki: Pki) -> None:
    policy = _policy(pki, "bob")
    with pytest.raises(MediaOfferError) as info:
        unwrap_sdp(b"hi", "text/plain", policy, hop_is_tls=True, signer_address=ALICE, now=NOW)
    assert info.value.status == 415
    with pytest.raises(MediaOfferError) as info:
        unwrap_sdp(b"", None, policy, hop_is_tls=True, signer_address=ALICE, now=NOW)
    assert info.value.status == 488


def test_answer_changing_suite_or_dropping_keys_is_refused(pki: Pki) -> None:
    alice = _policy(pki, "alice", key_lines="k")
    offer = create_offer("127.0.0.1", 40000, alice, hop_is_tls=True, recipient=None, now=NOW)
    forged = bytes(offer.sdp).replace(
        b"a=rtcp-mux\r\n", b"a=rtcp-mux\r\na=x-srtp-suite:AES_CM_128_HMAC_SHA1_32\r\n"
    )
    forged = forged.replace(offer.sdp.media[0].key.key.encode(), b"A" * 40)  # type: ignore[union-attr]
    got = ReceivedSdp(parse_sdp(forged), encrypted=False)
    with pytest.raises(MediaOfferError) as info:
        accept_answer(offer, got, alice)
    assert info.value.status == 488 and "suite" in info.value.reason


def test_keys_never_in_reprs(pki: Pki) -> None:
    offer, received, alice, _ = _round_trip(pki, smime=False, hop_is_tls=True)
    assert alice.send_key is not None and alice.receive_key is not None
    texts = [repr(offer), repr(received), repr(alice), repr(pki.alice), repr(offer.body)]
    secrets = [alice.send_key.key_salt, alice.receive_key.key_salt]
    import base64

    for text in texts:
        for secret in secrets:
            assert base64.b64encode(secret).decode() not in text
            assert secret.hex() not in text
    assert "redacted" in repr(pki.alice)


def test_offers_carry_fresh_keys_each_time(pki: Pki) -> None:
    policy = _policy(pki, "alice")
    one = create_offer("127.0.0.1", 1, policy, hop_is_tls=True, recipient=None, now=NOW)
    two = create_offer("127.0.0.1", 1, policy, hop_is_tls=True, recipient=None, now=NOW)
    assert one.body.body != two.body.body


def test_bad_policy_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        MediaPolicy(suites=())
    with pytest.raises(LocalProtocolError):
        wrap_sdp(b"v=0\r\n", MediaPolicy(), hop_is_tls=True, recipient=_dummy_cert(), now=NOW)


def _dummy_cert() -> x509.Certificate:
    key = generate_key("ec-p256")
    return build_root(key, "x", NOW)


# -- Hypothesis: mutated bodies give MediaOfferError and nothing else -----------


JUNK_LINES = [
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
    b"k=clear:x",
    b"m=audio 0 RTP/SAVP 0",
    b"a=rtpmap:0 PCMU/0",
    b"c=IN IP4 ",
    b"a=x-srtp-suite:NOPE",
    b"a=crypto:1 X inline:YQ==",
    b"a=ptime:100000",
    b"",
]


def _typed_only(pki: Pki, body: bytes, content_type: str, offer: LocalOffer | None) -> None:
    policy = _policy(pki, "bob")
    try:
        received = unwrap_sdp(
            body, content_type, policy, hop_is_tls=True, signer_address=ALICE, now=NOW
        )
        if offer is None:
            create_answer(received, "127.0.0.2", 50000, policy, hop_is_tls=True, now=NOW)
        else:
            accept_answer(offer, received, _policy(pki, "alice"))
    except MediaOfferError as exc:
        assert exc.status in (400, 403, 415, 488, 493)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_sdp_offers_and_answers_raise_typed_errors(pki: Pki, data: st.DataObject) -> None:
    alice = _policy(pki, "alice", key_lines=data.draw(st.sampled_from(["crypto", "k"])))
    offer = create_offer(
        "127.0.0.1",
        40000,
        alice,
        hop_is_tls=True,
        recipient=None,
        now=NOW,
        random=counting_random(),
    )
    as_answer = data.draw(st.booleans())
    _typed_only(
        pki,
        data.draw(mutated(offer.body.body, junk_lines=JUNK_LINES)),
        "application/sdp",
        offer if as_answer else None,
    )


@pytest.fixture(scope="module")
def smime_offer(pki: Pki) -> LocalOffer:
    return _smime_offer(pki, pki.alice, pki.bob.certificate)


@settings(max_examples=EXAMPLES // 2, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_smime_bodies_raise_typed_errors(
    pki: Pki, smime_offer: LocalOffer, data: st.DataObject
) -> None:
    body = data.draw(mutated(smime_offer.body.body, junk_lines=JUNK_LINES))
    ctype = data.draw(
        st.sampled_from([smime_offer.body.content_type, "application/pkcs7-mime",
                         "multipart/signed; boundary=", "application/pkcs7-mime; smime-type=\""])
    )  # fmt: skip
    _typed_only(pki, body, ctype, None)
