"""HTTP Digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760), client and server, sans-IO.

- :mod:`~sipsec.auth.digest`: the hash computations (HA1 for the user store,
  response, userhash, rspauth) for MD5, SHA-256, SHA-512-256 and their
  ``-sess`` forms.
- :mod:`~sipsec.auth.params`: header parameters checked into typed values.
- :mod:`~sipsec.auth.client`: answering 401/407, nonce reuse, loop guard.
- :mod:`~sipsec.auth.server`: challenges and verification with typed results.
- :mod:`~sipsec.auth.nonce`: stateless HMAC nonces, nonce-count replay table.
- :mod:`~sipsec.auth.ratelimit`: token buckets for failed attempts.

Header values travel as :class:`sipsec.sip.AuthChallenge` /
:class:`sipsec.sip.AuthCredentials`. A UA::

    flow = client.start("REGISTER", uri, body)      # client = DigestClient(user, password)
    add(flow.credentials)                           # pre-emptive, may be empty
    step = flow.challenged(401, response.www_authenticate)
    if isinstance(step, Retry):                     # resend (new CSeq) with
        add(step.credentials)                       # c.header_name: str(c.value)

A registrar (401) or proxy (407)::

    server = DigestServer(secret, "atlanta.example", store_lookup)
    result = server.authenticate(request.authorization, method=..., uri=...,
                                 body=..., now=time.time(), source=addr)
    # Authenticated, or a result naming the answer: see sipsec.auth.server
"""

from __future__ import annotations

from .client import AuthFlow, ClientCredentials, DigestClient, GaveUp, Retry
from .digest import (
    Algorithm,
    Qop,
    compute_ha1,
    compute_ha2,
    compute_response,
    compute_rspauth,
    compute_userhash,
    ha1_per_algorithm,
)
from .nonce import NonceCounts, NonceCountStore, NonceFactory, NonceState
from .params import (
    AuthHeader,
    Challenge,
    Credentials,
    DigestParamError,
    parse_challenge,
    parse_credentials,
)
from .ratelimit import FailureLimiter
from .server import (
    Authenticated,
    BadCredentials,
    DigestServer,
    MalformedCredentials,
    NoCredentials,
    RateLimited,
    ReplayedNonce,
    SchemeRefused,
    StaleNonce,
    VerifyResult,
)

__all__ = [
    "Algorithm",
    "AuthFlow",
    "AuthHeader",
    "Authenticated",
    "BadCredentials",
    "Challenge",
    "ClientCredentials",
    "Credentials",
    "DigestClient",
    "DigestParamError",
    "DigestServer",
    "FailureLimiter",
    "GaveUp",
    "MalformedCredentials",
    "NoCredentials",
    "NonceCountStore",
    "NonceCounts",
    "NonceFactory",
    "NonceState",
    "Qop",
    "RateLimited",
    "ReplayedNonce",
    "Retry",
    "SchemeRefused",
    "StaleNonce",
    "VerifyResult",
    "compute_ha1",
    "compute_ha2",
    "compute_response",
    "compute_rspauth",
    "compute_userhash",
    "ha1_per_algorithm",
    "parse_challenge",
    "parse_credentials",
]
