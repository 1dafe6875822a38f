"""UaConfig checks its AOR; the password stays out of every repr."""

from __future__ import annotations

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.ua import UaConfig, UserAgent


@pytest.mark.parametrize(
    "aor", ["tel:+1555", "sip:atlanta.example", "not a uri", "mailto:a@b", "sip:"]
)
def test_bad_aor_is_refused(aor: str) -> None:
    with pytest.raises(LocalProtocolError):
        UaConfig(aor)


def test_expires_range() -> None:
    with pytest.raises(LocalProtocolError):
        UaConfig("sip:alice@atlanta.example", register_expires=-1)
    ua = UserAgent(UaConfig("sip:alice@atlanta.example"))
    with pytest.raises(LocalProtocolError):
        ua.register(0.0, expires=2**32)


def test_username_defaults_to_the_aor_user() -> None:
    assert UaConfig("sip:alice@atlanta.example").auth_username == "alice"
    assert UaConfig("sip:alice@atlanta.example", username="a1").auth_username == "a1"


def test_secrets_stay_out_of_reprs() -> None:
    secret = "s3cret-Passw0rd"
    config = UaConfig("sip:alice@atlanta.example", password=secret)
    ua = UserAgent(config)
    for text in (repr(config), str(config), repr(ua), str(ua), repr(ua.digest)):
        assert secret not in text
    assert "alice@atlanta.example" in repr(ua)


def test_user_agent_is_a_transaction_user() -> None:
    from sipsec.transaction import TransactionUser

    ua = UserAgent(UaConfig("sip:alice@atlanta.example"))
    tu: TransactionUser = ua  # checked by mypy; the attributes by the test
    for name in ("layer", "handle_event", "get_timer", "handle_timer"):
        assert hasattr(tu, name)
    assert tu.resolutions_needed() == [] and tu.get_timer() is None
