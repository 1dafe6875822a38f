"""The credential store (issue 7 "Users"): Digest HA1 values, never passwords.

A registrar or proxy verifying Digest needs only HA1 = H(username ":" realm ":"
password) (RFC 7616 §3.4.2; RFC 2617 §3.2.2.2 for MD5), one per algorithm it
offers: MD5, SHA-256 and SHA-512-256 (RFC 8760 §2). Storing HA1 instead of the
password means a stolen store does not reveal passwords, although HA1 is
still password-equivalent *for that realm*, so it is treated as a secret: it
never appears in a repr, a log line or the ``sipsec user list`` output.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sipsec.auth import Algorithm, compute_ha1
from sipsec.errors import LocalProtocolError
from sipsec.proxy.store import check_text

__all__ = [
    "ALGORITHMS",
    "Credential",
    "CredentialStore",
    "InvalidCredential",
    "MemoryCredentialStore",
    "check_key",
    "ha1_lookup",
    "make_credential",
    "sort_credentials",
]

# The base algorithms a store keeps an HA1 for, strongest first (RFC 8760 §2).
# A "-sess" variant derives its HA1 from the base one at verification time.
ALGORITHMS: tuple[str, ...] = ("SHA-512-256", "SHA-256", "MD5")
_HEX_LENGTH = {"MD5": 32, "SHA-256": 64, "SHA-512-256": 64}
# Digest usernames and realms are opaque quoted strings; bound them like any stored text.
_MAX_NAME = 256


class InvalidCredential(LocalProtocolError):
    """A username, realm, password or HA1 the store refuses (the operator's input)."""


def _hex(value: object, algorithm: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) != _HEX_LENGTH[algorithm]
        or any(ch not in "0123456789abcdef" for ch in value)
    ):
        # Say which algorithm, never the value: it is a secret.
        raise InvalidCredential(
            f"HA1 for {algorithm} must be {_HEX_LENGTH[algorithm]} lowercase hex"
        )
    return value


@dataclass(frozen=True, slots=True)
class Credential:
    """One user's HA1 values in one realm, keyed by algorithm token (``"SHA-256"``)."""

    user: str
    realm: str
    # Password-equivalent (RFC 7616 §5.4): out of repr, hash and the generated
    # ==, which would compare it with an early exit; __eq__ below is constant-time.
    ha1: Mapping[str, str] = field(repr=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        check_text(self.user, "username", InvalidCredential, limit=_MAX_NAME)
        check_text(self.realm, "realm", InvalidCredential, limit=_MAX_NAME)
        if '"' in self.user or '"' in self.realm or "\\" in self.user or "\\" in self.realm:
            # They travel as quoted-strings (RFC 7616 §3.3); keep them unambiguous.
            raise InvalidCredential("username and realm must not contain '\"' or '\\'")
        if not isinstance(self.ha1, Mapping) or not self.ha1:
            raise InvalidCredential("a credential needs at least one HA1")
        for algorithm, value in self.ha1.items():
            if algorithm not in _HEX_LENGTH:
                raise InvalidCredential(f"unknown algorithm {str(algorithm)[:20]!r}")
            _hex(value, algorithm)
        # A private copy, so a caller mutating its dict cannot change a stored value.
        object.__setattr__(self, "ha1", dict(self.ha1))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credential):
            return NotImplemented
        # Every value is compared, whichever differ, so the time says nothing
        # about where two HA1s part (hmac.compare_digest per value).
        same = self.user == other.user and self.realm == other.realm
        same &= self.ha1.keys() == other.ha1.keys()
        for algorithm, value in self.ha1.items():
            theirs = other.ha1.get(algorithm, "")
            same &= hmac.compare_digest(value.encode(), theirs.encode())
        return same

    def __hash__(self) -> int:  # equal credentials share user and realm; HA1s stay out
        return hash((self.user, self.realm))

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms this user can authenticate with, strongest first."""
        return tuple(a for a in ALGORITHMS if a in self.ha1)

    def ha1_for(self, algorithm: str) -> str | None:
        """The stored HA1 for ``algorithm`` (case-insensitive; ``-sess`` uses its base)."""
        token = algorithm.strip().lower().removesuffix("-sess")
        for name in ALGORITHMS:
            if name.lower() == token:
                return self.ha1.get(name)
        return None


def make_credential(
    user: str, realm: str, password: str, algorithms: Iterable[str] = ALGORITHMS
) -> Credential:
    """HA1 for each algorithm from a password that is then forgotten (RFC 7616 §3.4.2)."""
    if not isinstance(password, str) or not password:
        raise InvalidCredential("the password is empty")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in password):
        raise InvalidCredential("the password is not valid Unicode")
    chosen = tuple(dict.fromkeys(algorithms))
    unknown = [a for a in chosen if a not in _HEX_LENGTH]
    if unknown or not chosen:
        raise InvalidCredential(f"algorithms must be some of {', '.join(ALGORITHMS)}")
    # Check the names first, so a bad username is reported as such, not as a hash error.
    check_text(user, "username", InvalidCredential, limit=_MAX_NAME)
    check_text(realm, "realm", InvalidCredential, limit=_MAX_NAME)
    # sipsec.auth owns the Digest arithmetic; one implementation, one set of vectors.
    ha1 = {a: compute_ha1(Algorithm.parse(a), user, realm, password) for a in chosen}
    return Credential(user, realm, ha1)


@runtime_checkable
class CredentialStore(Protocol):
    """Where HA1 values live. Every method is atomic, across processes too."""

    def put(self, credential: Credential, *, overwrite: bool = True) -> bool:
        """Store ``credential`` (all its algorithms replace the old ones).

        With ``overwrite=False`` an existing user is left alone and the result
        is ``False``; otherwise ``True``.
        """
        ...

    def get(self, user: str, realm: str) -> Credential | None:
        """The user's HA1 values in ``realm``; ``None`` if unknown."""
        ...

    def remove(self, user: str, realm: str) -> bool:
        """Forget the user; ``False`` if there was nothing to forget."""
        ...

    def users(self, realm: str | None = None) -> list[Credential]:
        """Every credential (of one realm, if given), sorted by realm then user."""
        ...

    def close(self) -> None:
        """Release the backend connection."""
        ...


def ha1_lookup(store: CredentialStore) -> Callable[[str, str, Algorithm], str | None]:
    """``store`` as the ``lookup(username, realm, algorithm)`` that
    :class:`sipsec.auth.server` verification takes.

    A username that no store could hold (empty, too long, control characters:
    it comes straight off the wire) is simply unknown, so the Digest server
    gives it the same answer as any unknown user (no enumeration). A backend
    failure still raises :class:`~sipsec.proxy.store.StoreError` (a 500, not a 401).
    """

    def lookup(username: str, realm: str, algorithm: Algorithm) -> str | None:
        try:
            credential = store.get(username, realm)
        except InvalidCredential:
            return None
        return None if credential is None else credential.ha1_for(algorithm.base.value)

    return lookup


def check_key(user: object, realm: object) -> tuple[str, str]:
    """Validate a (user, realm) lookup key the way :class:`Credential` does."""
    return (
        check_text(user, "username", InvalidCredential, limit=_MAX_NAME),
        check_text(realm, "realm", InvalidCredential, limit=_MAX_NAME),
    )


def sort_credentials(credentials: Iterable[Credential]) -> list[Credential]:
    """The one order every backend lists users in: by realm, then user."""
    return sorted(credentials, key=lambda c: (c.realm, c.user))


class MemoryCredentialStore:
    """:class:`CredentialStore` in a dict (tests, one-shot tools)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[tuple[str, str], Credential] = {}

    def put(self, credential: Credential, *, overwrite: bool = True) -> bool:
        if not isinstance(credential, Credential):
            raise InvalidCredential("put() takes a Credential")
        key = (credential.user, credential.realm)
        with self._lock:
            if not overwrite and key in self._users:
                return False
            self._users[key] = credential
            return True

    def get(self, user: str, realm: str) -> Credential | None:
        with self._lock:
            return self._users.get(check_key(user, realm))

    def remove(self, user: str, realm: str) -> bool:
        with self._lock:
            return self._users.pop(check_key(user, realm), None) is not None

    def users(self, realm: str | None = None) -> list[Credential]:
        if realm is not None:
            check_text(realm, "realm", InvalidCredential, limit=_MAX_NAME)
        with self._lock:
            chosen = [c for c in self._users.values() if realm is None or c.realm == realm]
        return sort_credentials(chosen)

    def close(self) -> None:
        with self._lock:
            self._users.clear()

    def __repr__(self) -> str:
        return f"MemoryCredentialStore({len(self._users)} users)"
