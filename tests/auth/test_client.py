"""The Digest client: choice of challenge and qop, nonce counts, stale, loop guard,
and agreement with an independent implementation (urllib's digest handler)."""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.auth import (
    Algorithm,
    ClientCredentials,
    DigestClient,
    GaveUp,
    Retry,
    parse_credentials,
)
from sipsec.sip import AuthChallenge, AuthCredentials

VECTORS = {
    v["id"]: v
    for v in json.loads(
        (Path(__file__).parents[1] / "vectors" / "digest" / "vectors.json").read_text("utf-8")
    )["vectors"]
}


def counter_random() -> Callable[[int], bytes]:
    """A deterministic random source: 0x01 01 .., then 0x02 02 .., ..."""
    counter = itertools.count(1)
    return lambda n: bytes([next(counter) % 256]) * n


def fixed_random(data: bytes) -> Callable[[int], bytes]:
    def random(n: int) -> bytes:
        assert n == len(data)
        return data

    return random


def chal(realm: str = "atlanta.example", nonce: str = "n1", **extra: str) -> AuthChallenge:
    params = {"realm": realm, "nonce": nonce, "qop": "auth,auth-int", "opaque": "op"}
    params.update(extra)
    return AuthChallenge("Digest", params)


def only(step: Retry | GaveUp) -> Mapping[str, str]:
    assert isinstance(step, Retry), step
    assert len(step.credentials) == 1
    return step.credentials[0].params


# -- the draft-smith SIP examples, reproduced by the client itself -----------------


@pytest.mark.parametrize(
    ("vector", "auth_int"),
    [
        ("draft-smith-sipping-auth-examples-01-3.1", False),
        ("draft-smith-sipping-auth-examples-01-3.2", False),
        ("draft-smith-sipping-auth-examples-01-3.4", False),
        ("draft-smith-sipping-auth-examples-01-3.5", True),
        ("draft-smith-sipping-auth-examples-01-3.6", True),
    ],
)
def test_client_reproduces_the_sip_examples(vector: str, auth_int: bool) -> None:
    v = VECTORS[vector]
    params = {"realm": v["realm"], "nonce": v["nonce"], "opaque": v["opaque"]}
    if "qop" in v:
        params["qop"] = "auth,auth-int" if auth_int else "auth"
    if v["algorithm_parameter_present"]:
        params["algorithm"] = v["algorithm"]
    cnonce = bytes.fromhex(v.get("cnonce", "0a4f113b"))
    client = DigestClient(
        v["username"], v["password"], random=fixed_random(cnonce), cnonce_bytes=len(cnonce),
        prefer_auth_int=auth_int,
    )  # fmt: skip
    body = v.get("entity_body", "").encode()
    flow = client.start(v["method"], v["uri"], body)
    sent = only(flow.challenged(401, [AuthChallenge("Digest", params)]))
    assert sent["response"] == v["expected"]["response"]
    assert sent["opaque"] == v["opaque"]
    if "qop" in v:
        assert (sent["qop"], sent["nc"], sent["cnonce"]) == (v["qop"], v["nc"], v["cnonce"])
    else:
        assert "qop" not in sent and "nc" not in sent and "cnonce" not in sent


# -- choosing ------------------------------------------------------------------


def test_strongest_algorithm_wins_whatever_the_order() -> None:
    for order in itertools.permutations(["MD5", "SHA-512-256", "SHA-256"]):
        client = DigestClient("alice", "pw", random=counter_random())
        flow = client.start("REGISTER", "sip:atlanta.example")
        sent = only(flow.challenged(401, [chal(algorithm=a) for a in order]))
        assert sent["algorithm"] == "SHA-512-256"


def test_restricted_client_takes_what_it_supports() -> None:
    client = DigestClient("alice", "pw", algorithms=frozenset({Algorithm.MD5}))
    flow = client.start("REGISTER", "sip:atlanta.example")
    challenges = [chal(algorithm="SHA-512-256"), chal(algorithm="SHA-256"), chal(algorithm="MD5")]
    assert only(flow.challenged(401, challenges))["algorithm"] == "MD5"


def test_absent_algorithm_means_md5() -> None:
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    assert only(flow.challenged(401, [chal()]))["algorithm"] == "MD5"


def test_unknown_algorithm_and_other_schemes_are_skipped() -> None:
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    challenges = [
        AuthChallenge("Basic", {"realm": "atlanta.example"}),
        chal(algorithm="SHA-1"),
        AuthChallenge("Digest", {"realm": "x"}),  # no nonce: skipped, not fatal
        chal(algorithm="SHA-256"),
    ]
    assert only(flow.challenged(401, challenges))["algorithm"] == "SHA-256"


def test_nothing_usable_gives_up() -> None:
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    step = flow.challenged(401, [AuthChallenge("Basic", {"realm": "r"}), chal(algorithm="SHA-1")])
    assert isinstance(step, GaveUp)
    assert "supported" in step.reason


@pytest.mark.parametrize(
    ("algorithm", "qop"), [("MD5", None), ("MD5-sess", "auth"), ("SHA-256", "auth")]
)
def test_challenge_without_qop(algorithm: str, qop: str | None) -> None:
    """MD5: the RFC 2069 response; anything newer: qop=auth, RFC 8760 §2.6 item 8's
    default (and -sess cannot do without the cnonce that comes with a qop)."""
    bare = AuthChallenge("Digest", {"realm": "r", "nonce": "n", "algorithm": algorithm})
    sent = only(DigestClient("alice", "pw").start("REGISTER", "sip:r").challenged(401, [bare]))
    assert sent.get("qop") == qop
    assert ("cnonce" in sent) == ("nc" in sent) == (qop is not None)


@pytest.mark.parametrize(
    ("offered", "prefer", "expected"),
    [
        ("auth,auth-int", False, "auth"),
        ("auth,auth-int", True, "auth-int"),
        ("auth", True, "auth"),
        ("auth-int", False, "auth-int"),
        ("auth-int, token-we-do-not-know", False, "auth-int"),
    ],
)
def test_qop_choice(offered: str, prefer: bool, expected: str) -> None:
    client = DigestClient("alice", "pw", prefer_auth_int=prefer)
    flow = client.start("MESSAGE", "sip:bob@biloxi.example", b"hello")
    assert only(flow.challenged(401, [chal(qop=offered)]))["qop"] == expected


def test_407_answers_with_proxy_authorization() -> None:
    flow = DigestClient("alice", "pw").start("INVITE", "sip:bob@biloxi.example")
    step = flow.challenged(407, [chal()])
    assert isinstance(step, Retry)
    assert step.credentials[0].header_name == "Proxy-Authorization"


def test_one_answer_per_realm_for_several_proxies() -> None:
    """RFC 3261 §22.3: a 407 may carry challenges of several proxies (realms)."""
    flow = DigestClient("alice", "pw").start("INVITE", "sip:bob@biloxi.example")
    step = flow.challenged(407, [chal("a.example", "na"), chal("b.example", "nb")])
    assert isinstance(step, Retry)
    assert sorted(c.params["realm"] for c in step.credentials) == ["a.example", "b.example"]


def test_userhash_sends_the_hash() -> None:
    flow = DigestClient("Jäsøn Doe", "pw").start("REGISTER", "sip:api@example.org")
    params = only(
        flow.challenged(401, [chal("api@example.org", algorithm="SHA-512-256", userhash="true")])
    )
    assert params["userhash"] == "true"
    assert (
        params["username"]
        == VECTORS["rfc7616-3.9.2-sha512-256-userhash"]["expected_fips_sha512_256"]["userhash"]
    )


# -- nonce counts and cnonces ----------------------------------------------------


def test_nc_counts_requests_per_nonce_and_restarts_with_a_new_one() -> None:
    client = DigestClient("alice", "pw", random=counter_random())
    flow = client.start("REGISTER", "sip:atlanta.example")
    first = only(flow.challenged(401, [chal(nonce="n1")]))
    assert first["nc"] == "00000001"
    later = [
        client.start("REGISTER", "sip:atlanta.example").credentials[0].params for _ in range(3)
    ]
    assert [p["nc"] for p in later] == ["00000002", "00000003", "00000004"]
    assert {p["nonce"] for p in later} == {"n1"}
    # Every request gets its own cnonce.
    assert len({first["cnonce"], *(p["cnonce"] for p in later)}) == 4
    flow = client.start("REGISTER", "sip:atlanta.example")
    renewed = only(flow.challenged(401, [chal(nonce="n2", stale="true")]))
    assert (renewed["nonce"], renewed["nc"]) == ("n2", "00000001")


def test_preemptive_credentials_use_the_new_request_uri_and_method() -> None:
    client = DigestClient("alice", "pw")
    client.start("REGISTER", "sip:atlanta.example").challenged(407, [chal()])
    creds = client.start("INVITE", "sip:bob@biloxi.example").credentials
    assert creds[0].params["uri"] == "sip:bob@biloxi.example"
    assert client.start("INVITE", "sip:x", preemptive=False).credentials == ()
    client.forget()
    assert client.start("INVITE", "sip:x").credentials == ()


# -- stale and the loop guard -----------------------------------------------------


def test_stale_retries_with_the_new_nonce() -> None:
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    assert only(flow.challenged(401, [chal(nonce="n1")]))["nonce"] == "n1"
    assert only(flow.challenged(401, [chal(nonce="n2", stale="TRUE")]))["nonce"] == "n2"


def test_rejected_credentials_are_not_retried() -> None:
    flow = DigestClient("alice", "wrong").start("REGISTER", "sip:atlanta.example")
    assert isinstance(flow.challenged(401, [chal(nonce="n1")]), Retry)
    step = flow.challenged(401, [chal(nonce="n2")])
    assert isinstance(step, GaveUp)
    assert "rejected" in step.reason
    # And it stays given up.
    assert flow.challenged(401, [chal(nonce="n3", stale="true")]) == step


def test_same_nonce_again_gives_up_even_if_stale() -> None:
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    flow.challenged(401, [chal(nonce="n1")])
    step = flow.challenged(401, [chal(nonce="n1", stale="true")])
    assert isinstance(step, GaveUp)


def test_stale_retries_are_bounded() -> None:
    flow = DigestClient("alice", "pw", max_stale=2).start("REGISTER", "sip:atlanta.example")
    flow.challenged(401, [chal(nonce="n0")])
    assert isinstance(flow.challenged(401, [chal(nonce="n1", stale="true")]), Retry)
    assert isinstance(flow.challenged(401, [chal(nonce="n2", stale="true")]), Retry)
    assert isinstance(flow.challenged(401, [chal(nonce="n3", stale="true")]), GaveUp)


def test_preemptive_credentials_rejected_get_one_real_answer() -> None:
    client = DigestClient("alice", "pw")
    client.start("REGISTER", "sip:atlanta.example").challenged(401, [chal(nonce="n1")])
    flow = client.start("REGISTER", "sip:atlanta.example")
    assert flow.credentials  # sent pre-emptively with n1
    assert isinstance(flow.challenged(401, [chal(nonce="n2")]), Retry)
    assert isinstance(flow.challenged(401, [chal(nonce="n3")]), GaveUp)


def test_a_non_challenge_status_gives_up() -> None:
    flow = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    assert isinstance(flow.challenged(403, [chal()]), GaveUp)


def test_the_password_is_not_in_the_repr() -> None:
    assert "s3cret" not in repr(DigestClient("alice", "s3cret"))


# -- malformed challenges: never anything but Retry or GaveUp -----------------------

_names = st.sampled_from(
    ["realm", "nonce", "qop", "algorithm", "opaque", "stale", "userhash", "Realm", "NONCE", "x"]
)
_values = st.one_of(
    st.sampled_from(["auth", "auth-int", "MD5", "SHA-256", "true", "", ",", "sha-512-256-sess"]),
    # A fixed alphabet (no Unicode table to build on first use), with the
    # characters that matter to Digest: separators, quotes, escapes, non-ASCII.
    st.text(alphabet=st.sampled_from(list('aZ09-,;=" \\\t\r\n:/@%*\x00äø€')), max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Digest", "digest", "Basic", ""]),
            st.dictionaries(_names, _values, max_size=8),
        ),
        max_size=4,
    ),
    st.sampled_from([401, 407, 400]),
)
def test_any_challenge_yields_retry_or_gave_up(
    headers: list[tuple[str, dict[str, str]]], status: int
) -> None:
    flow = DigestClient("alice", "pw").start("INVITE", "sip:bob@biloxi.example", b"v=0")
    for _ in range(2):
        step = flow.challenged(status, [AuthChallenge(s, p) for s, p in headers])
        assert isinstance(step, Retry | GaveUp)
        if isinstance(step, Retry):
            for creds in step.credentials:
                assert isinstance(creds, ClientCredentials)
                parse_credentials(creds.params)  # what we send parses back


# -- an independent implementation: Python's urllib digest handler -----------------


def urllib_authorization(challenge: Mapping[str, str], cnonce: str, uri: str) -> dict[str, Any]:
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, "http://atlanta.example/", "Mufasa", "Circle of Life")
    handler = urllib.request.HTTPDigestAuthHandler(passwords)
    handler.get_cnonce = lambda nonce: cnonce  # type: ignore[method-assign]
    value = handler.get_authorization(
        urllib.request.Request("http://atlanta.example" + uri), dict(challenge)
    )
    assert value is not None
    return dict(AuthCredentials.parse("Digest " + value).params)


def test_client_agrees_with_urllib_for_md5_auth() -> None:
    challenge = {"realm": "testrealm@host.com", "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093"}
    challenge.update(qop="auth,auth-int", opaque="5ccc069c403ebaf9f0171e9517f40e41")
    client = DigestClient(
        "Mufasa", "Circle of Life", random=fixed_random(b"\x9a" * 8), cnonce_bytes=8
    )
    ours = only(
        client.start("GET", "/dir/index.html").challenged(401, [AuthChallenge("Digest", challenge)])
    )
    theirs = urllib_authorization(challenge, ours["cnonce"], "/dir/index.html")
    for name in ("username", "realm", "nonce", "uri", "qop", "nc", "cnonce", "opaque", "response"):
        assert ours[name] == theirs[name], name


def test_client_agrees_with_urllib_without_qop() -> None:
    challenge = {"realm": "r", "nonce": "abc", "algorithm": "MD5"}
    client = DigestClient("Mufasa", "Circle of Life")
    ours = only(client.start("GET", "/x").challenged(401, [AuthChallenge("Digest", challenge)]))
    theirs = urllib_authorization(challenge, "unused", "/x")
    assert ours["response"] == theirs["response"]


# -- the password: asked once per realm, never again for a stale nonce ---------------


def test_password_function_is_asked_once_per_realm() -> None:
    asked: list[str] = []

    def prompt(realm: str) -> str | None:
        asked.append(realm)
        return "pw" if realm != "nopass.example" else None

    client = DigestClient("alice", prompt)
    assert client.start("REGISTER", "sip:a").credentials == ()
    assert asked == []  # nothing asked before a challenge needs it
    flow = client.start("REGISTER", "sip:a")
    flow.challenged(401, [chal(nonce="n1")])
    assert isinstance(flow.challenged(401, [chal(nonce="n2", stale="true")]), Retry)
    client.start("REGISTER", "sip:a")  # pre-emptive reuse
    assert asked == ["atlanta.example"]
    flow = client.start("INVITE", "sip:b", preemptive=False)
    step = flow.challenged(407, [chal("nopass.example")])
    assert step == GaveUp("no password for the realm challenging")
    assert asked == ["atlanta.example", "nopass.example"]
    client.forget()
    client.start("REGISTER", "sip:a").challenged(401, [chal(nonce="n3")])
    assert asked == ["atlanta.example", "nopass.example", "atlanta.example"]


def test_preemptive_credentials_by_header_kind() -> None:
    client = DigestClient("alice", "pw")
    client.start("REGISTER", "sip:atlanta.example").challenged(401, [chal("registrar")])
    client.start("INVITE", "sip:bob@b").challenged(407, [chal("proxy")])
    both = client.start("INVITE", "sip:bob@b").credentials
    assert sorted(c.header_name for c in both) == ["Authorization", "Proxy-Authorization"]
    only_proxy = client.start("INVITE", "sip:bob@b", preemptive={"Proxy-Authorization"})
    assert [c.params["realm"] for c in only_proxy.credentials] == ["proxy"]
