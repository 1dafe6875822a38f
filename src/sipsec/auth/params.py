"""Digest header *parameters*, checked and typed.

The SIP message layer (:class:`sipsec.sip.AuthChallenge`,
:class:`sipsec.sip.AuthCredentials`) parses ``WWW-Authenticate`` /
``Authorization`` header values into a scheme and a dict of unquoted
parameters; this module turns such a dict into a :class:`Challenge` or
:class:`Credentials`, or raises :class:`DigestParamError` — never anything
else, whatever the dict holds.

Parameter names are case-insensitive (RFC 7235 §2.1: an auth-param name is
matched case-insensitively); values are taken as given, except the tokens
``algorithm``, ``qop``, ``stale`` and ``userhash``, which fold case.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sipsec.errors import RemoteProtocolError

from .digest import Algorithm, Qop

__all__ = [
    "AuthHeader",
    "Challenge",
    "Credentials",
    "DigestParamError",
    "parse_challenge",
    "parse_credentials",
]

# Bounds on what we accept from a peer: far above anything real (a nonce of
# a few dozen characters, a SIP URI of a few hundred), far below anything
# that costs us memory or hashing time.
_MAX_VALUE = 1024
_NC = re.compile(r"[0-9a-fA-F]{8}")
_HEX = re.compile(r"[0-9a-fA-F]+")


class DigestParamError(RemoteProtocolError):
    """A Digest header's parameters are missing, repeated or malformed (answer 400)."""


class AuthHeader(Protocol):
    """What :class:`sipsec.sip.AuthChallenge` / ``AuthCredentials`` look like to us.

    Structural, so that tests and other callers may pass any object with a
    scheme and a parameter mapping.
    """

    @property
    def scheme(self) -> str: ...

    @property
    def params(self) -> Mapping[str, str]: ...


def _fold(params: Mapping[str, str]) -> dict[str, str]:
    """Lower-case the names; a name given twice in different case is an error."""
    folded: dict[str, str] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise DigestParamError("Digest parameters must be strings")
        key = name.lower()
        if key in folded:
            raise DigestParamError(f"Digest parameter {key!r} repeated")
        if len(value) > _MAX_VALUE:
            raise DigestParamError(f"Digest parameter {key!r} too long")
        folded[key] = value
    return folded


def _require(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise DigestParamError(f"Digest parameter {name!r} missing")
    return value


def _algorithm(params: Mapping[str, str]) -> Algorithm:
    # Absent means MD5 (RFC 7616 §3.3, RFC 2617 §3.2.1).
    try:
        return Algorithm.parse(params.get("algorithm", "MD5"))
    except ValueError as exc:
        raise DigestParamError(str(exc)) from None


def _flag(params: Mapping[str, str], name: str) -> bool:
    # "true"/"false" (RFC 7616 §3.3), case folded: RFC 3665 prints "FALSE".
    value = params.get(name, "false").strip().lower()
    if value not in {"true", "false"}:
        raise DigestParamError(f"Digest parameter {name!r} is neither true nor false")
    return value == "true"


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` / ``Proxy-Authenticate: Digest`` — RFC 7616 §3.3."""

    realm: str
    nonce: str
    algorithm: Algorithm
    qops: frozenset[Qop]  # empty: an RFC 2069 challenge with no qop
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False


def parse_challenge(params: Mapping[str, str]) -> Challenge:
    """A :class:`Challenge` from unquoted parameters, or :class:`DigestParamError`.

    Unknown qop values in the list are ignored (RFC 7616 §3.3: "Unrecognized
    options MUST be ignored"); a qop list of only unknown values is an error.
    """
    p = _fold(params)
    qops: set[Qop] = set()
    if "qop" in p:
        for token in p["qop"].split(","):
            try:
                qops.add(Qop.parse(token))
            except ValueError:
                continue
        if not qops:
            raise DigestParamError("Digest challenge offers no known qop")
    return Challenge(
        realm=_require(p, "realm"),
        nonce=_require(p, "nonce"),
        algorithm=_algorithm(p),
        qops=frozenset(qops),
        opaque=p.get("opaque"),
        stale=_flag(p, "stale"),
        userhash=_flag(p, "userhash"),
    )


@dataclass(frozen=True)
class Credentials:
    """One ``Authorization`` / ``Proxy-Authorization: Digest`` — RFC 7616 §3.4."""

    username: str  # the userhash itself when ``userhash`` is true
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: Algorithm
    qop: Qop | None
    nc: str | None
    cnonce: str | None
    opaque: str | None
    userhash: bool

    @property
    def nonce_count(self) -> int:
        """``nc`` as a number (0 for an RFC 2069 response, which has none)."""
        return int(self.nc, 16) if self.nc is not None else 0


def _username(p: Mapping[str, str]) -> str:
    """``username``, or ``username*`` in RFC 8187 (formerly RFC 5987) form — RFC 7616 §3.4."""
    if "username" in p and "username*" in p:
        raise DigestParamError("both 'username' and 'username*' given")
    if "username*" not in p:
        return _require(p, "username")
    charset, sep1, rest = p["username*"].partition("'")
    _language, sep2, encoded = rest.partition("'")
    if not (sep1 and sep2) or charset.lower() != "utf-8":
        raise DigestParamError("'username*' is not in UTF-8''... form (RFC 8187)")
    try:
        return urllib.parse.unquote(encoded, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise DigestParamError("'username*' is not valid UTF-8") from None


def parse_credentials(params: Mapping[str, str]) -> Credentials:
    """A :class:`Credentials` from unquoted parameters, or :class:`DigestParamError`.

    Checks the grammar only (presence, shape, lengths); whether the values
    are *right* is :mod:`sipsec.auth.server`'s business.
    """
    p = _fold(params)
    algorithm = _algorithm(p)
    response = _require(p, "response")
    if len(response) != algorithm.digest_size or not _HEX.fullmatch(response):
        raise DigestParamError(f"'response' is not {algorithm.digest_size} hex digits")
    qop: Qop | None = None
    nc = cnonce = None
    if "qop" in p:
        try:
            qop = Qop.parse(p["qop"])
        except ValueError as exc:
            raise DigestParamError(str(exc)) from None
        # RFC 7616 §3.4: with a qop, cnonce and nc MUST be present.
        nc, cnonce = _require(p, "nc"), _require(p, "cnonce")
        if not _NC.fullmatch(nc):
            raise DigestParamError("'nc' is not 8 hex digits")
    elif "nc" in p or "cnonce" in p:
        raise DigestParamError("'nc' or 'cnonce' given without 'qop'")
    if algorithm.is_session and cnonce is None:
        # A -sess A1 hashes the cnonce (§3.4.2): without qop there is none.
        raise DigestParamError(f"{algorithm.value} needs qop and cnonce")
    userhash = _flag(p, "userhash")
    username = _username(p)
    if userhash and "username*" in p:
        raise DigestParamError("'username*' cannot carry a userhash")
    return Credentials(
        username=username,
        realm=_require(p, "realm"),
        nonce=_require(p, "nonce"),
        uri=_require(p, "uri"),
        response=response.lower(),
        algorithm=algorithm,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
        opaque=p.get("opaque"),
        userhash=userhash,
    )
