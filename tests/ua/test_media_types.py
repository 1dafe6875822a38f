"""The value types of the UA's media negotiation (sipsec.ua.media_types):
policy checks, capabilities, reprs that hide keys, the errors' statuses,
and that sipsec.ua.media_offer still exports every one of them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipsec.ua.media_offer as media_offer
import sipsec.ua.media_types as media_types
from sipsec.ca import build_root, generate_key
from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.rtp import MediaConfig
from sipsec.sdp import DEFAULT_SUITE, PCMA, PCMU, SrtpKeyParams, parse_sdp
from sipsec.ua.media_types import (
    KeyTransportRefused,
    LocalOffer,
    MediaOfferError,
    MediaPolicy,
    NegotiatedMedia,
    ReceivedSdp,
    SipBody,
    SmimeIdentity,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SUITES = [
    "AES_CM_128_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32",
    "AES_256_CM_HMAC_SHA1_80",
    "AEAD_AES_128_GCM",
]
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"


def test_media_offer_re_exports_the_same_objects() -> None:
    for name in media_types.__all__:
        assert getattr(media_offer, name) is getattr(media_types, name)
        assert name in media_offer.__all__


def test_policy_refuses_what_it_cannot_do() -> None:
    with pytest.raises(LocalProtocolError) as info:
        MediaPolicy(suites=())
    assert info.value.status == 500
    with pytest.raises(LocalProtocolError):
        MediaPolicy(key_lines="x")  # type: ignore[arg-type]
    assert MediaPolicy(srtp=False, suites=()).capabilities().srtp_suites == ()


@settings(max_examples=300, deadline=None)
@given(
    suites=st.lists(st.sampled_from(SUITES), min_size=1, max_size=4, unique=True),
    key_lines=st.sampled_from(["crypto", "k"]),
    srtp=st.booleans(),
    ptime=st.integers(10, 60),
)
def test_capabilities_follow_the_policy(
    suites: list[str], key_lines: str, srtp: bool, ptime: int
) -> None:
    policy = MediaPolicy(srtp=srtp, key_lines=key_lines, suites=tuple(suites), ptime=ptime)  # type: ignore[arg-type]
    caps = policy.capabilities()
    assert caps.require_srtp is srtp and caps.ptime == ptime
    assert caps.codecs == (PCMU, PCMA)
    if not srtp:
        assert caps.srtp_suites == ()
    elif key_lines == "k":  # k= carries one key of one suite
        assert caps.srtp_suites == (suites[0],)
    else:
        assert caps.srtp_suites == tuple(suites)


def test_reprs_never_show_keys() -> None:
    key = generate_key("ec-p256")
    cert = build_root(key, "Alice", NOW)
    identity = SmimeIdentity(cert, key)
    assert "redacted" in repr(identity) and "Alice" in repr(identity)
    secret = bytes(range(30))
    send = SrtpKeyParams(DEFAULT_SUITE, secret)
    media = NegotiatedMedia(
        ("192.0.2.1", 4000), ("192.0.2.1", 4001), MediaConfig(), True, True, send, send, False
    )
    assert media.suite == DEFAULT_SUITE
    assert secret.hex() not in repr(media) and repr(secret) not in repr(media)
    body = SipBody(b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:SECRET", "application/sdp")
    assert "SECRET" not in repr(body) and "48 octets" in repr(body)
    sdp = parse_sdp(SDP)
    assert "o=-" not in repr(LocalOffer(sdp, body)) and "SipBody" in repr(LocalOffer(sdp, body))
    received = ReceivedSdp(sdp, encrypted=True, signer=cert)
    assert repr(received) == "ReceivedSdp(encrypted=True, signer='CN=Alice')"
    plain = NegotiatedMedia(
        ("192.0.2.1", 4000), ("192.0.2.1", 4001), MediaConfig(), True, True, None, None, False
    )
    assert plain.suite is None


def test_errors_carry_their_status() -> None:
    refused = KeyTransportRefused("cleartext key over UDP")
    assert isinstance(refused, LocalProtocolError) and refused.status == 500
    assert refused.reason == "cleartext key over UDP"
    bad = MediaOfferError("no SDP", 488)
    assert isinstance(bad, RemoteProtocolError) and bad.status == 488
