"""DomainAuthenticator: typed Digest results as 401/407/403/400 answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.auth import DigestClient, Retry
from sipsec.errors import LocalProtocolError
from sipsec.proxy import MemoryCredentialStore, ProxyConfig, make_credential
from sipsec.proxy.authenticate import DomainAuthenticator
from sipsec.sip import AuthCredentials, Request, SipParseError, parse_message

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


# -- RFC 3261 §22.3: our realm's credentials are consumed, never another's ----------

BILOXI_CRED = (
    'Digest username="alice", realm="biloxi.example", nonce="bn", uri="sip:bob@biloxi.example",'
    ' response="0123456789abcdef0123456789abcdef"'
)
OTHER_SCHEME = "Foo token68value"


def _with_other_realms(auth: DomainAuthenticator, password: str) -> Request:
    req = _answered(auth, password)
    # Ours first, as the UA added them; then a downstream proxy's, in order.
    req.headers.add("Proxy-Authorization", BILOXI_CRED)
    req.headers.add("Proxy-Authorization", OTHER_SCHEME)
    return req


def test_verified_credentials_for_our_realm_are_consumed_others_kept_in_order() -> None:
    auth = _auth()
    req = _with_other_realms(auth, "pw")
    assert auth.check(req, "proxy", 1001.0, "h").username == "alice"
    assert req.headers.get_lines("Proxy-Authorization") == [BILOXI_CRED, OTHER_SCHEME]
    # The request as serialized (what §16.6 copies and sends) agrees.
    again = parse_message(bytes(req))
    assert isinstance(again, Request)
    realms = [v.params.get("realm") for v in again.proxy_authorization]
    assert realms == ["biloxi.example", None]


def test_failed_or_stale_credentials_are_not_consumed() -> None:
    auth = _auth()
    wrong = _with_other_realms(auth, "nope")
    before = wrong.headers.get_lines("Proxy-Authorization")
    assert auth.check(wrong, "proxy", 1001.0, "h").status == 407
    assert wrong.headers.get_lines("Proxy-Authorization") == before
    stale = _with_other_realms(auth, "pw")
    before = stale.headers.get_lines("Proxy-Authorization")
    assert auth.check(stale, "proxy", 1000.0 + 10_000, "h").status == 407
    assert stale.headers.get_lines("Proxy-Authorization") == before


def test_registrar_credentials_are_not_touched() -> None:
    auth = _auth()
    req = _answered(auth, "pw", kind="www")
    req.headers.add("Proxy-Authorization", BILOXI_CRED)
    lines = req.headers.get_lines("Authorization")
    assert auth.check(req, "www", 1001.0, "h").username == "alice"
    assert req.headers.get_lines("Authorization") == lines
    assert req.headers.get_lines("Proxy-Authorization") == [BILOXI_CRED]


def test_consume_takes_every_value_of_our_realm_and_only_those() -> None:
    auth = _auth()
    ours = 'Digest username="a", realm="atlanta.example", nonce="n", uri="sip:x", response="r"'
    upper = 'digest Realm="atlanta.example", username="a"'
    near = 'Digest realm="Atlanta.example", username="a"'  # realms compare exactly
    req = request(
        "INVITE",
        "sip:bob@biloxi.example",
        extra=[("Proxy-Authorization", v) for v in (ours, BILOXI_CRED, upper, near)],
    )
    assert auth.consume(req) == 2
    assert req.headers.get_lines("Proxy-Authorization") == [BILOXI_CRED, near]
    assert auth.consume(req) == 0


_LINES = st.lists(
    st.one_of(
        st.sampled_from([BILOXI_CRED, OTHER_SCHEME, 'Digest realm="atlanta.example"']),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    ),
    max_size=5,
)


@settings(max_examples=1000, deadline=None)
@given(lines=_LINES)
def test_consume_on_any_header_keeps_every_foreign_value_or_raises_a_parse_error(
    lines: list[str],
) -> None:
    auth = _auth()
    req = request("INVITE", "sip:bob@biloxi.example")
    try:
        for line in lines:
            req.headers.add("Proxy-Authorization", line)
    except LocalProtocolError:
        return  # not a header we could have received either
    lines = req.headers.get_lines("Proxy-Authorization")
    try:
        values = [AuthCredentials.parse(line) for line in lines]
    except SipParseError:
        with pytest.raises(SipParseError):
            auth.consume(req)
        return
    foreign = [
        line
        for line, value in zip(lines, values, strict=True)
        if not (value.is_digest and value.params.get("realm") == "atlanta.example")
    ]
    assert auth.consume(req) == len(lines) - len(foreign)
    assert req.headers.get_lines("Proxy-Authorization") == foreign
