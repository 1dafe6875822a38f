"""Digest, client side: answer a 401/407 and reuse the nonce afterwards.

Sans-IO. One :class:`DigestClient` per account keeps the password and, per
realm, the nonce last offered and its nonce count. Each outgoing request
gets an :class:`AuthFlow` (the httpx ``_auth.py`` generator, unrolled into
an object because the UA — not us — builds and sends the SIP requests)::

    flow = client.start("REGISTER", "sip:atlanta.example", body=b"")
    headers = flow.credentials          # pre-emptive, from a cached nonce (RFC 3261 §22.3)
    ... send; a 401 or 407 comes back ...
    step = flow.challenged(status, challenge_headers)
    if isinstance(step, Retry):         # send the request again (new CSeq) with step.credentials
    else:                               # GaveUp: report step.reason

Choices (RFC 8760 §2.4 and §2.6, RFC 3261 §22.3):

- Strongest algorithm offered per realm: SHA-512-256 > SHA-256 > MD5, each
  ``-sess`` variant just below its plain form; among equals, the topmost.
  RFC 8760 §2.4 says "use the topmost header field that it supports unless
  a local policy dictates otherwise": strongest-first is that local policy,
  and it costs nothing with a server that lists strongest first anyway.
  Challenges we do not understand are ignored (same section).
- One answer per realm challenging (RFC 3261 §22.3: several proxies may
  challenge one request).
- qop ``auth`` unless the account asks for ``auth-int`` and the server
  offers it; ``auth-int`` only when ``auth`` is not offered. Why ``auth`` by
  default: in this stack the body (SDP) is protected end to end by S/MIME
  or hop by hop by TLS, so ``auth-int`` adds little, while it fails as soon
  as anything between the hash and the wire re-encodes the body, and not
  every deployed server implements it (RFC 3261 §22.4 leaves it optional).
- No qop offered: for MD5 the RFC 2069 response (RFC 2617 §3.2.2.1, what
  an old RFC 3261 server computes); for the newer algorithms qop ``auth``,
  RFC 8760 §2.6 item 8's default — only RFC 8760 servers offer them.
- nc counts the requests sent with one nonce (RFC 7616 §3.4), starting at 1
  for each new nonce; the cnonce is fresh for every request, from the
  injected random source.
- Loop guard: within one flow, a realm answered once and challenged again
  without ``stale=true`` means the password is wrong — give up; a realm
  re-challenged with the very nonce just answered gives up too, stale or not;
  and at most ``max_stale`` stale retries per flow.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sipsec.sip import AuthCredentials

from .digest import (
    Algorithm,
    Qop,
    compute_ha1,
    compute_response,
    compute_rspauth,
    compute_userhash,
)
from .params import AuthHeader, Challenge, DigestParamError, parse_challenge

__all__ = ["AuthFlow", "ClientCredentials", "DigestClient", "GaveUp", "Retry"]

_HEADER_FOR = {401: "Authorization", 407: "Proxy-Authorization"}


@dataclass(frozen=True)
class ClientCredentials:
    """One header to add to the request: name, scheme and unquoted parameters.

    ``request.headers`` gets ``header_name`` with the value ``str(c.value)``.
    """

    header_name: str  # "Authorization" (after a 401) or "Proxy-Authorization" (407)
    scheme: str
    params: Mapping[str, str]

    @property
    def value(self) -> AuthCredentials:
        """The header value, for the SIP message layer to serialize."""
        return AuthCredentials(self.scheme, dict(self.params))


@dataclass(frozen=True)
class Retry:
    """Send the request again (a new CSeq, RFC 3261 §22.2) with these headers."""

    credentials: tuple[ClientCredentials, ...]


@dataclass(frozen=True)
class GaveUp:
    """Do not retry: the request has failed authentication."""

    reason: str


@dataclass
class _Session:
    """What we keep per (header, realm): the challenge answered and its nonce count."""

    header_name: str
    challenge: Challenge
    nc: int = 0


@dataclass(eq=False)  # identity: a generated == would compare the password early-exit
class DigestClient:
    """An account's Digest state. ``random(n)`` returns n random bytes (cnonces).

    ``password`` is the password, or a function asked once per realm (a
    prompt, a keyring; ``None``: no password for that realm). A stale nonce
    or a later request never asks again: the answer is kept in memory.
    ``algorithms`` limits what the account will answer (all by default);
    ``prefer_auth_int`` picks ``auth-int`` whenever it is offered.
    """

    username: str
    password: str | Callable[[str], str | None] = field(repr=False)
    random: Callable[[int], bytes] = field(default=os.urandom, repr=False)
    algorithms: frozenset[Algorithm] = frozenset(Algorithm)
    prefer_auth_int: bool = False
    max_stale: int = 2
    # Hex-encoded; unpredictable, against a rogue server's chosen plaintext (RFC 2617 §4.9).
    cnonce_bytes: int = 16
    _sessions: dict[tuple[str, str], _Session] = field(default_factory=dict, repr=False)
    _ha1: dict[tuple[Algorithm, str], str] = field(default_factory=dict, repr=False)
    _passwords: dict[str, str | None] = field(default_factory=dict, repr=False)

    def start(
        self,
        method: str,
        uri: str,
        body: bytes = b"",
        *,
        preemptive: bool | Collection[str] = True,
    ) -> AuthFlow:
        """A flow for one request, with pre-emptive credentials (RFC 3261 §22.3).

        ``preemptive``: ``True`` reuses every cached nonce, ``False`` none, and
        a collection of header names only those kinds — e.g.
        ``{"Proxy-Authorization"}`` for an INVITE, so that the registrar's
        ``Authorization`` is not carried to the callee.
        """
        if preemptive is True:
            kinds: Collection[str] = tuple(_HEADER_FOR.values())
        else:
            kinds = () if preemptive is False else preemptive
        return AuthFlow(self, method, uri, body, preemptive=kinds)

    def forget(self) -> None:
        """Drop every cached nonce and password (after the password changed, say)."""
        self._sessions.clear()
        self._passwords.clear()
        self._ha1.clear()

    # -- internals used by AuthFlow -------------------------------------------------

    def _password_for(self, realm: str) -> str | None:
        if realm not in self._passwords:
            password = self.password
            self._passwords[realm] = password(realm) if callable(password) else password
        return self._passwords[realm]

    def _choose(self, challenges: Iterable[Challenge]) -> Challenge | None:
        usable = [c for c in challenges if c.algorithm in self.algorithms]
        # Strongest first; ties keep the server's order (it lists strongest first).
        return max(usable, key=lambda c: c.algorithm.strength, default=None)

    def _qop(self, algorithm: Algorithm, offered: frozenset[Qop]) -> Qop | None:
        if not offered:
            # RFC 2069 for plain MD5 only; -sess needs a cnonce, hence a qop.
            return None if algorithm is Algorithm.MD5 else Qop.AUTH
        if Qop.AUTH_INT in offered and (self.prefer_auth_int or Qop.AUTH not in offered):
            return Qop.AUTH_INT
        return Qop.AUTH

    def _credentials(
        self, session: _Session, method: str, uri: str, body: bytes
    ) -> ClientCredentials:
        challenge = session.challenge
        algorithm = challenge.algorithm
        key = (algorithm.base, challenge.realm)
        ha1 = self._ha1.get(key)
        if ha1 is None:
            password = self._password_for(challenge.realm)
            assert password is not None  # AuthFlow only keeps realms with a password
            ha1 = self._ha1[key] = compute_ha1(algorithm, self.username, challenge.realm, password)
        qop = self._qop(algorithm, challenge.qops)
        session.nc += 1
        nc = f"{session.nc:08x}"
        cnonce = self.random(self.cnonce_bytes).hex() if qop is not None else ""
        response = compute_response(
            algorithm, ha1, nonce=challenge.nonce, method=method, uri=uri, qop=qop,
            nc=nc, cnonce=cnonce, body=body,
        )  # fmt: skip
        username = self.username
        if challenge.userhash:
            username = compute_userhash(algorithm, self.username, challenge.realm)
        params = {"username": username, "realm": challenge.realm, "nonce": challenge.nonce}
        params["uri"] = uri
        params["response"] = response
        params["algorithm"] = algorithm.value
        if challenge.opaque is not None:
            params["opaque"] = challenge.opaque
        if qop is not None:
            params.update(qop=qop.value, nc=nc, cnonce=cnonce)
        if challenge.userhash:
            params["userhash"] = "true"
        return ClientCredentials(session.header_name, "Digest", params)


class AuthFlow:
    """The authentication of one request, through as many retries as it takes."""

    def __init__(
        self,
        client: DigestClient,
        method: str,
        uri: str,
        body: bytes,
        *,
        preemptive: Collection[str],
    ) -> None:
        self._client = client
        self._method, self._uri, self._body = method, uri, body
        self._answered: dict[tuple[str, str], str] = {}  # (header, realm) -> nonce answered
        self._stale_retries = 0
        self._gave_up: GaveUp | None = None
        self._included = [key for key in client._sessions if key[0] in preemptive]
        self.credentials = self._build(self._included)

    def _build(self, keys: Iterable[tuple[str, str]]) -> tuple[ClientCredentials, ...]:
        sessions = self._client._sessions
        return tuple(
            self._client._credentials(sessions[k], self._method, self._uri, self._body)
            for k in keys
            if k in sessions
        )

    def challenged(self, status: int, challenges: Iterable[AuthHeader]) -> Retry | GaveUp:
        """Handle a 401 (``WWW-Authenticate``) or 407 (``Proxy-Authenticate``) response.

        ``challenges`` are the response's challenge headers, in order. Headers
        that are not Digest, or that do not parse, are skipped; a response
        with no usable challenge gives up.
        """
        if self._gave_up is not None:
            return self._gave_up
        header_name = _HEADER_FOR.get(status)
        if header_name is None:
            return self._give_up(f"status {status} is not a challenge")
        by_realm: dict[str, list[Challenge]] = {}
        for header in challenges:
            if header.scheme.lower() != "digest":
                continue
            try:
                challenge = parse_challenge(header.params)
            except DigestParamError:
                continue
            by_realm.setdefault(challenge.realm, []).append(challenge)
        chosen = [c for c in map(self._client._choose, by_realm.values()) if c is not None]
        if not chosen:
            return self._give_up("no Digest challenge with a supported algorithm")
        chosen = [c for c in chosen if self._client._password_for(c.realm) is not None]
        if not chosen:
            return self._give_up("no password for the realm challenging")
        for challenge in chosen:
            key = (header_name, challenge.realm)
            previous = self._answered.get(key)
            if previous == challenge.nonce:
                return self._give_up(f"realm {challenge.realm!r} re-challenged the same nonce")
            if previous is not None:
                if not challenge.stale:
                    return self._give_up(f"credentials rejected by realm {challenge.realm!r}")
                self._stale_retries += 1
                if self._stale_retries > self._client.max_stale:
                    return self._give_up("too many stale nonces in a row")
            self._answered[key] = challenge.nonce
            # A new nonce starts counting at 1 (RFC 7616 §3.4).
            self._client._sessions[key] = _Session(header_name, challenge)
            if key not in self._included:
                self._included.append(key)
        self.credentials = self._build(self._included)
        return Retry(self.credentials)

    def verify_authentication_info(self, params: Mapping[str, str], body: bytes = b"") -> bool:
        """Whether an Authentication-Info header proves the server knows our HA1.

        ``params`` are the header's parameters (RFC 3261 §20.6, RFC 7616
        §3.5), ``body`` the response's body (used for auth-int). True only
        if ``rspauth`` matches what we expect for the ``Authorization`` last
        sent in this flow; what to do when it is absent or wrong is the
        caller's policy (RFC 8760 §2.6 keeps the header optional).
        """
        rspauth = params.get("rspauth")
        if rspauth is None:
            return False
        for creds in self.credentials:
            sent = creds.params
            if creds.header_name != "Authorization" or "qop" not in sent:
                continue
            if any(params.get(k, sent[k]) != sent[k] for k in ("nc", "cnonce")):
                continue
            algorithm = Algorithm.parse(sent["algorithm"])
            ha1 = self._client._ha1.get((algorithm.base, sent["realm"]))
            if ha1 is None:  # forgotten since (DigestClient.forget)
                continue
            expected = compute_rspauth(
                algorithm, ha1, nonce=sent["nonce"], uri=sent["uri"], qop=Qop.parse(sent["qop"]),
                nc=sent["nc"], cnonce=sent["cnonce"], body=body,
            )  # fmt: skip
            if hmac.compare_digest(expected.encode(), rspauth.lower().encode("utf-8")):
                return True
        return False

    def _give_up(self, reason: str) -> GaveUp:
        self._gave_up = GaveUp(reason)
        return self._gave_up
