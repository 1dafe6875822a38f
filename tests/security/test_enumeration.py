"""An unknown user and a wrong password are one answer, for the same work.

RFC 7616 §5.2/§5.3 and the brief: a registrar or proxy must not tell
who has an account. The answer (result type, reason, status, headers) is
compared, and so is the work, counted rather than timed: the number of
hash computations and store look-ups is identical for both, so the time
cannot differ by a hash either (no clock in the test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipsec.auth.digest as digest_module
from sipsec.auth import Algorithm, BadCredentials, DigestClient, DigestServer, Qop, Retry
from sipsec.auth.digest import compute_userhash, ha1_per_algorithm
from sipsec.proxy.authenticate import DomainAuthenticator
from sipsec.proxy.config import ProxyConfig
from sipsec.proxy.credentials import MemoryCredentialStore, make_credential
from sipsec.sip import AuthChallenge, AuthCredentials, Request, parse_message

REALM = "atlanta.example"
URI = "sip:atlanta.example"
SECRET = b"an-audit-secret-of-32-octets!!!!"
T0 = 1_800_000_000.0
BASES = (Algorithm.MD5, Algorithm.SHA256, Algorithm.SHA512_256)
PASSWORD = "wonderland"


@dataclass
class Work:
    hashes: int = 0
    lookups: list[str] = field(default_factory=list)


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    """Counts every H() of the Digest code (the table all hashing goes through)."""
    counted = Work()
    for algorithm, function in list(digest_module._HASHES.items()):

        def counting(data: bytes, _f: Callable[[bytes], Any] = function) -> Any:
            counted.hashes += 1
            return _f(data)

        monkeypatch.setitem(digest_module._HASHES, algorithm, counting)
    yield counted


def _server(work: Work, algorithm: Algorithm, qop: Qop, *, userhash: bool = False) -> DigestServer:
    store = {(a, "alice"): h for a, h in ha1_per_algorithm("alice", REALM, PASSWORD).items()}
    hashes = {(compute_userhash(a, "alice", REALM), a): "alice" for a in BASES}

    def lookup(user: str, realm: str, base: Algorithm) -> str | None:
        work.lookups.append(user)
        return store.get((base, user)) if realm == REALM else None

    def by_userhash(value: str, realm: str, base: Algorithm) -> str | None:
        work.lookups.append(value)
        return hashes.get((value, base)) if realm == REALM else None

    return DigestServer(
        SECRET, REALM, lookup, algorithms=[algorithm], qops=[qop],
        userhash_lookup=by_userhash if userhash else None,
    )  # fmt: skip


def _attempt(
    server: DigestServer, work: Work, username: str, password: str, source: str
) -> tuple[object, int, int]:
    """(result, hashes, look-ups) of the server's verification alone."""
    client = DigestClient(username, password)
    flow = client.start("REGISTER", URI)
    challenges = [AuthChallenge.parse(str(c)) for c in server.challenge(T0)]
    step = flow.challenged(401, challenges)
    assert isinstance(step, Retry)
    creds = [AuthCredentials.parse(str(c.value)) for c in step.credentials]
    work.hashes, work.lookups = 0, []
    result = server.authenticate(creds, method="REGISTER", uri=URI, now=T0 + 1, source=source)
    return result, work.hashes, len(work.lookups)


@pytest.mark.parametrize("qop", list(Qop), ids=lambda q: q.value)
@pytest.mark.parametrize("algorithm", list(Algorithm), ids=lambda a: a.value)
def test_unknown_user_and_wrong_password_are_indistinguishable(
    work: Work, algorithm: Algorithm, qop: Qop
) -> None:
    server = _server(work, algorithm, qop)
    wrong = _attempt(server, work, "alice", "not-" + PASSWORD, "192.0.2.1")
    unknown = _attempt(server, work, "mallory", "not-" + PASSWORD, "192.0.2.2")
    assert isinstance(wrong[0], BadCredentials)
    assert wrong == unknown  # same result and reason, same hashes, same look-ups
    # The counting is real: the right password authenticates with more work.
    right = _attempt(server, work, "alice", PASSWORD, "192.0.2.3")
    assert not isinstance(right[0], BadCredentials) and right[1] >= wrong[1]


@pytest.mark.parametrize("algorithm", BASES, ids=lambda a: a.value)
def test_with_userhash_too(work: Work, algorithm: Algorithm) -> None:
    """RFC 7616 §3.4.4: the username travels hashed; an unresolvable hash
    costs the same look-ups and hashes as a known user's wrong password."""
    server = _server(work, algorithm, Qop.AUTH, userhash=True)
    wrong = _attempt(server, work, "alice", "not-" + PASSWORD, "192.0.2.1")
    unknown = _attempt(server, work, "mallory", "not-" + PASSWORD, "192.0.2.2")
    assert isinstance(wrong[0], BadCredentials)
    assert wrong == unknown
    right = _attempt(server, work, "alice", PASSWORD, "192.0.2.3")
    assert not isinstance(right[0], BadCredentials)


@settings(max_examples=300, deadline=None)
@given(
    user=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20),
    password=st.text(min_size=1, max_size=20),
)
def test_any_unknown_user_costs_what_a_wrong_password_costs(user: str, password: str) -> None:
    counted = Work()
    originals = dict(digest_module._HASHES)
    try:
        for algorithm, function in originals.items():

            def counting(data: bytes, _f: Callable[[bytes], Any] = function) -> Any:
                counted.hashes += 1
                return _f(data)

            digest_module._HASHES[algorithm] = counting
        server = _server(counted, Algorithm.SHA256, Qop.AUTH)
        if user == "alice":
            user = "alice2"
        wrong = _attempt(server, counted, "alice", password + "!", "192.0.2.1")
        unknown = _attempt(server, counted, user, password, "192.0.2.2")
    finally:
        digest_module._HASHES.update(originals)
    assert wrong == unknown


def _register(authorization: str | None) -> Request:
    text = (
        f"REGISTER {URI} SIP/2.0\r\n"
        "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-audit\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@atlanta.example>;tag=1\r\n"
        "To: <sip:alice@atlanta.example>\r\n"
        "Call-ID: audit@192.0.2.1\r\n"
        "CSeq: 2 REGISTER\r\n"
        "Contact: <sips:alice@192.0.2.1:5061>\r\n"
        + (f"Authorization: {authorization}\r\n" if authorization else "")
        + "Content-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


@pytest.mark.parametrize("kind", ["www", "proxy"])
def test_the_domain_answers_unknown_and_wrong_alike(kind: str) -> None:
    """The proxy's own wrapper: same status, reason phrase, header names and
    log detail for an unknown user and for a wrong password."""
    store = MemoryCredentialStore()
    store.put(make_credential("alice", REALM, PASSWORD))
    config = ProxyConfig(REALM, local={"tls": ("127.0.0.1", 5061)})
    domain = DomainAuthenticator(config, store, SECRET)
    challenge = domain.check(_register(None), kind, T0, "192.0.2.1")  # type: ignore[arg-type]
    assert challenge.status in (401, 407)
    name = "Authorization" if kind == "www" else "Proxy-Authorization"

    def answer(user: str, password: str, source: str) -> tuple[Any, ...]:
        client = DigestClient(user, password)
        flow = client.start("REGISTER", URI)
        offered = [AuthChallenge.parse(v) for _, v in challenge.headers]
        step = flow.challenged(challenge.status, offered)
        assert isinstance(step, Retry)
        request = _register(str(step.credentials[0].value))
        if name != "Authorization":
            request = parse_message(
                bytes(request).replace(b"Authorization:", b"Proxy-Authorization:")
            )  # type: ignore[assignment]
        out = domain.check(request, kind, T0 + 1, source)  # type: ignore[arg-type]
        return out.username, out.status, out.reason, [h for h, _ in out.headers], out.detail

    wrong = answer("alice", "guess", "192.0.2.7")
    unknown = answer("nobody", "guess", "192.0.2.8")
    assert wrong == unknown
    assert wrong[1] == challenge.status and wrong[0] is None
    assert answer("alice", PASSWORD, "192.0.2.9")[0] == "alice"
