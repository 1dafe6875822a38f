"""The Digest computation itself: algorithms, HA1, HA2, response, userhash.

Pure functions over strings; no state, no I/O. Shared by the client
(:mod:`sipsec.auth.client`) and the server (:mod:`sipsec.auth.server`).

References: RFC 7616 §3.4.1–§3.4.4 (response, A1, A2, userhash), RFC 2617
§3.2.2 (the same for MD5), RFC 2069 §2.1.2 (no qop), RFC 8760 §2 (the SIP use
of SHA-256 and SHA-512-256), RFC 3261 §22.4 (SIP profile: only ``auth`` and
``auth-int``).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable

__all__ = [
    "Algorithm",
    "Qop",
    "compute_ha1",
    "compute_ha2",
    "compute_response",
    "compute_rspauth",
    "compute_userhash",
    "ha1_per_algorithm",
    "session_ha1",
]


class Algorithm(enum.Enum):
    """The IANA "HTTP Digest Hash Algorithms" names (RFC 7616 §6.1).

    The value is the token as it appears on the wire. Parsing folds case:
    the names are tokens, and RFC 2617 §3.2.1 writes them ``"MD5"`` while
    implementations have been seen to send ``md5``.
    """

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA256 = "SHA-256"
    SHA256_SESS = "SHA-256-sess"
    # FIPS 180-4 SHA-512/256 (its own initial values), not SHA-512 truncated:
    # RFC 7616 §3.9.2 prints values that only the truncation reproduces, but
    # the algorithm the RFC names — and the one interoperable code uses — is
    # the FIPS one (see tests/vectors/digest/README.md).
    SHA512_256 = "SHA-512-256"
    SHA512_256_SESS = "SHA-512-256-sess"

    @classmethod
    def parse(cls, token: str) -> Algorithm:
        """The algorithm named by ``token``; ``ValueError`` when unknown."""
        algorithm = _BY_TOKEN.get(token.strip().lower())
        if algorithm is None:
            raise ValueError(f"unknown Digest algorithm {token[:40]!r}")
        return algorithm

    @property
    def is_session(self) -> bool:
        """A ``-sess`` variant: A1 is bound to the nonce and cnonce (§3.4.2)."""
        return self.value.endswith("-sess")

    @property
    def base(self) -> Algorithm:
        """The plain variant whose HA1 a store keeps (a ``-sess`` HA1 derives from it)."""
        return _BASE[self]

    @property
    def strength(self) -> int:
        """Preference rank, higher is stronger: SHA-512-256 > SHA-256 > MD5.

        A ``-sess`` variant ranks just below its plain form: it adds nothing
        for us (the client never precomputes HA1 for a third party) and fewer
        servers implement it.
        """
        rank = {"MD5": 10, "SHA-256": 20, "SHA-512-256": 30}[self.base.value]
        return rank - 1 if self.is_session else rank

    @property
    def digest_size(self) -> int:
        """Length in hex digits of every H() output for this algorithm."""
        return 32 if self.base is Algorithm.MD5 else 64

    def hash_hex(self, data: bytes) -> str:
        """H(data) as lowercase hex (RFC 7616 §3.4: "H(data) = ... in hex")."""
        return _HASHES[_BASE[self]](data).hexdigest()


# Tables rather than string work on every hash: the server hashes 3-4 times
# per request it verifies.
_BY_TOKEN = {a.value.lower(): a for a in Algorithm}
_BASE = {a: _BY_TOKEN[a.value.lower().removesuffix("-sess")] for a in Algorithm}


def _sha512_256(data: bytes) -> hashlib._Hash:
    # ``hashlib.new("sha512_256")`` is OpenSSL's FIPS 180-4 SHA-512/256.
    return hashlib.new("sha512_256", data)


def _md5(data: bytes) -> hashlib._Hash:
    # MD5 here is the protocol's, not a security choice of ours.
    return hashlib.md5(data, usedforsecurity=False)


_HASHES: dict[Algorithm, Callable[[bytes], hashlib._Hash]] = {
    Algorithm.MD5: _md5,
    Algorithm.SHA256: hashlib.sha256,
    Algorithm.SHA512_256: _sha512_256,
}


class Qop(enum.Enum):
    """Quality of protection (RFC 7616 §3.3). SIP uses only these two (RFC 3261 §22.4)."""

    AUTH = "auth"
    AUTH_INT = "auth-int"

    @classmethod
    def parse(cls, token: str) -> Qop:
        folded = token.strip().lower()
        for qop in cls:
            if qop.value == folded:
                return qop
        raise ValueError(f"unknown qop {token[:40]!r}")


def _h(algorithm: Algorithm, *parts: str) -> str:
    return algorithm.hash_hex(":".join(parts).encode("utf-8"))


def compute_ha1(algorithm: Algorithm, username: str, realm: str, password: str) -> str:
    """H(username ":" realm ":" password) — RFC 7616 §3.4.2, the value a store keeps.

    For a ``-sess`` algorithm this is still the plain HA1 (what the store
    keeps, one per *base* algorithm); :func:`session_ha1` binds it to a nonce.
    Strings are hashed as UTF-8: SIP is UTF-8 throughout (RFC 3261 §7.3.1),
    and RFC 7616 §4 recommends it where ``charset=UTF-8`` is offered.
    """
    return _h(algorithm, username, realm, password)


def ha1_per_algorithm(username: str, realm: str, password: str) -> dict[Algorithm, str]:
    """What a user store keeps for one user: HA1 for each base algorithm.

    ``sipsec user add`` stores these and forgets the password; the server's
    ``lookup(username, realm, algorithm)`` returns one of them (the
    ``-sess`` variants derive from the plain HA1).
    """
    return {
        algorithm: compute_ha1(algorithm, username, realm, password)
        for algorithm in (Algorithm.MD5, Algorithm.SHA256, Algorithm.SHA512_256)
    }


def session_ha1(algorithm: Algorithm, ha1: str, nonce: str, cnonce: str) -> str:
    """The ``-sess`` A1: H(H(user:realm:pass) ":" nonce ":" cnonce) — RFC 7616 §3.4.2."""
    return _h(algorithm, ha1, nonce, cnonce)


def compute_ha2(algorithm: Algorithm, method: str, uri: str, qop: Qop | None, body: bytes) -> str:
    """H(A2) — RFC 7616 §3.4.3: method:uri, plus ":" H(entity-body) for auth-int."""
    if qop is Qop.AUTH_INT:
        return _h(algorithm, method, uri, algorithm.hash_hex(body))
    return _h(algorithm, method, uri)


def compute_response(
    algorithm: Algorithm,
    ha1: str,
    *,
    nonce: str,
    method: str,
    uri: str,
    qop: Qop | None,
    nc: str = "",
    cnonce: str = "",
    body: bytes = b"",
) -> str:
    """The ``response`` parameter from a stored (plain) HA1.

    With a qop: KD(HA1, nonce:nc:cnonce:qop:HA2) (RFC 7616 §3.4.1). Without
    one: KD(HA1, nonce:HA2) (RFC 2069 §2.1.2, kept by RFC 2617 §3.2.2.1 for
    compatibility; callers allow it for MD5 only).
    """
    if algorithm.is_session:
        ha1 = session_ha1(algorithm, ha1, nonce, cnonce)
    ha2 = compute_ha2(algorithm, method, uri, qop, body)
    if qop is None:
        return _h(algorithm, ha1, nonce, ha2)
    return _h(algorithm, ha1, nonce, nc, cnonce, qop.value, ha2)


def compute_rspauth(
    algorithm: Algorithm,
    ha1: str,
    *,
    nonce: str,
    uri: str,
    qop: Qop,
    nc: str,
    cnonce: str,
    body: bytes = b"",
) -> str:
    """``rspauth`` of Authentication-Info (RFC 7616 §3.5, RFC 3261 §20.6).

    The server proves it knows HA1 too: the response computation with an
    empty method, so A2 is ":" digest-uri (plus ":" H(response body) for
    auth-int). RFC 8760 §2.6 keeps it for SIP, for mutual authentication.
    """
    return compute_response(
        algorithm, ha1, nonce=nonce, method="", uri=uri, qop=qop, nc=nc, cnonce=cnonce, body=body
    )


def compute_userhash(algorithm: Algorithm, username: str, realm: str) -> str:
    """H(username ":" realm) — RFC 7616 §3.4.4, sent instead of the username."""
    return _h(algorithm, username, realm)
