"""The Digest header codec (RFC 3261 §25.1, RFC 7616 §3.3/§3.4) on the worked
examples of RFC 2617/7616 and every auth header of RFC 3665
(tests/vectors/digest/vectors.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import AuthChallenge, AuthCredentials, SipParseError, parse_auth_params

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "digest" / "vectors.json").read_text()
)


def _value(header: str) -> tuple[str, str]:
    name, _, value = header.partition(":")
    return name.strip().lower(), value.strip()


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["vectors"] if v.get("challenge")], ids=lambda v: v["id"]
)
def test_worked_examples(vector: dict[str, str]) -> None:
    _, value = _value(vector["challenge"])
    challenge = AuthChallenge.parse(value)
    assert challenge.is_digest and challenge.params["realm"] == vector["realm"]
    assert challenge.params["nonce"] == vector["nonce"]
    again = AuthChallenge.parse(str(challenge))
    assert again == challenge
    if vector.get("credentials"):
        _, cred_value = _value(vector["credentials"])
        credentials = AuthCredentials.parse(cred_value)
        assert credentials.params["response"] == vector["expected"]["response"]
        assert credentials.params.get("nc", vector.get("nc")) == vector.get("nc")
        assert AuthCredentials.parse(str(credentials)) == credentials


@pytest.mark.parametrize("item", VECTORS["rfc3665_parse_only"]["headers"], ids=lambda i: i["file"])
def test_rfc3665_headers(item: dict[str, str]) -> None:
    name, value = _value(item["header"])
    cls = AuthChallenge if name.endswith("authenticate") else AuthCredentials
    parsed = cls.parse(value)
    assert parsed.scheme == "Digest" and "realm" in parsed.params and "nonce" in parsed.params
    assert cls.parse(str(parsed)) == parsed


def test_quoting_follows_rfc7616() -> None:
    challenge = AuthChallenge(
        "Digest",
        {
            "realm": "http-auth@example.org",
            "qop": "auth, auth-int",
            "algorithm": "SHA-256",
            "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            "opaque": "FQhe",
            "stale": "FALSE",
        },
    )
    assert str(challenge) == (
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe", stale=FALSE'
    )
    credentials = AuthCredentials(
        "Digest",
        {
            "username": 'Mu"fasa',
            "realm": "r",
            "uri": "sip:a@b",
            "qop": "auth",
            "nc": "00000001",
            "cnonce": "x",
            "response": "abc",
            "algorithm": "MD5",
            "userhash": "false",
            "x-ext": "a b",
        },
    )
    assert str(credentials) == (
        'Digest username="Mu\\"fasa", realm="r", uri="sip:a@b", qop=auth, nc=00000001, '
        'cnonce="x", response="abc", algorithm=MD5, userhash=false, x-ext="a b"'
    )
    assert AuthCredentials.parse(str(credentials)) == credentials
    assert "abc" not in repr(credentials)  # the response hash stays out of logs


def test_other_schemes() -> None:
    basic = AuthCredentials.parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert (
        basic.scheme == "Basic"
        and basic.token68 == "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        and not basic.params
    )
    assert str(basic) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert AuthChallenge.parse("Negotiate").scheme == "Negotiate"
    assert parse_auth_params('a=1, b="x,y" ,c=3') == {"a": "1", "b": "x,y", "c": "3"}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Digest realm=a, x",
        'Digest realm="a", realm="b"',
        'Digest realm="unterminated',
        "Digest a=1 b",
        "Di gest x=1",
        "Digest =x",
    ],
)
def test_bad(value: str) -> None:
    with pytest.raises(SipParseError):
        AuthCredentials.parse(value)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_only_sip_parse_error(text: str) -> None:
    for cls in (AuthChallenge, AuthCredentials):
        try:
            value = cls.parse(text)
        except SipParseError:
            continue
        assert cls.parse(str(value)) == value


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
        st.text(max_size=20),
        min_size=1,
        max_size=6,
    )
)
def test_serialize_parse_round_trip(params: dict[str, str]) -> None:
    credentials = AuthCredentials("Digest", params)
    assert AuthCredentials.parse(str(credentials)).params == params
