"""k= keys (RFC 4566 §5.12) and the key-material guard the UA uses before a cleartext hop."""

from __future__ import annotations

import base64

import pytest

from sipsec.sdp import (
    DEFAULT_SUITE,
    KeyField,
    SdpError,
    SrtpKeyParams,
    carries_key_material,
    key_field_for,
    key_from_field,
    key_material_lines,
    key_transport_problem,
    parse_sdp,
)

from .conftest import DOCUMENTS, vector

KEY = bytes(range(30))
HEAD = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"


def test_k_base64_carries_key_salt_with_the_default_suite() -> None:
    field = key_field_for(SrtpKeyParams(DEFAULT_SUITE, KEY))
    assert field == KeyField("base64", base64.b64encode(KEY).decode())
    body = HEAD + b"k=" + field.text().encode() + b"\r\nm=audio 4000 RTP/SAVP 0\r\n"
    sdp = parse_sdp(body)
    assert bytes(sdp) == body
    key = key_from_field(sdp, sdp.media[0])
    assert key == SrtpKeyParams("AES_CM_128_HMAC_SHA1_80", KEY)
    assert base64.b64encode(KEY).decode() not in repr(sdp)


def test_media_k_and_suite_attribute_override_the_session() -> None:
    gcm = bytes(28)
    body = (
        HEAD
        + b"k=clear:"
        + b"x" * 30
        + b"\r\na=x-srtp-suite:AES_CM_128_HMAC_SHA1_32\r\n"
        + b"m=audio 4000 RTP/SAVP 0\r\nk=base64:"
        + base64.b64encode(gcm)
        + b"\r\na=x-srtp-suite:AEAD_AES_128_GCM\r\n"
        + b"m=audio 4002 RTP/SAVP 0\r\n"
    )
    sdp = parse_sdp(body)
    assert key_from_field(sdp, sdp.media[0]) == SrtpKeyParams("AEAD_AES_128_GCM", gcm)
    # k=clear: the text's octets are key||salt; the session's suite attribute applies.
    assert key_from_field(sdp, sdp.media[1]) == SrtpKeyParams("AES_CM_128_HMAC_SHA1_32", b"x" * 30)


@pytest.mark.parametrize("line", [b"k=prompt", b"k=uri:https://keys.example/1"])
def test_uri_and_prompt_carry_no_key(line: bytes) -> None:
    sdp = parse_sdp(HEAD + line + b"\r\n")
    assert key_from_field(sdp) is None
    assert carries_key_material(HEAD + line + b"\r\n")  # a k= line all the same


def test_k_with_a_wrong_length_or_unknown_method_is_an_error() -> None:
    sdp = parse_sdp(HEAD + b"k=clear:short\r\n")
    with pytest.raises(SdpError, match="30 octets"):
        key_from_field(sdp)
    sdp = parse_sdp(HEAD + b"k=rot13:abc\r\n")
    with pytest.raises(SdpError) as info:
        key_from_field(sdp)
    assert info.value.status == 488
    sdp = parse_sdp(HEAD + b"k=base64:" + base64.b64encode(KEY) + b"\r\na=x-srtp-suite:NOPE\r\n")
    with pytest.raises(SdpError, match="not supported"):
        key_from_field(sdp)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_guard_on_the_rfc_documents(name: str) -> None:
    expected = [] if name.startswith("rfc4566") else ["a=crypto"]
    assert key_material_lines(vector(name)) == expected
    assert carries_key_material(vector(name)) == bool(expected)


@pytest.mark.parametrize(
    "body",
    [
        b"k=clear:x",
        b"junk\nK=base64:AAAA\n",
        b"\xff\xfe garbage\r\n  a=crypto:1 X inline:AAAA\r\n",
        b"v=0\ra=CRYPTO:1",
        HEAD + b"m=audio 1 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n",
    ],
)
def test_guard_errs_on_the_side_of_yes_even_for_bodies_that_do_not_parse(body: bytes) -> None:
    assert carries_key_material(body)


def test_guard_is_false_without_keys() -> None:
    assert not carries_key_material(HEAD + b"m=audio 1 RTP/AVP 0\r\na=keywords:crypto\r\n")
    assert not carries_key_material(b"")


def test_key_transport_problem_names_the_rule() -> None:
    keyed = vector("rfc4568-7.1.5-offer.sdp")
    why = key_transport_problem(keyed, hop_is_tls=False, body_encrypted=False)
    assert why is not None and "a=crypto" in why and "TLS" in why and "S/MIME" in why
    assert key_transport_problem(keyed, hop_is_tls=True, body_encrypted=False) is None
    assert key_transport_problem(keyed, hop_is_tls=False, body_encrypted=True) is None
    plain = vector("rfc4566-5-example.sdp")
    assert key_transport_problem(plain, hop_is_tls=False, body_encrypted=False) is None
    both = HEAD + b"k=prompt\r\nm=audio 1 RTP/SAVP 0\r\na=crypto:1 X inline:AAAA\r\n"
    why = key_transport_problem(both, hop_is_tls=False, body_encrypted=False)
    assert why is not None and "k= and a=crypto" in why
