"""SRTP keys travel only inside an S/MIME-encrypted body or over TLS.

RFC 4568 §8.3 and RFC 4566 §5.12: SDP keys need a confidential channel.
The policy is :func:`sipsec.sdp.key_transport_problem`; the UA app decides
what "the hop is TLS" means, and that decision is audited here too.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sdp import key_transport_problem
from sipsec.sip import Request, parse_message

KEY = base64.b64encode(bytes(range(30))).decode()
SDP_CRYPTO = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/SAVP 0\r\n"
    f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"
).encode()


@settings(max_examples=300, deadline=None)
@given(
    line=st.sampled_from([f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}", f"k=base64:{KEY}",
                          f"k=clear:{KEY}", f"A=CRYPTO:1 X inline:{KEY}", f"K=base64:{KEY}"]),
    indent=st.sampled_from(["", " ", "\t"]),
    eol=st.sampled_from(["\r\n", "\n"]),
)  # fmt: skip
def test_keys_over_a_cleartext_hop_are_refused(line: str, indent: str, eol: str) -> None:
    body = f"v=0{eol}s=-{eol}{indent}{line}{eol}".encode()
    assert key_transport_problem(body, hop_is_tls=False, body_encrypted=False)
    assert key_transport_problem(body, hop_is_tls=True, body_encrypted=False) is None
    assert key_transport_problem(body, hop_is_tls=False, body_encrypted=True) is None


def test_sdp_without_keys_may_travel_anywhere() -> None:
    body = b"v=0\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"
    assert key_transport_problem(body, hop_is_tls=False, body_encrypted=False) is None


def _invite(vias: list[str], uri: str = "sips:bob@biloxi.example") -> Request:
    text = (
        f"INVITE {uri} SIP/2.0\r\n"
        + "".join(
            f"Via: SIP/2.0/{t} 192.0.2.{i}:5061;branch=z9hG4bK-{i}\r\n"
            for i, t in enumerate(vias, 1)
        )
        + "Max-Forwards: 68\r\nFrom: <sips:alice@atlanta.example>;tag=1\r\n"
        "To: <sips:bob@biloxi.example>\r\nCall-ID: k@192.0.2.9\r\nCSeq: 1 INVITE\r\n"
        "Contact: <sips:alice@192.0.2.9:5061>\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(SDP_CRYPTO)}\r\n\r\n"
    ).encode() + SDP_CRYPTO
    message = parse_message(text)
    assert isinstance(message, Request)
    return message


def test_an_offer_that_came_over_tls_all_the_way_is_accepted() -> None:
    from sipsec.transport.ua_app import _arrived_over_tls

    assert _arrived_over_tls(_invite(["TLS", "TLS", "TLS"]))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport/ua_app.py _arrived_over_tls (line ~480) looks at the top Via only: "
    "an offer whose a=crypto crossed a UDP hop before the last proxy is accepted as "
    "protected, and the answer's key goes back the same way in cleartext. Fix: every "
    "Via TLS (and the received connection's transport, not the top Via's claim), or "
    "a sips: Request-URI (RFC 3261 §26.2.2) — else require S/MIME.",
)
def test_an_offer_that_crossed_udp_is_not_tls_protected() -> None:
    from sipsec.transport.ua_app import _arrived_over_tls

    assert not _arrived_over_tls(_invite(["TLS", "TLS", "UDP"]))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport/ua_app.py UaApp.hop_is_tls (line ~103) is 'first hop is TLS': with a "
    "sip: (not sips:) target the proxies may forward over UDP/TCP (RFC 3261 §26.2.2 only "
    "promises TLS end to end for sips:), so an SDES key in cleartext SDP can cross an "
    "unprotected hop. Fix: hop_is_tls = transport == 'tls' and the target/proxy URI is "
    "sips:; otherwise require --keys smime.",
)
def test_a_sip_target_over_a_tls_first_hop_is_not_protected_end_to_end() -> None:
    from sipsec.transport.ua_app import UaApp, UaSettings

    app = UaApp(
        UaSettings(
            "sip:alice@atlanta.example",
            proxy="sip:atlanta.example;transport=tls",
            target="sip:bob@biloxi.example",
        )
    )
    assert app.transport == "tls"
    assert not app.hop_is_tls
