"""a=crypto (RFC 4568 §9.1): the RFC's lines, every suite sipsec's SRTP runs, and errors."""

from __future__ import annotations

import base64

import pytest

from sipsec.sdp import (
    SUITES,
    CryptoAttribute,
    KeyParam,
    SdpError,
    SrtpKeyParams,
    crypto_attributes,
    parse_sdp,
    suite_lengths,
)

from .conftest import fragments, vector

CRYPTO_FRAGMENTS = [f for f in fragments() if f["text"].startswith("a=crypto:")]


@pytest.mark.parametrize("fragment", CRYPTO_FRAGMENTS, ids=lambda f: f["source"][:30])
def test_rfc4568_crypto_lines(fragment: dict[str, object]) -> None:
    text = str(fragment["text"])
    crypto = CryptoAttribute.parse(text.removeprefix("a=crypto:"))
    octets = fragment["key_salt_octets"]
    counts = octets if isinstance(octets, list) else [octets]
    assert [len(k.key_salt) for k in crypto.keys] == counts
    assert crypto.value() == text.removeprefix("a=crypto:")  # canonical form is the RFC's
    expected = fragment.get("expected")
    if isinstance(expected, dict):
        assert (crypto.tag, crypto.suite) == (expected["tag"], expected["suite"])
        key = crypto.keys[0]
        exp_key = expected["keys"][0]
        assert base64.b64encode(key.key_salt).decode() == exp_key["key_salt_b64"]
        assert (key.lifetime, key.mki_value, key.mki_length) == (
            exp_key["lifetime"],
            exp_key["mki"],
            exp_key["mki_length"],
        )


@pytest.mark.parametrize(
    "fragment", [f for f in fragments() if f["text"].startswith("inline:")], ids=str
)
def test_rfc4568_6_1_key_params(fragment: dict[str, object]) -> None:
    key = KeyParam.parse(str(fragment["text"]))
    exp = fragment["expected"]
    assert isinstance(exp, dict)
    assert len(key.key_salt) == fragment["key_salt_octets"]
    assert (key.lifetime, key.mki_value, key.mki_length) == (
        exp["lifetime"],
        exp["mki"],
        exp["mki_length"],
    )
    assert key.mki == exp["mki"].to_bytes(exp["mki_length"], "big")


def test_offer_with_two_lines_in_preference_order_and_two_keys() -> None:
    offer = parse_sdp(vector("rfc4568-7.1.5-offer.sdp"))
    lines = crypto_attributes(offer.media[0])
    assert [(c.tag, c.suite, c.usable) for c in lines] == [
        (1, "AES_CM_128_HMAC_SHA1_80", True),
        (2, "F8_128_HMAC_SHA1_80", False),  # a suite sipsec does not run: parsed, unusable
    ]
    assert lines[0].session_params == ("FEC_ORDER=FEC_SRTP",)
    assert [k.mki for k in lines[1].keys] == [b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"]
    with pytest.raises(SdpError) as info:
        lines[1].key_params()
    assert info.value.status == 488


EXPECTED_LENGTHS = {
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
    "AES_192_CM_HMAC_SHA1_80": (24, 14),
    "AES_192_CM_HMAC_SHA1_32": (24, 14),
    "AES_256_CM_HMAC_SHA1_80": (32, 14),
    "AES_256_CM_HMAC_SHA1_32": (32, 14),
    "AEAD_AES_128_GCM": (16, 12),
    "AEAD_AES_256_GCM": (32, 12),
}


def test_suite_table_rfc4568_rfc6188_rfc7714() -> None:
    assert EXPECTED_LENGTHS == SUITES


@pytest.mark.parametrize("suite", sorted(EXPECTED_LENGTHS))
def test_every_suite_round_trips_and_rejects_wrong_lengths(suite: str) -> None:
    key_len, salt_len = suite_lengths(suite)
    key = SrtpKeyParams(suite, bytes(range(key_len + salt_len)), b"\x07", 1 << 31)
    crypto = CryptoAttribute.from_params(5, [key])
    back = CryptoAttribute.parse(crypto.value())
    assert back == crypto and back.key_params() == [key]
    assert "|2^31|7:1" in crypto.value()
    for wrong in (key_len + salt_len - 1, key_len + salt_len + 1, key_len):
        b64 = base64.b64encode(bytes(wrong)).decode()
        with pytest.raises(SdpError) as info:
            CryptoAttribute.parse(f"1 {suite} inline:{b64}")
        assert f"{key_len + salt_len} octets" in info.value.reason
        assert f"got {wrong}" in info.value.reason
        with pytest.raises(SdpError):
            SrtpKeyParams(suite, bytes(wrong))


def test_lifetime_forms_and_padding() -> None:
    b64 = base64.b64encode(bytes(30)).decode()
    assert KeyParam.parse(f"inline:{b64}|1048576").lifetime == 1 << 20
    assert KeyParam.parse(f"inline:{b64}|2^20").lifetime == 1 << 20
    assert KeyParam.parse(f"inline:{b64}|1000").text() == f"inline:{b64}|1000"
    # 46 octets (AES-256): padding is optional on input, written on output.
    b64_46 = base64.b64encode(bytes(46)).decode()
    assert b64_46.endswith("==")
    key = KeyParam.parse("inline:" + b64_46.rstrip("="))
    assert len(key.key_salt) == 46 and key.text() == "inline:" + b64_46


def test_session_params_are_kept_and_whitespace_may_be_tabs() -> None:
    b64 = base64.b64encode(bytes(30)).decode()
    crypto = CryptoAttribute.parse(
        f"1\tAES_CM_128_HMAC_SHA1_80  inline:{b64} UNENCRYPTED_SRTP KDR=23 WSH=64"
    )
    assert crypto.session_params == ("UNENCRYPTED_SRTP", "KDR=23", "WSH=64")


B64 = base64.b64encode(bytes(30)).decode()


@pytest.mark.parametrize(
    "value",
    [
        "1 AES_CM_128_HMAC_SHA1_80",
        f"1234567890 AES_CM_128_HMAC_SHA1_80 inline:{B64}",
        f"x AES_CM_128_HMAC_SHA1_80 inline:{B64}",
        f"1 AES-CM inline:{B64}",
        "1 AES_CM_128_HMAC_SHA1_80 inline:",
        "1 AES_CM_128_HMAC_SHA1_80 inline:@@@@",
        "1 AES_CM_128_HMAC_SHA1_80 inline:A",
        f"1 AES_CM_128_HMAC_SHA1_80 {B64}",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|2^49",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|0",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|1:0",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|1:129",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|256:1",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|1:4|2^20",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|2^20|2^20",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|1|2|3",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64};inline:{B64}",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|1:4;inline:{B64}|1:4",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64}|1:4;inline:{B64}|2:2",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{B64} caf\u00e9",
    ],
)
def test_bad_crypto_lines(value: str) -> None:
    with pytest.raises(SdpError) as info:
        CryptoAttribute.parse(value)
    assert info.value.status == 400


def test_key_material_never_in_repr() -> None:
    offer = parse_sdp(vector("rfc4568-7.1.5-offer.sdp"))
    secrets = ["WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", "MTIzNDU2Nzg5QUJDREUw"]
    crypto = crypto_attributes(offer.media[0])
    raw = base64.b64decode(secrets[0])
    for shown in (repr(offer), repr(crypto), str(crypto), repr(crypto[0].key_params())):
        assert not any(s in shown for s in secrets)
        assert raw.hex() not in shown and repr(raw) not in shown
    assert "<redacted>" in repr(offer)


def test_other_key_methods_are_kept_but_unusable() -> None:
    crypto = CryptoAttribute.parse("3 AES_CM_128_HMAC_SHA1_80 mikey:opaque|x")
    assert crypto.value() == "3 AES_CM_128_HMAC_SHA1_80 mikey:opaque|x"
    assert not crypto.usable and "opaque" not in repr(crypto)


def test_one_line_carries_one_suite() -> None:
    a = SrtpKeyParams("AES_CM_128_HMAC_SHA1_80", bytes(30), b"\x01")
    b = SrtpKeyParams("AEAD_AES_128_GCM", bytes(28), b"\x02")
    with pytest.raises(SdpError):
        CryptoAttribute.from_params(1, [a, b])
    with pytest.raises(SdpError):
        CryptoAttribute.from_params(1, [])
    two = CryptoAttribute.from_params(1, [a, SrtpKeyParams(a.suite, bytes(range(30)), b"\x02")])
    assert CryptoAttribute.parse(two.value()).key_params()[1].mki == b"\x02"
    assert a != b and a == SrtpKeyParams(a.suite, bytes(30), b"\x01") and a != "x"
    assert len({a, SrtpKeyParams(a.suite, bytes(30), b"\x01")}) == 1
