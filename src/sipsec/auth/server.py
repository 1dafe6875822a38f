"""Digest, server side: build challenges, verify credentials — one realm each.

Sans-IO: ``now`` (wall-clock seconds), the request's method, Request-URI and
body, and the client's source come in; a typed result comes out, which the
registrar (401, ``WWW-Authenticate``) or proxy (407, ``Proxy-Authenticate``)
turns into a response:

========================  ===================================================
result                    answer
========================  ===================================================
:class:`Authenticated`    go on with the request
:class:`NoCredentials`    401/407 with :meth:`DigestServer.challenge`
:class:`BadCredentials`   401/407 with a fresh challenge (wrong password and
                          unknown user alike — the reason text is the same)
:class:`StaleNonce`       401/407 with ``challenge(stale=True)`` (RFC 7616 §3.3)
:class:`ReplayedNonce`    401/407 with ``challenge(stale=True)``: the digest
                          was right, so only a replayer is refused
:class:`MalformedCredentials`  400 with the reason (RFC 7616 §3.4.6)
:class:`SchemeRefused`    401/407 with a Digest challenge: Basic is never
                          accepted (RFC 3261 §22.4, RFC 8760 §2.6)
:class:`RateLimited`      403 with Retry-After; nothing was checked
========================  ===================================================

The store keeps HA1 per base algorithm (``lookup(username, realm,
algorithm) -> hex | None``), never a password; ``-sess`` variants derive
from the plain HA1 (RFC 7616 §3.4.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from sipsec.sip import AuthChallenge, SipParseError, parse_uri

from .digest import Algorithm, Qop, compute_response, compute_rspauth
from .nonce import NonceCounts, NonceCountStore, NonceFactory, NonceState
from .params import AuthHeader, DigestParamError, parse_credentials
from .ratelimit import FailureLimiter

__all__ = [
    "Authenticated",
    "BadCredentials",
    "DigestServer",
    "MalformedCredentials",
    "NoCredentials",
    "RateLimited",
    "ReplayedNonce",
    "SchemeRefused",
    "StaleNonce",
    "VerifyResult",
]

HA1Lookup = Callable[[str, str, Algorithm], str | None]
UserhashLookup = Callable[[str, str, Algorithm], str | None]

DEFAULT_ALGORITHMS = (Algorithm.SHA512_256, Algorithm.SHA256, Algorithm.MD5)
# The one answer for an unknown user and a wrong password alike.
_NO_MATCH = "credentials do not match"


@dataclass(frozen=True)
class Authenticated:
    username: str
    realm: str
    algorithm: Algorithm
    qop: Qop
    # Parameters for an Authentication-Info header on the final response
    # (RFC 3261 §20.6, RFC 7616 §3.5): qop, rspauth, cnonce, nc. Empty for
    # auth-int, whose rspauth must cover a response body not yet written
    # (and §3.5 forbids sending the header without rspauth).
    authentication_info: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class NoCredentials:
    """No Digest credentials for this realm in the request."""


@dataclass(frozen=True)
class BadCredentials:
    reason: str


@dataclass(frozen=True)
class StaleNonce:
    """Right digest, expired nonce."""


@dataclass(frozen=True)
class ReplayedNonce:
    """Right digest, but its nonce count was used before (or fell out of the window)."""


@dataclass(frozen=True)
class MalformedCredentials:
    reason: str


@dataclass(frozen=True)
class SchemeRefused:
    scheme: str


@dataclass(frozen=True)
class RateLimited:
    retry_after: float  # seconds


VerifyResult = (
    Authenticated
    | NoCredentials
    | BadCredentials
    | StaleNonce
    | ReplayedNonce
    | MalformedCredentials
    | SchemeRefused
    | RateLimited
)


def _param(header: AuthHeader, name: str) -> str | None:
    # Parameter names are case-insensitive (RFC 7235 §2.1).
    return next((v for k, v in header.params.items() if k.lower() == name), None)


def same_request_uri(digest_uri: str, request_uri: str) -> bool:
    """The default digest-uri check: the same text, or equivalent SIP URIs.

    RFC 7616 §3.4.6 wants the digest-uri to name the Request-URI's resource;
    for SIP that is URI equivalence (RFC 3261 §19.1.4), so a client that
    writes ``sip:Bob@BILOXI.example`` for ``sip:Bob@biloxi.example`` passes.
    RFC 8760 §2.6 (item 6) lets a UAS accept even non-equivalent URIs when
    a proxy retargeted the request; pass ``uri_matches`` for that policy.
    """
    if digest_uri == request_uri:
        return True
    try:
        return parse_uri(digest_uri) == parse_uri(request_uri)
    except SipParseError:
        return False


class DigestServer:
    """Challenges and verification for one realm (one SIP domain).

    ``algorithms`` is the set offered, in any order (challenges list the
    strongest first); a domain serving clients that only do MD5 — baresip
    1.0 — may offer MD5 alone. ``bound`` (to :meth:`challenge` and
    :meth:`verify`) ties a nonce to anything else, e.g. the source address.

    Nonces are stateless (any process with the secret checks them); nonce
    counts are not: ``nonce_counts`` defaults to an in-process table, see
    :class:`~sipsec.auth.nonce.NonceCountStore` for sharing it.
    """

    def __init__(
        self,
        secret: bytes,
        realm: str,
        lookup: HA1Lookup,
        *,
        algorithms: Iterable[Algorithm] = DEFAULT_ALGORITHMS,
        qops: Iterable[Qop] = (Qop.AUTH, Qop.AUTH_INT),
        nonce_lifetime: float = 300.0,
        userhash_lookup: UserhashLookup | None = None,
        source_limiter: FailureLimiter | None = None,
        user_limiter: FailureLimiter | None = None,
        nonce_capacity: int = 100_000,
        nonce_counts: NonceCountStore | None = None,
        uri_matches: Callable[[str, str], bool] = same_request_uri,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the server secret must be at least 16 bytes")
        self.realm = realm
        self.algorithms = tuple(sorted(set(algorithms), key=lambda a: -a.strength))
        self.qops = tuple(q for q in Qop if q in set(qops))
        if not self.algorithms or not self.qops:
            raise ValueError("offer at least one algorithm and one qop")
        self._secret = secret
        self._lookup = lookup
        self._uri_matches = uri_matches
        self._userhash_lookup = userhash_lookup
        self._nonces = NonceFactory(secret, realm, nonce_lifetime, random)
        if nonce_counts is None:
            nonce_counts = NonceCounts(lifetime=nonce_lifetime, capacity=nonce_capacity)
        self._counts = nonce_counts
        # ``is None``, not ``or``: an empty limiter has len() 0 and is falsy.
        if source_limiter is None:
            source_limiter = FailureLimiter(rate=0.2, burst=20)
        if user_limiter is None:
            user_limiter = FailureLimiter(rate=0.1, burst=10)
        self._by_source, self._by_user = source_limiter, user_limiter
        self._dummy_key = hmac.new(secret, b"dummy-ha1", hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return (
            f"DigestServer(realm={self.realm!r}, algorithms={[a.value for a in self.algorithms]})"
        )

    # -- challenges (RFC 7616 §3.3) -------------------------------------------------

    def _opaque(self, nonce: str) -> str:
        # Derived from the nonce, so it is checked without state.
        mac = hmac.new(self._secret, b"opaque:" + nonce.encode("utf-8"), hashlib.sha256)
        return base64.b64encode(mac.digest()[:12]).decode("ascii")

    def challenge(
        self, now: float, *, stale: bool = False, bound: bytes = b""
    ) -> tuple[AuthChallenge, ...]:
        """One challenge per algorithm offered, strongest first, sharing one nonce.

        RFC 8760 §2.3: one header per algorithm for a realm, "in the order in
        which it would prefer to see them used"; and a UAS "MUST always send
        a qop parameter" (§2.6, item 8).
        """
        nonce = self._nonces.mint(now, bound)
        qop = ",".join(q.value for q in self.qops)
        headers: list[AuthChallenge] = []
        for algorithm in self.algorithms:
            params = {"realm": self.realm, "nonce": nonce, "opaque": self._opaque(nonce)}
            params.update(algorithm=algorithm.value, qop=qop)
            if stale:
                params["stale"] = "true"
            if self._userhash_lookup is not None:
                params["userhash"] = "true"
            headers.append(AuthChallenge("Digest", params))
        return tuple(headers)

    # -- verification (RFC 7616 §3.4, RFC 3261 §22.4) -------------------------------

    def authenticate(
        self,
        headers: Iterable[AuthHeader],
        *,
        method: str,
        uri: str,
        body: bytes = b"",
        now: float,
        source: Hashable,
        bound: bytes = b"",
    ) -> VerifyResult:
        """Verify the request's credentials for this realm (RFC 3261 §22.3).

        A request may carry credentials for several realms (one per proxy on
        the path); only the Digest one whose realm is ours is checked. Basic
        credentials, when there is no Digest for us, are refused.
        """
        others: list[AuthHeader] = []
        for header in headers:
            if header.scheme.lower() == "digest" and _param(header, "realm") == self.realm:
                return self.verify(
                    header, method=method, uri=uri, body=body, now=now, source=source, bound=bound
                )
            others.append(header)
        for header in others:
            if header.scheme.lower() != "digest":
                return SchemeRefused(header.scheme)
        return NoCredentials()

    def verify(
        self,
        header: AuthHeader,
        *,
        method: str,
        uri: str,
        body: bytes = b"",
        now: float,
        source: Hashable,
        bound: bytes = b"",
    ) -> VerifyResult:
        """Check one credentials header. ``uri`` is the request's Request-URI."""
        if not self._by_source.allowed(source, now):
            return RateLimited(self._by_source.retry_after(source, now))
        if header.scheme.lower() != "digest":
            return SchemeRefused(header.scheme)
        if _param(header, "response") == "":
            # RFC 8760 §2.7: an empty response is allowed before any challenge
            # (a UA announcing its username): answer with a challenge.
            return NoCredentials()
        try:
            creds = parse_credentials(header.params)
        except DigestParamError as exc:
            self._by_source.charge(source, now)
            return MalformedCredentials(exc.reason)
        user_key = (creds.userhash, creds.username)
        if not self._by_user.allowed(user_key, now):
            return RateLimited(self._by_user.retry_after(user_key, now))
        if not self._uri_matches(creds.uri, uri):
            # RFC 7616 §3.4.6: the digest-uri must be the Request-URI; 400 if not.
            self._by_source.charge(source, now)
            return MalformedCredentials("digest uri does not match the Request-URI")
        problem = self._policy_problem(creds.realm, creds.algorithm, creds.qop)
        nonce_state = self._nonces.check(creds.nonce, now, bound)
        if problem is None and nonce_state is NonceState.INVALID:
            problem = "nonce not issued here"
        opaque = self._opaque(creds.nonce)
        if problem is None and not hmac.compare_digest(
            (creds.opaque or "").encode(), opaque.encode()
        ):
            problem = "opaque not returned unchanged"
        if problem is not None:
            return self._failed(source, user_key, now, problem)
        assert creds.qop is not None  # _policy_problem insists on one

        username: str | None = creds.username
        if creds.userhash:
            username = self._resolve_userhash(creds.username, creds.algorithm)
        # The stand-in HA1 is computed for every user, known or not, so an
        # unknown user costs exactly the hashes a wrong password costs: neither
        # the answer nor its timing tells the two apart (no user enumeration).
        dummy = self._dummy_ha1(creds.username, creds.algorithm)
        # An unresolved userhash still costs its store look-up (of the hash
        # itself, which names no one: ``username is None`` fails below anyway).
        ha1 = self._stored_ha1(creds.username if username is None else username, creds.algorithm)
        known = ha1 is not None
        if ha1 is None:
            ha1 = dummy
        expected = compute_response(
            creds.algorithm, ha1, nonce=creds.nonce, method=method, uri=creds.uri,
            qop=creds.qop, nc=creds.nc or "", cnonce=creds.cnonce or "", body=body,
        )  # fmt: skip
        if not hmac.compare_digest(expected, creds.response) or not known or username is None:
            return self._failed(source, user_key, now, _NO_MATCH)
        if nonce_state is NonceState.EXPIRED:
            return StaleNonce()
        issued = self._nonces.issued_at(creds.nonce)
        if not self._counts.check_and_record(creds.nonce, issued, creds.nonce_count, now):
            return ReplayedNonce()
        assert creds.nc is not None and creds.cnonce is not None  # a qop brings both
        info: dict[str, str] = {}
        if creds.qop is Qop.AUTH:
            info.update(qop=creds.qop.value, nc=creds.nc, cnonce=creds.cnonce)
            info["rspauth"] = compute_rspauth(
                creds.algorithm, ha1, nonce=creds.nonce, uri=creds.uri, qop=creds.qop,
                nc=creds.nc, cnonce=creds.cnonce,
            )  # fmt: skip
        return Authenticated(username, self.realm, creds.algorithm, creds.qop, info)

    def _policy_problem(self, realm: str, algorithm: Algorithm, qop: Qop | None) -> str | None:
        if realm != self.realm:
            return "realm is not ours"
        if algorithm not in self.algorithms:
            return f"algorithm {algorithm.value} not offered"
        if qop is None or qop not in self.qops:
            # We always offer a qop, so RFC 7616 §3.4 requires one back.
            return "qop missing or not offered"
        return None

    def _failed(self, source: Hashable, user_key: Hashable, now: float, why: str) -> BadCredentials:
        self._by_source.charge(source, now)
        self._by_user.charge(user_key, now)
        return BadCredentials(why)

    def _resolve_userhash(self, userhash: str, algorithm: Algorithm) -> str | None:
        if self._userhash_lookup is None:
            return None
        return self._userhash_lookup(userhash.lower(), self.realm, algorithm.base)

    def _stored_ha1(self, username: str, algorithm: Algorithm) -> str | None:
        ha1 = self._lookup(username, self.realm, algorithm.base)
        if ha1 is None or len(ha1) != algorithm.digest_size:
            return None
        return ha1.lower()

    def _dummy_ha1(self, username: str, algorithm: Algorithm) -> str:
        return algorithm.hash_hex(f"{username}:{self.realm}:{self._dummy_key}".encode())

    @property
    def nonces_tracked(self) -> int:
        """How many nonces' counts are held (bounded by ``nonce_capacity``)."""
        return len(self._counts)
