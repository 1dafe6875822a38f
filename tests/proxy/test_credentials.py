"""Credential store: HA1 per algorithm (RFC 7616 §3.4.2), never the password,
never shown; the same contract on every backend.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.errors import ProtocolError
from sipsec.proxy import (
    ALGORITHMS,
    Credential,
    CredentialStore,
    InvalidCredential,
    MemoryCredentialStore,
    ha1_lookup,
    make_credential,
)


def _kd_response(h: Any, ha1: str, nonce: str, nc: str, cnonce: str, method: str, uri: str) -> str:
    """RFC 7616 §3.4.1 with qop=auth, computed here with hashlib, independent of sipsec.auth."""
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()


# RFC 7616 §3.9.1: Mufasa / "Circle of Life" in http-auth@example.org; the printed responses.
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "hasher", "response"),
    [
        ("MD5", hashlib.md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (
            "SHA-256",
            hashlib.sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ],
)
def test_stored_ha1_reproduces_rfc7616_responses(
    algorithm: str, hasher: Any, response: str
) -> None:
    cred = make_credential("Mufasa", "http-auth@example.org", "Circle of Life")
    ha1 = cred.ha1_for(algorithm)
    assert ha1 is not None
    got = _kd_response(
        hasher, ha1, RFC7616_NONCE, "00000001", RFC7616_CNONCE, "GET", "/dir/index.html"
    )
    assert got == response


def test_rfc2617_example() -> None:
    """RFC 2617 §3.5 (MD5, "Circle Of Life" with a capital O)."""
    cred = make_credential("Mufasa", "testrealm@host.com", "Circle Of Life", ["MD5"])
    assert cred.ha1 == {"MD5": "939e7578ed9e3c518a452acee763bce9"}
    response = _kd_response(
        hashlib.md5,
        cred.ha1["MD5"],
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "00000001",
        "0a4f113b",
        "GET",
        "/dir/index.html",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_sha512_256_is_the_fips_function() -> None:
    """SHA-512-256 is FIPS 180-4 SHA-512/256 (hashlib's sha512_256), RFC 8760 §2."""
    cred = make_credential("bob", "biloxi.example", "zanzibar")
    expected = hashlib.new("sha512_256", b"bob:biloxi.example:zanzibar").hexdigest()
    assert cred.ha1["SHA-512-256"] == expected
    assert cred.algorithms == ALGORITHMS == ("SHA-512-256", "SHA-256", "MD5")


def test_ha1_for_accepts_sess_and_any_case() -> None:
    cred = make_credential("bob", "biloxi.example", "zanzibar", ["MD5"])
    assert cred.ha1_for("md5-SESS") == cred.ha1["MD5"]
    assert cred.ha1_for("SHA-256") is None
    assert cred.ha1_for("unknown") is None


def test_no_secret_in_repr_or_str() -> None:
    cred = make_credential("bob", "biloxi.example", "zanzibar")
    for text in (repr(cred), str(cred)):
        assert "zanzibar" not in text
        for ha1 in cred.ha1.values():
            assert ha1 not in text
    with pytest.raises(InvalidCredential) as info:
        Credential("bob", "biloxi.example", {"MD5": "Z" * 32})
    assert "Z" * 32 not in str(info.value)


def test_credential_keeps_a_private_copy() -> None:
    ha1 = {"MD5": "0" * 32}
    cred = Credential("bob", "biloxi.example", ha1)
    ha1["MD5"] = "1" * 32
    assert cred.ha1["MD5"] == "0" * 32


@pytest.mark.parametrize(
    ("user", "realm", "password", "algorithms"),
    [
        ("", "r", "pw", ALGORITHMS),
        ("bob", "", "pw", ALGORITHMS),
        ("bob", "r", "", ALGORITHMS),
        ("bo\nb", "r", "pw", ALGORITHMS),
        ('bo"b', "r", "pw", ALGORITHMS),
        ("bob", "r", "pw", ["SHA-1"]),
        ("bob", "r", "pw", []),
        ("bob", "r", "\ud800", ALGORITHMS),
        ("b" * 300, "r", "pw", ALGORITHMS),
    ],
)
def test_make_credential_refuses(user: str, realm: str, password: str, algorithms: Any) -> None:
    with pytest.raises(InvalidCredential):
        make_credential(user, realm, password, algorithms)


@settings(max_examples=500)
@given(
    user=st.one_of(st.text(max_size=10), st.integers(), st.none()),
    # Bytes from a fixed list: a drawn bytes value beside a drawn str makes Hypothesis's
    # own cache compare them, which `python -bb` turns into an error.
    realm=st.one_of(st.text(max_size=10), st.sampled_from([b"", b"r", b"\xff"])),
    ha1=st.one_of(
        st.dictionaries(
            st.sampled_from([*ALGORITHMS, "md5", "x"]), st.text("0123456789abcdefA", max_size=66)
        ),
        st.none(),
        st.lists(st.integers()),
    ),
)
def test_bad_credentials_only_raise_typed_errors(user: Any, realm: Any, ha1: Any) -> None:
    try:
        Credential(user, realm, ha1)
    except InvalidCredential:
        pass
    store = MemoryCredentialStore()
    for call in (
        lambda: store.get(user, realm),
        lambda: store.remove(user, realm),
        lambda: store.users(realm),
    ):
        try:
            call()
        except ProtocolError:
            pass


# --- the contract, on every backend ----------------------------------------------


def test_every_backend_satisfies_the_protocol(backend: Any) -> None:
    assert isinstance(backend.credentials(), CredentialStore)


def test_put_get_remove(backend: Any) -> None:
    store = backend.credentials()
    alice = make_credential("alice", "atlanta.example", "s3cret")
    assert store.get("alice", "atlanta.example") is None
    assert store.put(alice) is True
    assert store.get("alice", "atlanta.example") == alice
    assert store.get("alice", "biloxi.example") is None
    assert store.get("Alice", "atlanta.example") is None  # usernames are case-sensitive
    assert store.remove("alice", "atlanta.example") is True
    assert store.remove("alice", "atlanta.example") is False
    assert store.get("alice", "atlanta.example") is None


def test_put_replaces_all_algorithms(backend: Any) -> None:
    store = backend.credentials()
    store.put(make_credential("alice", "atlanta.example", "old"))
    newer = make_credential("alice", "atlanta.example", "new", ["MD5"])
    store.put(newer)
    got = store.get("alice", "atlanta.example")
    assert got == newer and got.algorithms == ("MD5",)


def test_put_without_overwrite(backend: Any) -> None:
    store = backend.credentials()
    first = make_credential("alice", "atlanta.example", "one")
    assert store.put(first, overwrite=False) is True
    assert store.put(make_credential("alice", "atlanta.example", "two"), overwrite=False) is False
    assert store.get("alice", "atlanta.example") == first


def test_users_sorted_and_filtered(backend: Any) -> None:
    store = backend.credentials()
    for user, realm in [
        ("carol", "chicago.example"),
        ("bob", "biloxi.example"),
        ("alice", "biloxi.example"),
    ]:
        store.put(make_credential(user, realm, "pw"))
    assert [(c.realm, c.user) for c in store.users()] == [
        ("biloxi.example", "alice"),
        ("biloxi.example", "bob"),
        ("chicago.example", "carol"),
    ]
    assert [c.user for c in store.users("biloxi.example")] == ["alice", "bob"]
    assert store.users("nowhere.example") == []


def test_odd_but_valid_names(backend: Any) -> None:
    """Realms with ':' and '@', non-ASCII users: kept apart and returned as given."""
    store = backend.credentials()
    names = [("a:b", "r@x"), ("a", "b:r@x"), ("zoë", "ünï.example"), ("a b", "realm with spaces")]
    for user, realm in names:
        store.put(make_credential(user, realm, "pw"))
    for user, realm in names:
        got = store.get(user, realm)
        assert got is not None and (got.user, got.realm) == (user, realm)
    assert len(store.users()) == len(names)


def test_two_instances_one_view(backend: Any) -> None:
    first, second = backend.credentials(), backend.credentials()
    first.put(make_credential("alice", "atlanta.example", "pw"))
    assert second.get("alice", "atlanta.example") is not None
    second.remove("alice", "atlanta.example")
    assert first.users() == []


def test_restart_loses_nothing(persistent_backend: Any) -> None:
    store = persistent_backend.credentials()
    alice = make_credential("alice", "atlanta.example", "pw")
    store.put(alice)
    store.close()
    assert persistent_backend.credentials().get("alice", "atlanta.example") == alice


def test_bad_lookups_are_typed(backend: Any) -> None:
    store = backend.credentials()
    for user, realm in [("", "r"), ("u", ""), ("u\x00", "r"), (None, "r"), ("u", "r" * 300)]:
        with pytest.raises(InvalidCredential):
            store.get(user, realm)
        with pytest.raises(InvalidCredential):
            store.remove(user, realm)
    with pytest.raises(InvalidCredential):
        store.put("alice")
    with pytest.raises(InvalidCredential):
        store.users("")


def test_ha1_lookup_feeds_the_digest_server(backend: Any) -> None:
    """The adapter has the ``lookup(username, realm, algorithm)`` shape sipsec.auth takes."""
    from sipsec.auth import Algorithm

    store = backend.credentials()
    alice = make_credential("alice", "atlanta.example", "pw", ["SHA-256", "MD5"])
    store.put(alice)
    lookup = ha1_lookup(store)
    assert lookup("alice", "atlanta.example", Algorithm.SHA256) == alice.ha1["SHA-256"]
    assert lookup("alice", "atlanta.example", Algorithm.MD5_SESS) == alice.ha1["MD5"]
    assert lookup("alice", "atlanta.example", Algorithm.SHA512_256) is None
    assert lookup("bob", "atlanta.example", Algorithm.MD5) is None
    # Whatever arrives off the wire is just an unknown user, never an exception.
    assert lookup("", "atlanta.example", Algorithm.MD5) is None
    assert lookup("a\r\nb", "atlanta.example", Algorithm.MD5) is None
    assert lookup("x" * 5000, "atlanta.example", Algorithm.MD5) is None


def test_credentials_compare_every_ha1_and_hash_without_them() -> None:
    md5, sha = "a" * 32, "b" * 64
    one = Credential("bob", "biloxi.example", {"MD5": md5, "SHA-256": sha})
    assert one == Credential("bob", "biloxi.example", {"SHA-256": sha, "MD5": md5})
    assert hash(one) == hash(Credential("bob", "biloxi.example", {"MD5": "c" * 32}))
    for other in (
        Credential("bob", "biloxi.example", {"MD5": md5, "SHA-256": "c" * 64}),
        Credential("bob", "biloxi.example", {"MD5": "c" * 32, "SHA-256": sha}),
        Credential("bob", "biloxi.example", {"MD5": md5}),  # one algorithm fewer
        Credential("bobby", "biloxi.example", {"MD5": md5, "SHA-256": sha}),
        Credential("bob", "atlanta.example", {"MD5": md5, "SHA-256": sha}),
    ):
        assert one != other and other != one
    assert one != ("bob", "biloxi.example")
