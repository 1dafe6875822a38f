"""Digest for the domain: 401 from the registrar, 407 from the proxy (RFC 3261 §22).

:class:`DomainAuthenticator` turns :class:`sipsec.auth.DigestServer`'s typed
results into what the core sends: either the authenticated username, or the
status and headers of the refusal. One answer for an unknown user and a
wrong password: both get a fresh 401/407 challenge with the same reason
phrase, never a 403. We chose the fresh challenge because RFC 3261 §22.3
says a server "SHOULD" challenge again when credentials fail, a 403 after
the retry would tell a client apart only by how many times it tried, and
the failure limiter (per source and per user) is what stops guessing:
it answers 403 + Retry-After to both alike once a bucket is empty.

Credentials for our realm are consumed once verified (RFC 3261 §22.3): a
successful ``check(..., "proxy", ...)`` removes every Proxy-Authorization
value whose realm is ours from the request, so the copies forwarded
downstream (§16.6 step 1 copies this request) do not carry a response hash
no one downstream may use. §22.3: a value "MUST NOT be consumed by any
proxy whose realm does not match the 'realm' parameter specified in that
value", so values for other realms (the next domain's proxy) and values of
other schemes stay, in their order. A failed check removes nothing: the
request is answered, not forwarded.

``nonce_counts`` shares replay detection between processes serving one
domain (:class:`sipsec.proxy.nonce_redis.RedisNonceCounts`); the default
is the in-process table.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sipsec.auth import (
    Authenticated,
    BadCredentials,
    DigestServer,
    FailureLimiter,
    MalformedCredentials,
    NoCredentials,
    NonceCountStore,
    RateLimited,
    ReplayedNonce,
    SchemeRefused,
    StaleNonce,
)
from sipsec.proxy.config import ProxyConfig
from sipsec.proxy.credentials import CredentialStore, ha1_lookup
from sipsec.proxy.store import StoreError
from sipsec.sip import AuthCredentials, Request, SipParseError

__all__ = ["AuthOutcome", "DomainAuthenticator", "Kind"]

Kind = Literal["www", "proxy"]
_UNAUTHORIZED = "Unauthorized"  # the one reason phrase for every 401 we send
_PROXY_AUTH = "Proxy Authentication Required"


@dataclass(frozen=True)
class AuthOutcome:
    """Either ``username`` (authenticated) or a response to send instead."""

    username: str | None
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    # Why, for the log line and stats only (never in the response).
    detail: str = ""


class DomainAuthenticator:
    """Challenges and checks credentials for ``config.domain`` (the realm)."""

    def __init__(
        self,
        config: ProxyConfig,
        credentials: CredentialStore,
        secret: bytes,
        *,
        random: Callable[[int], bytes] = os.urandom,
        source_limiter: FailureLimiter | None = None,
        user_limiter: FailureLimiter | None = None,
        nonce_counts: NonceCountStore | None = None,
    ) -> None:
        self.realm = config.domain
        self._server = DigestServer(
            secret,
            config.domain,
            ha1_lookup(credentials),
            algorithms=config.digest_algorithms,
            qops=config.digest_qops,
            nonce_lifetime=config.nonce_lifetime,
            source_limiter=source_limiter,
            user_limiter=user_limiter,
            nonce_counts=nonce_counts,
            random=random,
        )

    def __repr__(self) -> str:
        return f"DomainAuthenticator(realm={self.realm!r})"

    def check(self, request: Request, kind: Kind, wall: float, source: str) -> AuthOutcome:
        """Authenticate ``request``; ``wall`` is wall-clock seconds (nonces
        outlive a process), ``source`` the client's IP (rate limiting).
        Verified ``proxy`` credentials are consumed (the module docstring)."""
        try:
            headers = request.authorization if kind == "www" else request.proxy_authorization
        except SipParseError as exc:
            return AuthOutcome(None, 400, "Malformed credentials", detail=exc.reason)
        try:
            result = self._server.authenticate(
                headers,
                method=request.method,
                uri=str(request.uri),
                body=request.body,
                now=wall,
                source=source,
            )
        except StoreError as exc:
            return AuthOutcome(None, 500, "Server Internal Error", detail=str(exc))
        if isinstance(result, Authenticated):
            if kind == "proxy":
                self.consume(request)
            info = ", ".join(f"{k}={v}" for k, v in result.authentication_info.items())
            extra = (("Authentication-Info", info),) if info else ()
            return AuthOutcome(result.username, headers=extra, detail="ok")
        if isinstance(result, MalformedCredentials):
            return AuthOutcome(None, 400, "Malformed credentials", detail=result.reason)
        if isinstance(result, RateLimited):
            retry = str(max(1, int(result.retry_after + 0.999)))
            return AuthOutcome(
                None, 403, "Forbidden", (("Retry-After", retry),), detail="rate limited"
            )
        stale = isinstance(result, StaleNonce | ReplayedNonce)
        if isinstance(result, BadCredentials):
            detail = "bad credentials"  # unknown user and wrong password alike
        elif isinstance(result, SchemeRefused):
            detail = "scheme refused"
        elif isinstance(result, NoCredentials):
            detail = "challenged"
        else:
            detail = "stale" if isinstance(result, StaleNonce) else "replayed nonce"
        return self.challenge(kind, wall, stale=stale, detail=detail)

    def consume(self, request: Request) -> int:
        """Remove the Proxy-Authorization values for our realm (RFC 3261
        §22.3), keeping every other value in order; returns how many went.

        Raises :class:`SipParseError` if a value does not parse (``check``
        has parsed them all before it calls this).
        """
        lines = request.headers.get_lines("Proxy-Authorization")
        values = request.proxy_authorization
        kept = [line for line, value in zip(lines, values, strict=True) if not self._ours(value)]
        if len(kept) == len(lines):
            return 0
        request.headers.remove("Proxy-Authorization")
        for line in kept:
            request.headers.add("Proxy-Authorization", line)
        return len(lines) - len(kept)

    def _ours(self, value: AuthCredentials) -> bool:
        # The realm test DigestServer.authenticate uses to pick our value:
        # Digest, realm parameter (name case-insensitive) equal to ours.
        realm = next((v for k, v in value.params.items() if k.lower() == "realm"), None)
        return value.is_digest and realm == self.realm

    def challenge(self, kind: Kind, wall: float, *, stale: bool, detail: str) -> AuthOutcome:
        """A 401 (WWW-Authenticate) or 407 (Proxy-Authenticate): one header
        per algorithm, strongest first (RFC 8760 §2.3)."""
        name = "WWW-Authenticate" if kind == "www" else "Proxy-Authenticate"
        values = tuple((name, str(c)) for c in self._server.challenge(wall, stale=stale))
        if kind == "www":
            return AuthOutcome(None, 401, _UNAUTHORIZED, values, detail=detail)
        return AuthOutcome(None, 407, _PROXY_AUTH, values, detail=detail)
