"""The --attack pieces with real SRTP contexts, a real CA and real S/MIME bodies."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sipsec.ca import CertificateAuthority, CertificateStore, load_private_key
from sipsec.cli.demo_attack import (
    Identity,
    body_view,
    entropy,
    media_view,
    signalling_view,
    smime_attacks,
    srtp_attacks,
)
from sipsec.rtp.quality import sweep_tone
from sipsec.sdp import SUITES
from sipsec.smime import MimeEntity, sign_and_encrypt

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SDP = (
    b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/SAVP 0\r\nk=base64:" + b"QUJD" * 10 + b"\r\n"
)
AUDIO = sweep_tone(1.0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    directory: Path = tmp_path_factory.mktemp("ca")
    ca = CertificateAuthority.init(directory, now=NOW - dt.timedelta(days=1))
    out = {}
    for name, subject, domain in [
        ("alice", "sip:alice@atlanta.example", False),
        ("bob", "sip:bob@biloxi.example", False),
        ("atlanta.example", "sip:atlanta.example", True),
        ("biloxi.example", "sip:biloxi.example", True),
    ]:
        cert, path = ca.issue(subject, now=NOW - dt.timedelta(days=1), domain=domain)
        out[name] = Identity(name, cert, load_private_key(path.with_suffix(".key")))
    out["_dir"] = directory  # type: ignore[assignment]
    return out


def _body(pki: dict[str, Identity]) -> tuple[bytes, str]:
    alice, bob = pki["alice"], pki["bob"]
    inner = MimeEntity([("Content-Type", "application/sdp")], SDP)
    outer = sign_and_encrypt(inner, alice.cert, alice.key, [bob.cert], now=NOW)
    return outer.body, outer.get("Content-Type") or ""


def test_smime_attacks_on_a_real_body(pki: dict[str, Identity]) -> None:
    body, ctype = _body(pki)
    store = CertificateStore.from_directory(pki["_dir"])  # type: ignore[arg-type]
    checks, inner = smime_attacks(
        body,
        ctype,
        sender="sip:alice@atlanta.example",
        recipient=pki["bob"],
        proxies=[pki["atlanta.example"], pki["biloxi.example"]],
        store=store,
        now=NOW,
    )
    assert [c.ok for c in checks] == [True] * 4, checks
    assert inner == SDP
    assert "NotForUs" in checks[1].detail or "DecryptionFailed" in checks[1].detail
    assert "BadSignature" in checks[3].detail
    assert repr(pki["bob"]) == "Identity('bob')"  # no key in the repr


def test_smime_attacks_fail_when_the_wrong_party_is_the_recipient(
    pki: dict[str, Identity],
) -> None:
    body, ctype = _body(pki)
    store = CertificateStore.from_directory(pki["_dir"])  # type: ignore[arg-type]
    checks, inner = smime_attacks(
        body,
        ctype,
        sender="sip:alice@atlanta.example",
        recipient=pki["atlanta.example"],
        proxies=[pki["bob"]],  # bob *can* decrypt: the check must say so
        store=store,
        now=NOW,
    )
    assert inner is None
    assert [c.ok for c in checks[:2]] == [False, False]


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_srtp_attacks_every_suite(suite: str) -> None:
    from sipsec.sdp import suite_lengths

    key_len, salt_len = suite_lengths(suite)
    checks = srtp_attacks(suite, os.urandom(key_len + salt_len), audio=AUDIO)
    assert [c.ok for c in checks] == [True] * 5, checks
    assert "SrtpReplayError" in checks[1].detail and "SrtpAuthError" in checks[2].detail


def test_srtp_attacks_need_audio() -> None:
    with pytest.raises(ValueError, match="40 ms"):
        srtp_attacks("AES_CM_128_HMAC_SHA1_80", bytes(30), audio=b"\x00" * 100)


def test_views() -> None:
    view = media_view("AES_CM_128_HMAC_SHA1_80", os.urandom(30), audio=AUDIO)
    plain = float(view.off.rsplit(" ", 1)[1])
    secret = float(view.on.rsplit(" ", 1)[1])
    assert plain > 0.95 and abs(secret) < 0.2
    assert body_view(SDP, "atlanta").off == "k=base64:<40 base64 characters of key>"
    sdes = b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + b"QUJD" * 10 + b"|2^20|1:4\r\n"
    shown = body_view(sdes, "atlanta").off
    assert "QUJD" not in shown and "inline:<40 base64 characters of key>|2^20|1:4" in shown
    assert body_view(b"v=0\r\n", "atlanta").off == "(no key lines)"
    invite = b"INVITE sips:bob@biloxi.example SIP/2.0\r\nFrom: <sips:a@b>\r\nTo: <sips:b@c>\r\n\r\n"
    tls = signalling_view(os.urandom(600), invite, "Alice–atlanta")
    assert "no SIP text" in tls.on and "From: <sips:a@b>" in tls.off
    assert "SIP text visible!" in signalling_view(invite, invite, "x").on


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_entropy_bounds(data: bytes) -> None:
    assert 0.0 <= entropy(data) <= 8.0 + 1e-9


@settings(max_examples=300, deadline=None)
@example(b"--x\r\n\r\n--x--\r\n", "multipart/signed")
@given(
    st.binary(max_size=600),
    st.sampled_from(
        [
            "",
            "application/sdp",
            "application/pkcs7-mime; smime-type=enveloped-data",
            'multipart/signed; boundary=x; protocol="application/pkcs7-signature"',
            "multipart/signed",
            "text/plain; charset=\x00",
        ]
    ),
)
def test_any_body_gives_checks_and_never_raises(
    pki: dict[str, Identity], body: bytes, ctype: str
) -> None:
    store = CertificateStore.from_directory(pki["_dir"])  # type: ignore[arg-type]
    checks, inner = smime_attacks(
        body,
        ctype,
        sender="sip:alice@atlanta.example",
        recipient=pki["bob"],
        proxies=[pki["atlanta.example"]],
        store=store,
        now=NOW,
    )
    assert len(checks) == 3
    assert inner is None and not checks[0].ok  # garbage never opens


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_offered_key_of_any_bytes(sdp: bytes) -> None:
    from sipsec.cli.demo_report import offered_key

    key = offered_key(SDP + sdp)
    assert key is None or len(key.key_salt) >= 30
    offered_key(sdp)
