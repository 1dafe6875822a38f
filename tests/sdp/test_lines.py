"""Line values of RFC 4566/8866 §5, against the RFC fragments in tests/vectors/sdp/index.json."""

from __future__ import annotations

import pytest

from sipsec.sdp import (
    Attribute,
    Bandwidth,
    Codec,
    Connection,
    KeyField,
    MediaLine,
    Origin,
    Repeat,
    SdpError,
    Timing,
    ZoneAdjustments,
)

from .conftest import fragments


def _by_text(text: str) -> dict[str, object]:
    return next(f["expected"] for f in fragments() if f["text"] == text)


def test_the_fragment_file_is_the_one_we_expect() -> None:
    assert len(fragments()) == 24


def test_connection_multicast_fragments_rfc4566_5_7() -> None:
    c = Connection.parse("IN IP4 224.2.36.42/127")
    exp = _by_text("c=IN IP4 224.2.36.42/127")
    assert (c.addrtype, c.address, c.ttl) == (exp["addrtype"], exp["address"], exp["ttl"])
    c = Connection.parse("IN IP4 224.2.1.1/127/3")
    exp = _by_text("c=IN IP4 224.2.1.1/127/3")
    assert c.addresses() == exp["addresses"] and c.ttl == exp["ttl"]
    c = Connection.parse("IN IP6 FF15::101/3")
    exp = _by_text("c=IN IP6 FF15::101/3")
    # ipaddress writes IPv6 in lower case (RFC 5952); the RFC printed upper case.
    assert [a.upper() for a in c.addresses()] == exp["addresses"] and c.ttl is None
    for text in ("IN IP4 224.2.36.42/127", "IN IP4 224.2.1.1/127/3", "IN IP6 FF15::101/3"):
        assert Connection.parse(text).value() == text


def test_bandwidth_timing_repeat_zone_fragments() -> None:
    b = Bandwidth.parse("X-YZ:128")
    assert (b.bwtype, b.bandwidth) == ("X-YZ", 128)
    t = Timing.parse("3034423619 3042462419")
    assert (t.start, t.stop) == (3034423619, 3042462419)
    exp = _by_text("r=7d 1h 0 25h")
    for text in ("604800 3600 0 90000", "7d 1h 0 25h"):
        r = Repeat.parse(text)
        assert (r.interval_s, r.duration_s, r.offsets_s) == (
            exp["interval_s"],
            exp["duration_s"],
            exp["offsets_s"],
        )
        assert r.value() == text  # units kept as written
    z = ZoneAdjustments.parse("2882844526 -1h 2898848070 0")
    assert [list(p) for p in z.adjustments] == _by_text("z=2882844526 -1h 2898848070 0")[
        "adjustments"
    ]
    assert z.value() == "2882844526 -1h 2898848070 0"


def test_media_line_with_port_count() -> None:
    m = MediaLine.parse("video 49170/2 RTP/AVP 31")
    exp = _by_text("m=video 49170/2 RTP/AVP 31")
    assert (m.port, m.port_count, m.proto, m.formats) == (
        exp["port"],
        exp["number_of_ports"],
        exp["proto"],
        exp["fmts"],
    )
    assert m.value() == "video 49170/2 RTP/AVP 31"


@pytest.mark.parametrize("text", ["98 L16/16000/2", "98 L16/11025/2", "96 L8/8000"])
def test_rtpmap_fragments_rfc4566_6(text: str) -> None:
    codec = Codec.parse_rtpmap(text)
    exp = _by_text("a=rtpmap:" + text)
    assert (codec.payload_type, codec.name, codec.clock_rate) == (
        exp["payload_type"],
        exp["encoding"],
        exp["clock_rate"],
    )
    assert codec.channels == exp.get("channels")
    assert codec.rtpmap() == text


def test_origin_keeps_digit_strings() -> None:
    o = Origin.parse("jill 25690844 8070842634 IN IP4 10.47.16.5")
    assert o.session_version == "8070842634" and o.value().startswith("jill 25690844 ")


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (Origin.parse, "jdoe 2890844526 IN IP4 10.47.16.5"),
        (Origin.parse, "jdoe  2890844526 2890842807 IN IP4 10.47.16.5"),
        (Origin.parse, "jdoe x 2890842807 IN IP4 10.47.16.5"),
        (Connection.parse, "IN IP4 224.2.1.1/256"),
        (Connection.parse, "IN IP4 224.2.1.1/127/0"),
        (Connection.parse, "IN IP4 224.2.1.1/1/2/3"),
        (Connection.parse, "IN IP6 ::1/1/2"),
        (Bandwidth.parse, "AS"),
        (Bandwidth.parse, "AS:0064"),
        (Timing.parse, "0"),
        (Timing.parse, "01 0"),
        (Repeat.parse, "0 1h 0"),
        (Repeat.parse, "7d 1h"),
        (Repeat.parse, "7w 1h 0"),
        (ZoneAdjustments.parse, "2882844526"),
        (MediaLine.parse, "audio 65536 RTP/AVP 0"),
        (MediaLine.parse, "audio 049170 RTP/AVP 0"),
        (MediaLine.parse, "audio 49170/0 RTP/AVP 0"),
        (MediaLine.parse, "audio 49170 RTP/AVP"),
        (MediaLine.parse, "audio 4" + "0" * 40 + " RTP/AVP 0"),
        (Attribute.parse, "bad name:1"),
        (KeyField.parse, "prompt:x"),
        (KeyField.parse, "clear"),
        (KeyField.parse, "base64:not base64!"),
    ],
)
def test_bad_values_raise_sdp_error(parse: object, text: str) -> None:
    with pytest.raises(SdpError) as info:
        parse(text)  # type: ignore[operator]
    assert info.value.status == 400


def test_key_field_methods_rfc4566_5_12() -> None:
    for text in ("clear:secret", "base64:c2VjcmV0", "uri:https://example.com/key", "prompt"):
        k = KeyField.parse(text)
        assert k.text() == text
        assert "secret" not in repr(k) and "c2VjcmV0" not in repr(k)
    assert KeyField.parse("prompt").key is None


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        (
            "crypto",
            "1 AES_CM_128_HMAC_SHA1_80 inline:SECRETKEY|2^20",
            "1 AES_CM_128_HMAC_SHA1_80 <redacted>",
        ),
        (
            "crypto",
            "2 AES_CM_128_HMAC_SHA1_80 mikey:SECRETKEY",
            "2 AES_CM_128_HMAC_SHA1_80 <redacted>",
        ),
        ("key-mgmt", "mikey SECRETKEY", "mikey <redacted>"),
        ("x-crypto", "inline:SECRETKEY|1:4", "inline:<redacted>|1:4"),
    ],
)
def test_attribute_repr_hides_keys(name: str, value: str, shown: str) -> None:
    text = repr(Attribute(name, value))
    assert "SECRETKEY" not in text and repr(shown) in text
    assert Attribute(name, value).text() == f"{name}:{value}"
