"""Digest parameters into typed values: the RFC 3665 headers (parse-only), edge
cases, and Hypothesis: any dict gives a value or DigestParamError, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.auth import (
    Algorithm,
    Challenge,
    Credentials,
    DigestParamError,
    Qop,
    parse_challenge,
    parse_credentials,
)
from sipsec.sip import AuthChallenge, AuthCredentials

RFC3665 = json.loads(
    (Path(__file__).parents[1] / "vectors" / "digest" / "vectors.json").read_text("utf-8")
)["rfc3665_parse_only"]["headers"]


@pytest.mark.parametrize("entry", RFC3665, ids=lambda e: e["file"].split("/")[-1])
def test_rfc3665_headers(entry: dict[str, str]) -> None:
    """RFC 3665 §1.3: its responses are not real MD5 values — parse only.

    Every challenge parses. Credentials parse, except where RFC 3665 prints
    something no Digest implementation could accept, which must then be a
    clean error: responses of 23, 26 or 31 hex digits (§2.1 F3, §3.2, §3.3)
    and ``qop`` without ``nc``/``cnonce`` (§2.2 F1; RFC 2617 §3.2.2 requires
    both).
    """
    name, value = entry["header"].split(":", 1)
    is_challenge = name.lower().endswith("authenticate")
    params = (AuthChallenge if is_challenge else AuthCredentials).parse(value).params
    if is_challenge:
        challenge = parse_challenge(params)
        assert challenge.algorithm is Algorithm.MD5
        assert challenge.stale is False  # printed as "stale=FALSE"
    elif len(params["response"]) != 32:
        with pytest.raises(DigestParamError, match="32 hex digits"):
            parse_credentials(params)
    elif "qop" in params and "nc" not in params:
        with pytest.raises(DigestParamError, match="'nc' missing"):
            parse_credentials(params)
    else:
        creds = parse_credentials(params)
        assert creds.algorithm is Algorithm.MD5
        assert creds.opaque == ""


def test_rfc3665_corpus_size() -> None:
    assert len(RFC3665) == 33


def test_challenge_fields() -> None:
    challenge = parse_challenge(
        {"Realm": "r", "nonce": "n", "qop": "auth-int, auth ,x", "algorithm": "sha-256",
         "stale": "True", "userhash": "false"}
    )  # fmt: skip
    assert challenge == Challenge("r", "n", Algorithm.SHA256, frozenset(Qop), None, True, False)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"realm": "r", "nonce": 1}, "must be strings"),
        ({"nonce": "n"}, "'realm' missing"),
        ({"realm": "r", "nonce": "n", "qop": "x,y"}, "no known qop"),
        ({"realm": "r", "nonce": "n", "stale": "maybe"}, "neither true nor false"),
        ({"realm": "r", "REALM": "s", "nonce": "n"}, "repeated"),
        ({"realm": "r" * 2000, "nonce": "n"}, "too long"),
    ],
)
def test_bad_challenges(params: dict[str, object], message: str) -> None:
    with pytest.raises(DigestParamError, match=message):
        parse_challenge(params)  # type: ignore[arg-type]


GOOD = {
    "username": "bob", "realm": "r", "nonce": "n", "uri": "sip:r", "response": "a" * 32,
    "qop": "auth", "nc": "0000000A", "cnonce": "c",
}  # fmt: skip


def test_credentials_fields() -> None:
    creds = parse_credentials(GOOD)
    assert creds == Credentials(
        "bob", "r", "n", "sip:r", "a" * 32, Algorithm.MD5, Qop.AUTH, "0000000A", "c", None, False
    )
    assert creds.nonce_count == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"response": "a" * 64}, "32 hex digits"),
        ({"algorithm": "SHA-256"}, "64 hex digits"),
        ({"nc": None}, "'nc' missing"),
        ({"qop": "auth-conf"}, "unknown qop"),
        ({"qop": None}, "without 'qop'"),
        ({"qop": None, "nc": None, "cnonce": None, "algorithm": "MD5-sess"}, "needs qop"),
        ({"username*": "UTF-8''bob"}, "both"),
        ({"username": None, "username*": "ISO-8859-1''bob"}, "RFC 8187"),
        ({"username": None, "username*": "UTF-8''%ff"}, "not valid UTF-8"),
        ({"username": None, "username*": "UTF-8''b", "userhash": "true"}, "cannot carry"),
    ],
)
def test_bad_credentials(change: dict[str, str | None], message: str) -> None:
    params = dict(GOOD)
    for name, value in change.items():
        if value is None:
            params.pop(name)
        else:
            params[name] = value
    with pytest.raises(DigestParamError, match=message) as info:
        parse_credentials(params)
    assert info.value.status == 400


_names = st.sampled_from(
    ["username", "username*", "realm", "nonce", "uri", "response", "algorithm", "qop", "nc",
     "cnonce", "opaque", "stale", "userhash", "QOP"]
)  # fmt: skip
_values = st.one_of(
    st.sampled_from(["auth", "auth-int", "MD5-sess", "SHA-256", "00000001", "TRUE", "a" * 32,
                     "UTF-8''%C3%A4", "UTF-8''%", "''", "b" * 64]),
    st.text(alphabet=st.sampled_from(list("aF09-,'=\" %\\\x00äø€")), max_size=70),
)  # fmt: skip


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(_names, _values, max_size=12))
def test_any_dict_is_a_value_or_a_digest_param_error(params: dict[str, str]) -> None:
    for parser in (parse_challenge, parse_credentials):
        try:
            parser(params)
        except DigestParamError:
            pass
