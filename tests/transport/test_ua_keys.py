"""The key-transport checks on their own (the UA-level matrix and
``arrived_over_tls`` are in tests/security/test_key_transport.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import Request
from sipsec.transport.ua_keys import from_aor, keys_protected_to, refusal_reason
from sipsec.transport.ua_settings import UaAppError, UaSettings

SETTINGS = UaSettings("sips:alice@atlanta.example")


def test_refusal_names_the_missing_sips_only_over_tls() -> None:
    sip = refusal_reason("no TLS", "tls", "sip:bob@biloxi.example")
    assert sip.startswith("refusing to send the offer: no TLS; sip:bob@biloxi.example is not sips:")
    assert "--keys smime" in sip
    assert refusal_reason("no TLS", "tls", "sips:bob@biloxi.example") == (
        "refusing to send the offer: no TLS"
    )
    assert refusal_reason("no TLS", "udp", "sip:bob@biloxi.example") == (
        "refusing to send the offer: no TLS"
    )


def test_from_aor() -> None:
    request = Request(
        "INVITE", "sips:bob@biloxi.example", [("From", "<sips:alice@atlanta.example>;tag=1")]
    )
    assert from_aor(request) == "sips:alice@atlanta.example"
    assert from_aor(Request("INVITE", "sips:bob@biloxi.example", [])) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_a_target_that_is_no_sip_uri_is_a_usage_error(target: str) -> None:
    """Over TLS the target is parsed: anything is a verdict or UaAppError."""
    try:
        verdict = keys_protected_to("tls", SETTINGS, target)
    except UaAppError as exc:
        assert exc.kind == "usage"
    else:
        assert verdict is False or "sips:" in target.lower()  # only sips: is protected
    assert keys_protected_to("udp", SETTINGS, target) is False  # never parsed: no TLS
