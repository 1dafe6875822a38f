"""DomainAuthenticator: typed Digest results as 401/407/403/400 answers."""

from __future__ import annotations

from sipsec.auth import DigestClient, Retry
from sipsec.proxy import MemoryCredentialStore, ProxyConfig, make_credential
from sipsec.proxy.authenticate import DomainAuthenticator
from sipsec.sip import Request, parse_message

from ._e3_harness import SECRET, request

CONFIG = ProxyConfig("atlanta.example", algorithms=("SHA-256", "MD5"))


def _auth() -> DomainAuthenticator:
    store = MemoryCredentialStore()
    store.put(make_credential("alice", "atlanta.example", "pw"))
    return DomainAuthenticator(CONFIG, store, SECRET)


def _answered(auth: DomainAuthenticator, password: str, kind: str = "proxy") -> Request:
    req = request("INVITE", "sip:bob@atlanta.example")
    challenge = auth.challenge(kind, 1000.0, stale=False, detail="")  # type: ignore[arg-type]
    name = "Proxy-Authenticate" if kind == "proxy" else "WWW-Authenticate"
    reply = parse_message(
        b"SIP/2.0 407 x\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
        + b"".join(f"{name}: {v}\r\n".encode() for _, v in challenge.headers)
        + b"Content-Length: 0\r\n\r\n"
    )
    offered = reply.proxy_authenticate if kind == "proxy" else reply.www_authenticate
    step = (
        DigestClient("alice", password)
        .start("INVITE", str(req.uri))
        .challenged(challenge.status, offered)
    )
    assert isinstance(step, Retry)
    for cred in step.credentials:
        req.headers.add(cred.header_name, str(cred.value))
    return req


def test_no_credentials_is_a_407_with_one_header_per_algorithm() -> None:
    outcome = _auth().check(request("INVITE", "sip:bob@atlanta.example"), "proxy", 1000.0, "h")
    assert outcome.username is None and outcome.status == 407
    assert [n for n, _ in outcome.headers] == ["Proxy-Authenticate"] * 2
    assert "SHA-256" in outcome.headers[0][1] and "MD5" in outcome.headers[1][1]


def test_right_password_authenticates_with_authentication_info() -> None:
    auth = _auth()
    outcome = auth.check(_answered(auth, "pw"), "proxy", 1001.0, "h")
    assert outcome.username == "alice"
    assert outcome.headers[0][0] == "Authentication-Info"


def test_wrong_password_is_a_fresh_challenge_like_no_credentials() -> None:
    auth = _auth()
    wrong = auth.check(_answered(auth, "nope"), "proxy", 1001.0, "h")
    none = auth.check(request("INVITE", "sip:bob@atlanta.example"), "proxy", 1001.0, "h")
    assert (wrong.status, wrong.reason) == (none.status, none.reason) == (407, wrong.reason)


def test_registrar_kind_is_401_and_basic_is_refused() -> None:
    auth = _auth()
    basic = request("REGISTER", "sip:atlanta.example", extra=[("Authorization", "Basic YTpi")])
    outcome = auth.check(basic, "www", 1000.0, "h")
    assert outcome.status == 401 and outcome.headers[0][0] == "WWW-Authenticate"
    assert outcome.detail == "scheme refused"


def test_malformed_credentials_are_400() -> None:
    bad = request(
        "INVITE", "sip:a@b", extra=[("Proxy-Authorization", 'Digest realm="atlanta.example"')]
    )
    assert _auth().check(bad, "proxy", 1000.0, "h").status == 400


def test_repr_shows_no_secret() -> None:
    assert "0123456789" not in repr(_auth())
