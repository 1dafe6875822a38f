"""The Digest server: challenges, verification, replay, stale, user enumeration,
rate limiting — driven by the real client, with a fake clock."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipsec.auth.server as server_module
from sipsec.auth import (
    Algorithm,
    Authenticated,
    BadCredentials,
    ClientCredentials,
    DigestClient,
    DigestServer,
    FailureLimiter,
    MalformedCredentials,
    NoCredentials,
    NonceCounts,
    Qop,
    RateLimited,
    ReplayedNonce,
    Retry,
    SchemeRefused,
    StaleNonce,
    compute_ha1,
    compute_response,
    compute_rspauth,
    compute_userhash,
    ha1_per_algorithm,
)
from sipsec.sip import AuthChallenge, AuthCredentials

REALM = "atlanta.example"
URI = "sip:atlanta.example"
SECRET = b"0123456789abcdef0123456789abcdef"
T0 = 1_800_000_000.0
BASES = (Algorithm.MD5, Algorithm.SHA256, Algorithm.SHA512_256)
USERS = {"alice": "wonderland", "Jäsøn Doe": "Secret, or not?"}
STORE = {
    (user, REALM, algorithm): ha1
    for user, password in USERS.items()
    for algorithm, ha1 in ha1_per_algorithm(user, REALM, password).items()
}
USERHASHES = {
    (compute_userhash(algorithm, user, REALM), REALM, algorithm): user
    for user in USERS
    for algorithm in BASES
}


def lookup(user: str, realm: str, algorithm: Algorithm) -> str | None:
    assert algorithm in BASES  # the store is asked for plain HA1 only
    return STORE.get((user, realm, algorithm))


def make_server(**kw: Any) -> DigestServer:
    kw.setdefault("algorithms", list(Algorithm))
    return DigestServer(SECRET, REALM, lookup, **kw)


def wire(
    headers: tuple[AuthChallenge, ...] | tuple[ClientCredentials, ...],
) -> list[AuthChallenge] | list[AuthCredentials]:
    """Through the SIP header codec and back, as the message layer carries them."""
    if all(isinstance(h, AuthChallenge) for h in headers):
        return [AuthChallenge.parse(str(h)) for h in headers]
    return [
        AuthCredentials.parse(str(h.value)) for h in headers if isinstance(h, ClientCredentials)
    ]


def login(
    server: DigestServer,
    client: DigestClient,
    *,
    method: str = "REGISTER",
    uri: str = URI,
    body: bytes = b"",
    now: float = T0,
    source: str = "192.0.2.1",
) -> Any:
    flow = client.start(method, uri, body)
    step = flow.challenged(401, wire(server.challenge(now)))
    assert isinstance(step, Retry), step
    result = server.authenticate(
        wire(step.credentials), method=method, uri=uri, body=body, now=now + 1, source=source
    )
    return result, step.credentials[0].params


# -- round trips -----------------------------------------------------------------


@pytest.mark.parametrize("qop", list(Qop), ids=lambda q: q.value)
@pytest.mark.parametrize("algorithm", list(Algorithm), ids=lambda a: a.value)
def test_round_trip_every_algorithm_and_qop(algorithm: Algorithm, qop: Qop) -> None:
    server = make_server(algorithms=[algorithm], qops=[qop])
    client = DigestClient("alice", "wonderland")
    result, sent = login(
        server, client, method="INVITE", uri="sip:bob@biloxi.example", body=b"v=0\r\n"
    )
    assert result == Authenticated("alice", REALM, algorithm, qop)
    assert (sent["algorithm"], sent["qop"]) == (algorithm.value, qop.value)


def test_challenges_strongest_first_one_nonce() -> None:
    challenges = make_server(algorithms=BASES).challenge(T0)
    assert [c.params["algorithm"] for c in challenges] == ["SHA-512-256", "SHA-256", "MD5"]
    assert len({c.params["nonce"] for c in challenges}) == 1
    assert all(c.params["qop"] == "auth,auth-int" for c in challenges)
    assert all(c.params["opaque"] and "stale" not in c.params for c in challenges)


def test_md5_only_realm_for_old_clients() -> None:
    server = make_server(algorithms=[Algorithm.MD5])
    assert [c.params["algorithm"] for c in server.challenge(T0)] == ["MD5"]
    md5_only = DigestClient("alice", "wonderland", algorithms=frozenset({Algorithm.MD5}))
    assert login(server, md5_only)[0] == Authenticated("alice", REALM, Algorithm.MD5, Qop.AUTH)


def test_client_picks_sha512_256_from_a_full_offer() -> None:
    result, _ = login(make_server(algorithms=BASES), DigestClient("alice", "wonderland"))
    assert result.algorithm is Algorithm.SHA512_256


def test_auth_int_covers_the_body() -> None:
    server = make_server(qops=[Qop.AUTH_INT])
    flow = DigestClient("alice", "wonderland").start("INVITE", "sip:bob@b", b"v=0 original")
    step = flow.challenged(407, server.challenge(T0))
    assert isinstance(step, Retry)
    verdict = server.authenticate(
        step.credentials, method="INVITE", uri="sip:bob@b", body=b"v=0 changed", now=T0, source="s"
    )
    assert isinstance(verdict, BadCredentials)


def test_userhash_round_trip() -> None:
    server = make_server(userhash_lookup=lambda h, r, a: USERHASHES.get((h, r, a)))
    assert all(c.params["userhash"] == "true" for c in server.challenge(T0))
    result, sent = login(server, DigestClient("Jäsøn Doe", "Secret, or not?"))
    assert isinstance(result, Authenticated)
    assert result.username == "Jäsøn Doe"
    assert sent["username"] != "Jäsøn Doe"


def test_userhash_without_a_resolver_is_refused() -> None:
    helper = make_server(userhash_lookup=lambda h, r, a: USERHASHES.get((h, r, a)))
    flow = DigestClient("alice", "wonderland").start("REGISTER", URI)
    step = flow.challenged(401, helper.challenge(T0))
    assert isinstance(step, Retry)
    plain = make_server()  # same secret and realm, but no userhash lookup
    verdict = plain.authenticate(step.credentials, method="REGISTER", uri=URI, now=T0, source="s")
    assert verdict == BadCredentials("credentials do not match")


# -- replay and nonce counts ----------------------------------------------------------


def test_replayed_credentials_are_refused() -> None:
    server = make_server()
    flow = DigestClient("alice", "wonderland").start("REGISTER", URI)
    step = flow.challenged(401, server.challenge(T0))
    assert isinstance(step, Retry)
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "now": T0 + 1, "source": "s"}
    assert isinstance(server.authenticate(step.credentials, **args), Authenticated)
    assert server.authenticate(step.credentials, **args) == ReplayedNonce()


def test_nonce_reuse_with_rising_nc_and_out_of_order_arrival() -> None:
    server = make_server()
    client = DigestClient("alice", "wonderland")
    assert isinstance(login(server, client)[0], Authenticated)
    flows = [client.start("REGISTER", URI) for _ in range(3)]  # nc 2, 3, 4
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "now": T0 + 5, "source": "s"}
    for index in (2, 0, 1):  # 4, 2, 3: parallel requests may arrive in any order
        assert isinstance(server.authenticate(flows[index].credentials, **args), Authenticated)
    for flow in flows:
        assert server.authenticate(flow.credentials, **args) == ReplayedNonce()


def test_nonce_count_memory_is_bounded() -> None:
    server = make_server(nonce_capacity=4)
    for i in range(10):
        assert isinstance(
            login(server, DigestClient("alice", "wonderland"), now=T0 + i)[0], Authenticated
        )
    assert server.nonces_tracked <= 4


# -- stale ---------------------------------------------------------------------------


def test_expired_nonce_is_stale_and_the_client_retries_without_a_new_password() -> None:
    server = make_server(nonce_lifetime=60)
    client = DigestClient("alice", "wonderland")
    assert isinstance(login(server, client)[0], Authenticated)
    later = T0 + 120
    flow = client.start("REGISTER", URI)  # pre-emptive, with the old nonce
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "source": "s"}
    assert server.authenticate(wire(flow.credentials), now=later, **args) == StaleNonce()
    challenges = server.challenge(later, stale=True)
    assert all(c.params["stale"] == "true" for c in challenges)
    step = flow.challenged(401, wire(challenges))
    assert isinstance(step, Retry)
    assert isinstance(server.authenticate(wire(step.credentials), now=later, **args), Authenticated)


def test_stale_is_only_said_for_a_right_digest() -> None:
    server = make_server(nonce_lifetime=60)
    flow = DigestClient("alice", "WRONG").start("REGISTER", URI)
    step = flow.challenged(401, server.challenge(T0))
    assert isinstance(step, Retry)
    verdict = server.authenticate(
        step.credentials, method="REGISTER", uri=URI, now=T0 + 120, source="s"
    )
    assert isinstance(verdict, BadCredentials)


# -- no user enumeration ---------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_same_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[str] = []
    real = compute_response

    def counting(*args: Any, **kwargs: Any) -> str:
        computed.append("x")
        return real(*args, **kwargs)

    monkeypatch.setattr(server_module, "compute_response", counting)
    server = make_server()
    wrong, _ = login(server, DigestClient("alice", "guess"))
    assert len(computed) == 1
    unknown, _ = login(server, DigestClient("mallory", "guess"))
    # The same result, and the same work done: a response computed either way.
    assert wrong == unknown == BadCredentials("credentials do not match")
    assert len(computed) == 2


def test_a_store_value_of_the_wrong_size_is_an_unknown_user() -> None:
    server = DigestServer(SECRET, REALM, lambda u, r, a: "abcd")
    assert isinstance(login(server, DigestClient("alice", "wonderland"))[0], BadCredentials)


# -- checks on the parameters -------------------------------------------------------------


def _sent(server: DigestServer, **client_kw: Any) -> dict[str, str]:
    flow = DigestClient("alice", "wonderland", **client_kw).start("REGISTER", URI)
    step = flow.challenged(401, server.challenge(T0))
    assert isinstance(step, Retry)
    return dict(step.credentials[0].params)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"realm": "biloxi.example"}, NoCredentials()),  # not ours: someone else's credentials
        ({"opaque": "tampered"}, BadCredentials("opaque not returned unchanged")),
        ({"opaque": None}, BadCredentials("opaque not returned unchanged")),
        (
            {"nonce": "AAAAAAAPQkA4Y8SOzaTyJayAdsG/c6RWGQqEQSa0EG6h"},
            BadCredentials("nonce not issued here"),
        ),
        ({"nonce": "short"}, BadCredentials("nonce not issued here")),
        ({"qop": None, "nc": None, "cnonce": None}, BadCredentials("qop missing or not offered")),
        (
            {"uri": "sip:evil.example"},
            MalformedCredentials("digest uri does not match the Request-URI"),
        ),
        ({"nc": "0000001"}, MalformedCredentials("'nc' is not 8 hex digits")),
        ({"response": "zz"}, MalformedCredentials("'response' is not 64 hex digits")),
        ({"algorithm": "SHA-1"}, MalformedCredentials("unknown Digest algorithm 'SHA-1'")),
        ({"username": None}, MalformedCredentials("Digest parameter 'username' missing")),
    ],
)
def test_parameter_checks(change: dict[str, str | None], expected: object) -> None:
    server = make_server(algorithms=[Algorithm.SHA256])
    params = _sent(server)
    for name, value in change.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    verdict = server.authenticate(
        [AuthCredentials("Digest", params)], method="REGISTER", uri=URI, now=T0, source="s"
    )
    assert verdict == expected


def test_empty_response_before_a_challenge_gets_one() -> None:
    """RFC 8760 §2.7: "A parameter with an empty value ... is allowed when the
    UAC has not yet received a challenge"."""
    early = AuthCredentials.parse(
        'Digest username="alice", realm="atlanta.example", nonce="",'
        ' uri="sip:atlanta.example", response=""'
    )
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "now": T0, "source": "s"}
    assert make_server().authenticate([early], **args) == NoCredentials()


def test_digest_uri_may_be_an_equivalent_sip_uri() -> None:
    """RFC 3261 §19.1.4: scheme and host compare case-insensitively."""
    server = make_server()
    flow = DigestClient("alice", "wonderland").start("REGISTER", "SIP:ATLANTA.example")
    step = flow.challenged(401, server.challenge(T0))
    assert isinstance(step, Retry)
    args: dict[str, Any] = {"method": "REGISTER", "now": T0, "source": "s"}
    assert isinstance(server.authenticate(step.credentials, uri=URI, **args), Authenticated)
    flow = DigestClient("alice", "wonderland").start("REGISTER", "sip:alice@atlanta.example")
    step = flow.challenged(401, server.challenge(T0))
    assert isinstance(step, Retry)
    assert server.authenticate(step.credentials, uri=URI, **args) == MalformedCredentials(
        "digest uri does not match the Request-URI"
    )
    # A proxy that accepts retargeted requests (RFC 8760 §2.6 item 6) says so.
    lenient = make_server(uri_matches=lambda digest_uri, request_uri: True)
    assert isinstance(lenient.authenticate(step.credentials, uri=URI, **args), Authenticated)


def test_algorithm_not_offered_in_this_realm() -> None:
    md5_realm = make_server(algorithms=[Algorithm.MD5])
    params = _sent(make_server(algorithms=[Algorithm.SHA256]))
    verdict = md5_realm.verify(
        AuthCredentials("Digest", params), method="REGISTER", uri=URI, now=T0, source="s"
    )
    assert verdict == BadCredentials("algorithm SHA-256 not offered")


def test_nonce_of_another_secret_or_binding_is_not_ours() -> None:
    params = _sent(make_server())
    other = DigestServer(b"another secret, just as long....", REALM, lookup)
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "now": T0, "source": "s"}
    assert other.verify(AuthCredentials("Digest", params), **args) == BadCredentials(
        "nonce not issued here"
    )
    server = make_server()
    flow = DigestClient("alice", "wonderland").start("REGISTER", URI)
    step = flow.challenged(401, server.challenge(T0, bound=b"192.0.2.1:5060"))
    assert isinstance(step, Retry)
    assert server.authenticate(step.credentials, bound=b"192.0.2.9:5060", **args) == BadCredentials(
        "nonce not issued here"
    )
    assert isinstance(
        server.authenticate(step.credentials, bound=b"192.0.2.1:5060", **args), Authenticated
    )


def test_basic_is_refused() -> None:
    server = make_server()
    basic = AuthCredentials.parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")  # a token68, no params
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "now": T0, "source": "s"}
    assert server.authenticate([basic], **args) == SchemeRefused("Basic")
    assert server.verify(basic, **args) == SchemeRefused("Basic")
    assert server.authenticate([], **args) == NoCredentials()


def test_the_credentials_for_our_realm_are_picked_among_several() -> None:
    server = make_server()
    params = _sent(server)
    theirs = AuthCredentials("Digest", {**params, "realm": "biloxi.example", "response": "0" * 64})
    verdict = server.authenticate(
        [theirs, AuthCredentials("Digest", params)], method="REGISTER", uri=URI, now=T0, source="s"
    )
    assert isinstance(verdict, Authenticated)


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        DigestServer(b"short", REALM, lookup)
    with pytest.raises(ValueError, match="at least one"):
        DigestServer(SECRET, REALM, lookup, algorithms=[])
    assert SECRET.hex() not in repr(make_server()) and "0123" not in repr(make_server())


# -- rate limiting (fake clock) -------------------------------------------------------------


def test_failures_are_rate_limited_per_source() -> None:
    server = make_server(source_limiter=FailureLimiter(rate=0.5, burst=3))
    for _ in range(3):
        assert isinstance(
            login(server, DigestClient("alice", "guess"), source="attacker")[0], BadCredentials
        )
    # Now even the right password from that source is refused, unchecked.
    limited, _ = login(server, DigestClient("alice", "wonderland"), source="attacker")
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == pytest.approx(2.0)
    # Another source is not affected.
    assert isinstance(
        login(server, DigestClient("alice", "wonderland"), source="honest")[0], Authenticated
    )
    # One token back after 2 s.
    assert isinstance(
        login(server, DigestClient("alice", "wonderland"), source="attacker", now=T0 + 2)[0],
        Authenticated,
    )


def test_failures_are_rate_limited_per_user_across_sources() -> None:
    server = make_server(user_limiter=FailureLimiter(rate=0.1, burst=2))
    for source in ("a", "b"):
        assert isinstance(
            login(server, DigestClient("alice", "guess"), source=source)[0], BadCredentials
        )
    verdict, _ = login(server, DigestClient("alice", "wonderland"), source="c")
    assert isinstance(verdict, RateLimited)
    assert verdict.retry_after == pytest.approx(10.0)  # 10 s per token, none refilled yet
    assert isinstance(login(server, DigestClient("bob", "x"), source="c")[0], BadCredentials)


def test_unknown_users_are_rate_limited_the_same_way() -> None:
    server = make_server(user_limiter=FailureLimiter(rate=0.1, burst=1))
    assert isinstance(login(server, DigestClient("nobody", "x"))[0], BadCredentials)
    assert isinstance(login(server, DigestClient("nobody", "x"))[0], RateLimited)


# -- anything at all: only typed results ----------------------------------------------------------

_names = st.sampled_from(
    ["username", "username*", "realm", "nonce", "uri", "response", "algorithm", "qop",
     "nc", "cnonce", "opaque", "userhash", "Response", "x"]
)  # fmt: skip
_values = st.one_of(
    st.sampled_from(
        [REALM, URI, "auth", "auth-int", "MD5-sess", "SHA-512-256", "00000001", "true",
         "UTF-8''%C3%A4", "UTF-8''%ff", "x'y'z", "0" * 32, "f" * 64, ""]
    ),
    st.text(alphabet=st.sampled_from(list('aZ09-,=" \\\t\r\n:/@%\x00äø€')), max_size=80),
)  # fmt: skip
RESULTS = (Authenticated, NoCredentials, BadCredentials, StaleNonce, ReplayedNonce,
           MalformedCredentials, SchemeRefused, RateLimited)  # fmt: skip


@settings(max_examples=800, deadline=None)
@given(
    st.sampled_from(["Digest", "DIGEST", "Basic", "x"]),
    st.dictionaries(_names, _values, max_size=12),
)
def test_any_credentials_give_a_typed_result(scheme: str, params: dict[str, str]) -> None:
    server = make_server()
    real = _sent(server)
    merged: Mapping[str, str] = {**real, **params} if params.get("x") is None else params
    verdict = server.verify(
        AuthCredentials(scheme, dict(merged)), method="REGISTER", uri=URI, now=T0, source="s"
    )
    assert isinstance(verdict, RESULTS)


# -- independent clients: urllib's handler and curl ------------------------------------------------


def test_server_accepts_urllib_md5_credentials() -> None:
    server = make_server(algorithms=[Algorithm.MD5])
    (challenge,) = server.challenge(T0)
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, "http://atlanta.example/", "alice", "wonderland")
    handler = urllib.request.HTTPDigestAuthHandler(passwords)
    value = handler.get_authorization(
        urllib.request.Request("http://atlanta.example/dir/index.html"), dict(challenge.params)
    )
    assert value is not None
    header = AuthCredentials.parse("Digest " + value)
    verdict = server.authenticate([header], method="GET", uri="/dir/index.html", now=T0, source="s")
    assert verdict == Authenticated("alice", REALM, Algorithm.MD5, Qop.AUTH)


# -- curl --digest as the client, over real HTTP on loopback ---------------------------------------


def _curl_against(
    server: DigestServer, user: str, password: str
) -> tuple[str, list[object], list[AuthCredentials]]:
    """Serve ``server``'s challenges over HTTP; curl answers; return its status,
    our verdicts and the credentials it sent."""
    verdicts: list[object] = []
    sent: list[AuthCredentials] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            received = [
                AuthCredentials.parse(v) for v in self.headers.get_all("Authorization") or []
            ]
            sent.extend(received)
            if received:
                verdict = server.authenticate(
                    received, method="GET", uri=self.path, now=T0 + 1, source=self.client_address[0]
                )
                verdicts.append(verdict)
                if isinstance(verdict, Authenticated):
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            self.send_response(401)
            for challenge in server.challenge(T0):
                self.send_header("WWW-Authenticate", str(challenge))
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/dir/index.html?q=1"
        out = subprocess.run(
            ["curl", "--digest", "-u", f"{user}:{password}", "-s", "-o", "/dev/null",
             "-w", "%{http_code}", "--max-time", "20", url],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
    return out.stdout, verdicts, sent


def _computed_with_sha256(creds: AuthCredentials, uri: str) -> bool:
    """Whether a SHA-512-256 response was in fact computed with SHA-256."""
    p = creds.params
    return p["response"] == compute_response(
        Algorithm.SHA256, STORE[("alice", REALM, Algorithm.SHA256)], nonce=p["nonce"],
        method="GET", uri=uri, qop=Qop.AUTH, nc=p["nc"], cnonce=p["cnonce"],
    )  # fmt: skip


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(
    ("algorithm", "userhash"),
    [
        (Algorithm.MD5, False),
        (Algorithm.MD5_SESS, False),
        (Algorithm.SHA256, False),
        (Algorithm.SHA256_SESS, False),
        (Algorithm.SHA256, True),
        (Algorithm.SHA512_256, False),
    ],
    ids=lambda x: getattr(x, "value", str(x)),
)
def test_curl_digest_is_accepted(algorithm: Algorithm, userhash: bool) -> None:
    resolver = (lambda h, r, a: USERHASHES.get((h, r, a))) if userhash else None
    server = make_server(algorithms=[algorithm], userhash_lookup=resolver)
    status, verdicts, sent = _curl_against(server, "alice", "wonderland")
    # Debian bookworm's curl 7.88.1 does this (newer curl has true
    # SHA-512/256): skip only on that exact, recomputed diagnosis.
    if algorithm is Algorithm.SHA512_256 and _computed_with_sha256(sent[0], "/dir/index.html?q=1"):
        pytest.skip("this curl computes its SHA-512-256 response with SHA-256")
    assert verdicts == [Authenticated("alice", REALM, algorithm, Qop.AUTH)]
    assert status == "200"


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_a_wrong_password_is_refused() -> None:
    status, verdicts, _ = _curl_against(make_server(algorithms=[Algorithm.MD5]), "alice", "guess")
    assert status == "401"
    assert verdicts == [BadCredentials("credentials do not match")]


# -- several processes, one secret ---------------------------------------------------------


def test_sibling_processes_share_nonces_and_optionally_counts() -> None:
    """Nonces are stateless: a sibling with the secret accepts them. Counts
    live where ``nonce_counts`` says: shared, a replay to the sibling fails."""
    shared = NonceCounts(lifetime=300)
    first = make_server(nonce_counts=shared)
    sibling = make_server(nonce_counts=shared)
    flow = DigestClient("alice", "wonderland").start("REGISTER", URI)
    step = flow.challenged(401, first.challenge(T0))
    assert isinstance(step, Retry)
    args: dict[str, Any] = {"method": "REGISTER", "uri": URI, "now": T0 + 1, "source": "s"}
    assert isinstance(sibling.authenticate(step.credentials, **args), Authenticated)
    assert first.authenticate(step.credentials, **args) == ReplayedNonce()
    assert first.nonces_tracked == sibling.nonces_tracked == 1


_awkward = st.text(alphabet=st.sampled_from(list('aZ09-"\\ ,=/:@;äø€\t')), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(_awkward, _awkward, _awkward, st.sampled_from(list(Algorithm)), st.sampled_from(list(Qop)))
def test_awkward_names_survive_the_sip_codec(
    user: str, password: str, realm: str, algorithm: Algorithm, qop: Qop
) -> None:
    """Quotes, backslashes, commas and non-ASCII in usernames, passwords and
    realms: the challenge and the credentials cross the SIP header codec and
    still verify."""
    store = {a: compute_ha1(a, user, realm, password) for a in BASES}
    server = DigestServer(
        SECRET, realm, lambda u, r, a: store[a] if u == user else None,
        algorithms=[algorithm], qops=[qop],
    )  # fmt: skip
    flow = DigestClient(user, password).start("MESSAGE", "sip:x@y", b"body")
    step = flow.challenged(401, wire(server.challenge(T0)))
    assert isinstance(step, Retry)
    verdict = server.authenticate(
        wire(step.credentials), method="MESSAGE", uri="sip:x@y", body=b"body", now=T0, source="s"
    )
    assert verdict == Authenticated(user, realm, algorithm, qop)


# -- Authentication-Info: the server proves it knows HA1 (mutual authentication) -------------


def test_rspauth_round_trip() -> None:
    server = make_server()
    flow = DigestClient("alice", "wonderland").start("REGISTER", URI)
    step = flow.challenged(401, wire(server.challenge(T0)))
    assert isinstance(step, Retry)
    verdict = server.authenticate(
        wire(step.credentials), method="REGISTER", uri=URI, now=T0, source="s"
    )
    assert isinstance(verdict, Authenticated)
    info = dict(verdict.authentication_info)
    assert set(info) == {"qop", "nc", "cnonce", "rspauth"}
    assert (info["nc"], info["cnonce"]) == (
        step.credentials[0].params["nc"],
        step.credentials[0].params["cnonce"],
    )
    assert flow.verify_authentication_info(info)
    assert not flow.verify_authentication_info({**info, "rspauth": "0" * 64})
    assert not flow.verify_authentication_info({**info, "nc": "00000002"})
    assert not flow.verify_authentication_info({k: v for k, v in info.items() if k != "rspauth"})
    # A server that does not know the password cannot produce it.
    impostor = DigestClient("alice", "not-the-password").start("REGISTER", URI)
    impostor.challenged(401, wire(server.challenge(T0)))
    assert not impostor.verify_authentication_info(info)


def test_rspauth_for_auth_int_covers_the_response_body() -> None:
    server = make_server(qops=[Qop.AUTH_INT], algorithms=[Algorithm.SHA256])
    flow = DigestClient("alice", "wonderland").start("MESSAGE", URI, b"hi")
    step = flow.challenged(401, server.challenge(T0))
    assert isinstance(step, Retry)
    verdict = server.authenticate(
        step.credentials, method="MESSAGE", uri=URI, body=b"hi", now=T0, source="s"
    )
    assert isinstance(verdict, Authenticated)
    assert verdict.authentication_info == {}  # the response body is not known yet
    sent = step.credentials[0].params
    rspauth = compute_rspauth(
        Algorithm.SHA256, STORE[("alice", REALM, Algorithm.SHA256)], nonce=sent["nonce"],
        uri=URI, qop=Qop.AUTH_INT, nc=sent["nc"], cnonce=sent["cnonce"], body=b"200 body",
    )  # fmt: skip
    assert flow.verify_authentication_info({"rspauth": rspauth}, b"200 body")
    assert not flow.verify_authentication_info({"rspauth": rspauth}, b"other body")


def test_rspauth_is_only_checked_against_what_can_carry_it() -> None:
    server = make_server(algorithms=[Algorithm.MD5])
    flow = DigestClient("alice", "wonderland").start("INVITE", URI)
    step = flow.challenged(407, server.challenge(T0))  # Proxy-Authorization: no Authentication-Info
    assert isinstance(step, Retry)
    verdict = server.authenticate(step.credentials, method="INVITE", uri=URI, now=T0, source="s")
    assert isinstance(verdict, Authenticated)
    assert not flow.verify_authentication_info(verdict.authentication_info)
    client = DigestClient("alice", "wonderland")
    flow = client.start("REGISTER", URI)
    flow.challenged(401, server.challenge(T0))
    info = server.authenticate(flow.credentials, method="REGISTER", uri=URI, now=T0, source="s")
    assert isinstance(info, Authenticated)
    assert flow.verify_authentication_info(info.authentication_info)
    client.forget()
    assert not flow.verify_authentication_info(info.authentication_info)
    # RFC 2069 credentials (no qop) have no nc/cnonce to tie an rspauth to.
    bare = AuthChallenge("Digest", {"realm": REALM, "nonce": "n", "algorithm": "MD5"})
    flow = DigestClient("alice", "wonderland").start("REGISTER", URI)
    flow.challenged(401, [bare])
    assert not flow.verify_authentication_info({"rspauth": "0" * 32})
