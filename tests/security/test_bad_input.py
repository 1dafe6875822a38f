"""Bad input gets the typed error of its layer and nothing else, and a
refused packet or body changes no state.

For each entry point a peer can reach with bytes (SDP and a=crypto, Digest
credentials and challenges, SRTP/SRTCP, S/MIME bodies, PEM files), a real
valid input is mutated — bytes flipped, cut, spliced — as well as pure
noise tried, and the only outcomes allowed are success or the typed error.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.auth import (
    Authenticated,
    DigestClient,
    DigestServer,
    GaveUp,
    Retry,
)
from sipsec.auth.server import VerifyResult
from sipsec.ca import (
    CaError,
    CertificateStore,
    load_certificates,
)
from sipsec.ca.keys import load_private_key
from sipsec.sdp import CryptoAttribute, SdpError, parse_sdp
from sipsec.sip import AuthChallenge, AuthCredentials, SipParseError
from sipsec.smime import MimeEntity, SmimeError, open_body, sign_and_encrypt
from sipsec.srtp import SrtpContext, SrtpError

from .._pki import NOW, Pki  # NOW: the shared certificates are valid then

SUITES = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few flips, a cut and a splice (or pure noise).

    No draw is ever ``b""``: its hash is 0, like the integer 0's, and under
    ``python -bb`` Hypothesis's own cache then trips a BytesWarning.
    """
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=1, max_size=len(data) + 8))
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        if out:
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= draw(st.integers(1, 255))
    if draw(st.booleans()) and out:
        start = draw(st.integers(0, len(out) - 1))
        del out[start : start + draw(st.integers(1, 16))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(out)))
        out[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


SDP = (
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    b"k=base64:" + base64.b64encode(bytes(range(30))) + b"\r\n"
    b"m=audio 4000 RTP/SAVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(30)) + b"|2^20|1:4\r\n"
    b"a=sendrecv\r\n"
)


@settings(max_examples=1500, deadline=None)
@given(data=mutated(SDP))
def test_sdp_and_crypto_lines(data: bytes) -> None:
    try:
        sdp = parse_sdp(data)
    except SdpError:
        return
    assert bytes(sdp) == data  # what parses, round-trips
    for media in sdp.media:
        for value in media.attribute_values("crypto"):
            try:
                CryptoAttribute.parse(value)
            except SdpError:
                pass


# -- Digest ---------------------------------------------------------------------------------


def _server() -> DigestServer:
    return DigestServer(b"k" * 32, "atlanta.example", lambda *_: None)


def _good_credentials() -> str:
    server = _server()
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    step = flow.challenged(401, [AuthChallenge.parse(str(c)) for c in server.challenge(1e9)])
    assert isinstance(step, Retry)
    return str(step.credentials[0].value)


CREDENTIALS = _good_credentials()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(CREDENTIALS.encode()))
def test_digest_credentials(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        header = AuthCredentials.parse(text)
    except SipParseError:  # the SIP header codec's typed refusal
        return
    result = _server().authenticate(
        [header], method="REGISTER", uri="sip:atlanta.example", now=1e9 + 1, source="x"
    )
    assert isinstance(result, VerifyResult.__args__)  # type: ignore[attr-defined]
    assert not isinstance(result, Authenticated)  # nobody is known to this server


@settings(max_examples=1000, deadline=None)
@given(data=mutated(str(_server().challenge(1e9)[0]).encode()))
def test_digest_challenges(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        challenge = AuthChallenge.parse(text)
    except SipParseError:
        return
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    assert isinstance(flow.challenged(401, [challenge]), Retry | GaveUp)


# -- SRTP -------------------------------------------------------------------------------------

RTP = bytes([0x80, 0, 0, 1, 0, 0, 0, 160, 0xCA, 0xFE, 0xBA, 0xBE]) + bytes(160)
RTCP = bytes([0x80, 200, 0, 6, 0xCA, 0xFE, 0xBA, 0xBE]) + bytes(20)


@pytest.mark.parametrize("suite", SUITES)
def test_srtp_refuses_without_losing_state(suite: str) -> None:
    """A forged packet is refused and the genuine one is still accepted after
    it (the replay window and ROC did not move)."""
    key = os.urandom(28 if suite.startswith("AEAD") else 30)  # key||salt, RFC 7714 / 3711
    tx, rx = SrtpContext(suite, key), SrtpContext(suite, key)
    packet = tx.protect(RTP)

    @settings(max_examples=300, deadline=None)
    @given(data=mutated(packet), rtcp=st.binary(min_size=1, max_size=64))
    def attempt(data: bytes, rtcp: bytes) -> None:
        if data == packet:
            return
        with pytest.raises(SrtpError):
            rx.unprotect(data)
        with pytest.raises(SrtpError):
            rx.unprotect_rtcp(rtcp)

    attempt()
    assert rx.unprotect(packet) == RTP
    with pytest.raises(SrtpError):  # and now it is a replay
        rx.unprotect(packet)


# -- S/MIME and PEM ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smime_case(pki: Pki) -> tuple[bytes, CertificateStore, object, object]:
    sdp = MimeEntity([("Content-Type", "application/sdp")], SDP)
    alice, bob = pki.alice, pki.bob
    body = sign_and_encrypt(sdp, alice.certificate, alice.private_key, [bob.certificate], now=NOW)
    # The store trusts the root and knows no one: Bob finds Alice in the body.
    return bytes(body), pki.authority.store(), bob.certificate, bob.private_key


def test_smime_bodies(smime_case: tuple[bytes, CertificateStore, object, object]) -> None:
    body, store, bob, bob_key = smime_case

    def open_(data: bytes) -> None:
        open_body(MimeEntity.parse(data), store=store, now=NOW,
                  from_address="sip:alice@atlanta.example", cert=bob, key=bob_key)  # type: ignore[arg-type]  # fmt: skip

    open_(body)  # the genuine body opens

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=mutated(body))
    def attempt(data: bytes) -> None:
        try:
            open_(data)
        except SmimeError:
            pass

    attempt()


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=200),
    prefix=st.sampled_from(
        [b"", b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN PRIVATE KEY-----\n"]
    ),
)
def test_pem_files(tmp_path_factory: pytest.TempPathFactory, data: bytes, prefix: bytes) -> None:
    path: Path = tmp_path_factory.getbasetemp() / "junk.pem"
    path.write_bytes(prefix + data)
    with pytest.raises(CaError):
        load_certificates(path)
    with pytest.raises(CaError):
        load_private_key(path)
