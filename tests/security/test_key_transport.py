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


def test_an_offer_that_crossed_udp_is_not_tls_protected() -> None:
    from sipsec.transport.ua_app import _arrived_over_tls

    assert not _arrived_over_tls(_invite(["TLS", "TLS", "UDP"]))


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


@settings(max_examples=500, deadline=None)
@given(vias=st.lists(st.sampled_from(["TLS", "tls", "UDP", "TCP", "WSS", "SCTP"]), min_size=1,
                     max_size=6),
       source=st.sampled_from([None, "tls", "udp", "tcp"]))  # fmt: skip
def test_an_offer_is_protected_only_over_tls_all_the_way(
    vias: list[str], source: str | None
) -> None:
    """Every Via, and the connection it came over (the top Via only claims
    it), must be TLS; --allow-sdes-over-first-hop-tls looks at the last hop."""
    from sipsec.transaction import Peer
    from sipsec.transport.ua_app import _arrived_over_tls

    request = _invite(vias)
    peer = None if source is None else Peer(source, "192.0.2.1", 5061)  # type: ignore[arg-type]
    connection_ok = source in (None, "tls")
    every = all(v.upper() == "TLS" for v in vias)
    assert _arrived_over_tls(request, peer) == (connection_ok and every)
    last = vias[0].upper() == "TLS"
    assert _arrived_over_tls(request, peer, last_hop_only=True) == (connection_ok and last)


def test_an_unreadable_via_below_the_top_one_is_not_protection() -> None:
    from sipsec.transport.ua_app import _arrived_over_tls

    request = _invite(["TLS"])
    request.headers.add("Via", "this is not a via")
    assert not _arrived_over_tls(request)


@pytest.mark.parametrize(
    ("transport", "target", "allow", "protected"),
    [
        ("tls", "sips:bob@biloxi.example", False, True),
        ("tls", "sip:bob@biloxi.example", False, False),
        ("tls", "sip:bob@biloxi.example;transport=tls", False, False),
        ("tls", "sip:bob@biloxi.example", True, True),  # the explicit opt-in
        ("tcp", "sips:bob@biloxi.example", False, False),  # sips: over TCP is no TLS
        ("udp", "sip:bob@biloxi.example", True, False),  # the opt-in needs TLS itself
    ],
)
def test_keys_go_in_cleartext_sdp_only_to_a_sips_target_over_tls(
    transport: str, target: str, allow: bool, protected: bool
) -> None:
    from sipsec.transport.ua_app import UaApp, UaSettings

    settings = UaSettings(
        "sips:alice@atlanta.example",
        proxy="sips:atlanta.example",
        transport=transport,  # type: ignore[arg-type]
        target=target,
        allow_sdes_over_first_hop_tls=allow,
    )
    app = UaApp(settings)
    assert app.keys_protected_to(target) == protected == app.hop_is_tls
