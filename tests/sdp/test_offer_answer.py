"""RFC 3264 offer/answer for audio with SDES (RFC 4568 §7), RFC 5761 rtcp-mux."""

from __future__ import annotations

import base64
import itertools

import pytest

from sipsec.sdp import (
    PCMA,
    PCMU,
    AudioCapabilities,
    Codec,
    SdpError,
    SrtpKeyParams,
    answer_offer,
    build_offer,
    crypto_attributes,
    direction_of,
    negotiated,
    parse_sdp,
)

from .conftest import vector


def counter_random() -> object:
    """Deterministic 'randomness': distinct octets on every call."""
    counter = itertools.count(1)

    def random(n: int) -> bytes:
        start = next(counter) * 37
        return bytes((start + i) & 0xFF for i in range(n))

    return random


def offer_bytes(**caps: object) -> bytes:
    return bytes(
        build_offer("192.0.2.1", 4000, AudioCapabilities(**caps), random=counter_random())  # type: ignore[arg-type]
    )


def test_plain_offer_is_rtp_avp_with_the_attributes() -> None:
    offer = parse_sdp(offer_bytes(srtp_suites=(), rtcp_mux=False))
    media = offer.media[0]
    assert (media.media, media.port, media.proto, media.formats) == (
        "audio",
        4000,
        "RTP/AVP",
        ["0", "8", "101"],
    )
    assert media.attribute_values("fmtp") == ["101 0-16"]
    assert media.attribute_values("ptime") == ["20"]
    assert media.has_attribute("sendrecv") and not media.has_attribute("rtcp-mux")
    assert not media.has_attribute("crypto")


def test_srtp_offer_has_one_crypto_line_per_suite_in_order() -> None:
    suites = ("AEAD_AES_256_GCM", "AES_256_CM_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80")
    offer = parse_sdp(offer_bytes(srtp_suites=suites))
    lines = crypto_attributes(offer.media[0])
    assert [(c.tag, c.suite) for c in lines] == [(1, suites[0]), (2, suites[1]), (3, suites[2])]
    assert [len(c.keys[0].key_salt) for c in lines] == [44, 46, 30]
    assert offer.media[0].proto == "RTP/SAVP"


def test_ipv6_address_gives_ip6_lines() -> None:
    offer = build_offer("2001:db8::1", 4000, random=counter_random())  # type: ignore[arg-type]
    assert offer.connection is not None and offer.connection.addrtype == "IP6"
    assert offer.origin.addrtype == "IP6"


def answer(offer: bytes, **caps: object) -> bytes:
    return bytes(
        answer_offer(
            parse_sdp(offer),
            "198.51.100.2",
            5000,
            AudioCapabilities(**caps),  # type: ignore[arg-type]
            random=counter_random(),  # type: ignore[arg-type]
        )
    )


def test_rfc4568_7_1_5_offer_is_answered_like_the_rfc() -> None:
    offer = vector("rfc4568-7.1.5-offer.sdp")
    ours = parse_sdp(answer(offer))
    rfc = parse_sdp(vector("rfc4568-7.1.5-answer.sdp"))
    # RFC 3264 §6: t= copied from the offer (the RFC 4568 example's answer has another t=).
    assert ours.times == parse_sdp(offer).times != rfc.times
    mine, theirs = crypto_attributes(ours.media[0]), crypto_attributes(rfc.media[0])
    assert [(c.tag, c.suite) for c in mine] == [(c.tag, c.suite) for c in theirs]
    assert mine[0].session_params == ()  # FEC_ORDER=FEC_SRTP is the default, not echoed
    assert [m.formats for m in ours.media] == [m.formats for m in rfc.media]
    # The RFC's own pair negotiates: keys of the offer's tag 1 and of the answer.
    agreed = negotiated(parse_sdp(offer), rfc)
    assert (agreed.remote_address, agreed.remote_port, agreed.codec) == (
        "168.2.17.11",
        32640,
        PCMU,
    )
    assert agreed.send_keys[0].key_salt == base64.b64decode(
        "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    )
    assert agreed.receive_keys[0].key_salt == base64.b64decode(
        "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
    )
    assert agreed.receive_keys[0].mki == b"\x00\x00\x00\x01"
    assert agreed.receive_keys[0].lifetime == 1 << 20


def test_answer_picks_the_offerers_first_acceptable_suite_and_keeps_its_tag() -> None:
    offer = offer_bytes(
        srtp_suites=("AEAD_AES_256_GCM", "AES_192_CM_HMAC_SHA1_80", "AEAD_AES_128_GCM")
    )
    reply = parse_sdp(answer(offer, srtp_suites=("AEAD_AES_128_GCM", "AES_192_CM_HMAC_SHA1_80")))
    [chosen] = crypto_attributes(reply.media[0])
    assert (chosen.tag, chosen.suite, len(chosen.keys[0].key_salt)) == (
        2,
        "AES_192_CM_HMAC_SHA1_80",
        38,
    )
    ours = negotiated(parse_sdp(offer), reply)
    theirs = negotiated(parse_sdp(offer), reply, local_role="answerer")
    assert ours.send_keys == theirs.receive_keys and ours.receive_keys == theirs.send_keys
    assert ours.send_keys != ours.receive_keys
    assert (ours.remote_address, ours.remote_port) == ("198.51.100.2", 5000)
    assert (theirs.remote_address, theirs.remote_port) == ("192.0.2.1", 4000)


def test_codecs_follow_the_answerers_order_with_the_offers_payload_types() -> None:
    body = (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 18 0 8 96\r\na=rtpmap:96 TELEPHONE-EVENT/8000\r\n"
        b"a=fmtp:96 0-15\r\na=ptime:30\r\n"
    )
    reply = parse_sdp(answer(body, srtp_suites=(), require_srtp=False, codecs=(PCMA, PCMU)))
    media = reply.media[0]
    assert media.formats == ["8", "0", "96"] and media.proto == "RTP/AVP"
    assert media.attribute_values("fmtp") == ["96 0-15"]
    agreed = negotiated(parse_sdp(body), reply)
    assert (agreed.codec, agreed.telephone_event, agreed.ptime) == (PCMA, 96, 20)
    assert not agreed.secure and agreed.send_keys == [] and not agreed.rtcp_mux
    assert agreed.remote_rtcp_port == 5001
    assert negotiated(parse_sdp(body), reply, local_role="answerer").ptime == 30
    reply = parse_sdp(answer(body, srtp_suites=(), require_srtp=False, telephone_event=False))
    assert reply.media[0].formats == ["0", "8"]


@pytest.mark.parametrize(
    ("offered", "local", "expected"),
    [
        ("sendrecv", "sendrecv", "sendrecv"),
        ("sendrecv", "sendonly", "sendonly"),
        ("sendrecv", "recvonly", "recvonly"),
        ("sendrecv", "inactive", "inactive"),
        ("sendonly", "sendrecv", "recvonly"),
        ("sendonly", "sendonly", "inactive"),
        ("sendonly", "recvonly", "recvonly"),
        ("recvonly", "sendrecv", "sendonly"),
        ("recvonly", "recvonly", "inactive"),
        ("recvonly", "sendonly", "sendonly"),
        ("inactive", "sendrecv", "inactive"),
        ("inactive", "sendonly", "inactive"),
    ],
)
def test_direction_rules_rfc3264_6_1(offered: str, local: str, expected: str) -> None:
    offer = offer_bytes(direction=offered)
    reply = parse_sdp(answer(offer, direction=local))
    assert direction_of(reply, reply.media[0]) == expected
    agreed = negotiated(parse_sdp(offer), reply, local_role="answerer")
    assert (agreed.send, agreed.receive) == (
        expected in ("sendrecv", "sendonly"),
        expected in ("sendrecv", "recvonly"),
    )
    # The offerer reads the same agreement the other way round.
    agreed_there = negotiated(parse_sdp(offer), reply)
    assert (agreed_there.send, agreed_there.receive) == (agreed.receive, agreed.send)
    # An offerer that offered sendrecv and got recvonly back may only send.
    if offered == "sendrecv" and expected == "recvonly":
        assert (agreed_there.send, agreed_there.receive) == (True, False)


def test_rtcp_mux_only_when_both_want_it_rfc5761() -> None:
    offer = offer_bytes()
    assert parse_sdp(answer(offer)).media[0].has_attribute("rtcp-mux")
    reply = parse_sdp(answer(offer, rtcp_mux=False))
    assert not reply.media[0].has_attribute("rtcp-mux")
    assert negotiated(parse_sdp(offer), reply).remote_rtcp_port == 5001
    offer = offer_bytes(rtcp_mux=False)
    assert not parse_sdp(answer(offer)).media[0].has_attribute("rtcp-mux")


def test_streams_are_rejected_with_port_0_and_order_kept() -> None:
    sdes = crypto_line(30)
    body = (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=video 4002 RTP/SAVP 31\r\n"
        b"m=audio 0 RTP/SAVP 0\r\n"
        b"m=audio 4000 RTP/SAVP 0\r\n" + sdes + b"m=audio 4004 RTP/SAVP 8\r\n" + sdes
    )
    reply = parse_sdp(answer(body))
    assert [(m.media, m.port, m.formats) for m in reply.media] == [
        ("video", 0, ["31"]),
        ("audio", 0, ["0"]),
        ("audio", 5000, ["0"]),
        ("audio", 0, ["8"]),  # one audio stream is taken, the next one rejected
    ]
    assert negotiated(parse_sdp(body), reply).remote_port == 5000


def crypto_line(octets: int, suite: str = "AES_CM_128_HMAC_SHA1_80", extra: str = "") -> bytes:
    b64 = base64.b64encode(bytes(range(octets))).decode()
    return f"a=crypto:7 {suite} inline:{b64}{extra}\r\n".encode()


def savp(*lines: bytes, proto: bytes = b"RTP/SAVP", fmt: bytes = b"0") -> bytes:
    return (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 " + proto + b" " + fmt + b"\r\n" + b"".join(lines)
    )


@pytest.mark.parametrize(
    ("body", "caps", "why"),
    [
        (savp(proto=b"RTP/AVP"), {}, "RTP/AVP refused"),
        (savp(proto=b"UDP/TLS/RTP/SAVP"), {}, "refused"),
        (savp(), {}, "no acceptable a=crypto"),
        (savp(crypto_line(30, "F8_128_HMAC_SHA1_80")), {}, "no acceptable a=crypto"),
        (savp(crypto_line(30, extra=" KDR=10")), {}, "no acceptable a=crypto"),
        (savp(crypto_line(30, extra=" UNENCRYPTED_SRTP")), {}, "no acceptable a=crypto"),
        (savp(crypto_line(30)), {"srtp_suites": ()}, "no acceptable a=crypto"),
        (savp(crypto_line(30), fmt=b"18"), {}, "no common codec"),
        (savp(proto=b"RTP/AVP", fmt=b"9"), {"require_srtp": False}, "no common codec"),
        (b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", {}, "no audio stream"),
    ],
)
def test_nothing_acceptable_is_a_488(body: bytes, caps: dict[str, object], why: str) -> None:
    with pytest.raises(SdpError) as info:
        answer(body, **caps)
    assert info.value.status == 488 and why in info.value.reason


def test_unencrypted_flags_are_echoed_when_allowed() -> None:
    body = savp(crypto_line(30, extra=" UNENCRYPTED_SRTCP FEC_ORDER=FEC_SRTP"))
    reply = parse_sdp(answer(body, allow_unencrypted=True))
    assert crypto_attributes(reply.media[0])[0].session_params == ("UNENCRYPTED_SRTCP",)


def test_a_wrong_key_length_in_the_offer_is_a_clear_error() -> None:
    with pytest.raises(SdpError) as info:
        answer(savp(crypto_line(29)))
    assert info.value.reason == (
        "AES_CM_128_HMAC_SHA1_80 needs a 16-octet master key and a 14-octet salt "
        "(30 octets of key||salt), got 29"
    )


def test_negotiated_rejects_inconsistent_answers() -> None:
    offer = offer_bytes()
    good = answer(offer)
    tag_changed = good.replace(b"a=crypto:1 ", b"a=crypto:9 ")
    suite_changed = good.replace(b"AES_CM_128_HMAC_SHA1_80", b"AES_CM_128_HMAC_SHA1_32")
    no_crypto = b"".join(line for line in good.splitlines(keepends=True) if b"crypto" not in line)
    for bad, status in ((tag_changed, 488), (suite_changed, 488), (no_crypto, 488)):
        with pytest.raises(SdpError) as info:
            negotiated(parse_sdp(offer), parse_sdp(bad))
        assert info.value.status == status
    rejected = good.replace(b"m=audio 5000", b"m=audio 0")
    with pytest.raises(SdpError, match="accepted no audio"):
        negotiated(parse_sdp(offer), parse_sdp(rejected))
    extra = good + b"m=video 0 RTP/AVP 31\r\n"
    with pytest.raises(SdpError, match="number of m= lines"):
        negotiated(parse_sdp(offer), parse_sdp(extra))
    other_codec = good.replace(b"RTP/SAVP 0 8 101", b"RTP/SAVP 3")
    with pytest.raises(SdpError, match="no codec"):
        negotiated(parse_sdp(offer), parse_sdp(other_codec))


def test_negotiated_reads_keys_from_k_lines_too() -> None:
    key_a, key_b = bytes(range(30)), bytes(range(1, 31))
    head = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"

    def body(port: bytes, key: bytes) -> bytes:
        return (
            head
            + b"m=audio "
            + port
            + b" RTP/SAVP 0\r\nk=base64:"
            + base64.b64encode(key)
            + b"\r\n"
        )

    agreed = negotiated(parse_sdp(body(b"4000", key_a)), parse_sdp(body(b"5000", key_b)))
    assert agreed.send_keys == [SrtpKeyParams("AES_CM_128_HMAC_SHA1_80", key_a)]
    assert agreed.receive_keys == [SrtpKeyParams("AES_CM_128_HMAC_SHA1_80", key_b)]


def test_codec_equality_is_case_insensitive_on_names() -> None:
    assert Codec("pcmu", 0).same_format(PCMU) and not PCMA.same_format(PCMU)


def test_misuse_and_inconsistent_bodies() -> None:
    with pytest.raises(SdpError) as info:
        build_offer("192.0.2.1", 4000, AudioCapabilities(codecs=()))
    assert info.value.status == 500
    offer = build_offer("host.example", 4000, random=counter_random())  # type: ignore[arg-type]
    assert offer.connection is not None and offer.connection.addrtype == "IP4"
    good = answer(bytes(offer))
    with pytest.raises(SdpError) as info:
        negotiated(offer, parse_sdp(good), local_role="proxy")
    assert info.value.status == 500
    with pytest.raises(SdpError, match="changed the media or profile"):
        negotiated(offer, parse_sdp(good.replace(b"RTP/SAVP", b"RTP/AVP")))
    no_c = parse_sdp(good)
    no_c.connection = None
    with pytest.raises(SdpError, match="no c= line"):
        negotiated(offer, no_c)
