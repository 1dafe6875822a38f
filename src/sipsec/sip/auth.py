"""WWW-Authenticate / Proxy-Authenticate and Authorization / Proxy-Authorization
header values (RFC 3261 §20.7, §20.27, §20.28, §20.44, §25.1; RFC 7616 §3.3–3.4).

This is only the codec: a scheme, ``name=value`` parameters with quoted
values unquoted, and the way back with the quoting RFC 7616 prescribes. What
the parameters mean (nonces, hashing) is the auth layer's business.
"""

from __future__ import annotations

import re
from typing import ClassVar

from .errors import SipParseError
from .fields import quote, unquote

__all__ = ["AuthChallenge", "AuthCredentials", "parse_auth_params"]

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"  # noqa: S105 (RFC 3261 token, not a password)
_SCHEME = re.compile(rf"[ \t]*([{_TOKEN_CHARS}]+)")
_PARAM = re.compile(
    rf'[ \t]*([{_TOKEN_CHARS}]+)[ \t]*=[ \t]*("[^"\\]*(?:\\.[^"\\]*)*"|[^\s,"]+)',
    re.DOTALL,
)
_TOKEN68 = re.compile(r"[ \t]*([A-Za-z0-9\-._~+/]+=*)[ \t]*")
_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")
_MAX_PARAMS = 64


def parse_auth_params(text: str, pos: int = 0) -> dict[str, str]:
    """``a=b, c="d"`` → ``{"a": "b", "c": "d"}``, names lower-cased.

    A repeated name is an error (RFC 7616 §3.3 "each parameter MUST NOT
    appear more than once"). A missing comma between two parameters is
    tolerated, because RFC 3665 §2.1 F3 prints one that way.
    """
    params: dict[str, str] = {}
    end = len(text)
    while True:
        m = _PARAM.match(text, pos)
        if m is None:
            raise SipParseError(f"bad auth parameter {text[pos : pos + 40]!r}")
        name = m.group(1).lower()
        if name in params or len(params) >= _MAX_PARAMS:
            raise SipParseError(f"auth parameter {name!r} repeated or too many")
        params[name] = unquote(m.group(2))
        pos = m.end()
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos == end:
            return params
        if text[pos] == ",":
            pos += 1
            while pos < end and text[pos] in " \t,":
                pos += 1
            if pos == end:
                return params


class _AuthValue:
    """A scheme with either parameters or a token68 (e.g. ``Basic dXNlcg==``)."""

    __slots__ = ("params", "scheme", "token68")

    #: Parameters always written as quoted strings.
    QUOTED: ClassVar[frozenset[str]] = frozenset()
    #: Parameters always written as tokens.
    BARE: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, scheme: str, params: dict[str, str] | None = None, *, token68: str | None = None
    ) -> None:
        self.scheme = scheme
        self.params: dict[str, str] = params if params is not None else {}
        self.token68 = token68

    @classmethod
    def parse(cls, text: str) -> _AuthValue:
        m = _SCHEME.match(text)
        if m is None:
            raise SipParseError(f"bad auth scheme in {text[:40]!r}")
        pos = m.end()
        rest = text[pos:].strip(" \t")
        if not rest:
            return cls(m.group(1))
        if pos < len(text) and text[pos] not in " \t":
            raise SipParseError(f"bad auth scheme in {text[:40]!r}")
        t = _TOKEN68.fullmatch(rest)
        if t is not None:
            return cls(m.group(1), token68=t.group(1))
        return cls(m.group(1), parse_auth_params(rest))

    def _copy(self) -> _AuthValue:
        # Headers.copy(): the copy's parameters are its own.
        return type(self)(self.scheme, dict(self.params), token68=self.token68)

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    def _format(self, name: str, value: str) -> str:
        # An empty or non-token value can only be a quoted string, whatever the name.
        if name in self.QUOTED or not _TOKEN.fullmatch(value):
            return f"{name}={quote(value)}"
        return f"{name}={value}"

    def __str__(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        if not self.params:
            return self.scheme
        return self.scheme + " " + ", ".join(self._format(n, v) for n, v in self.params.items())

    def __repr__(self) -> str:
        # Credentials carry a response hash: show the parameter names only.
        return f"{type(self).__name__}({self.scheme!r}, params={sorted(self.params)})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _AuthValue)
        return (self.scheme.lower(), self.params, self.token68) == (
            other.scheme.lower(),
            other.params,
            other.token68,
        )

    __hash__ = None  # type: ignore[assignment]


class AuthChallenge(_AuthValue):
    """A WWW-Authenticate / Proxy-Authenticate value (RFC 7616 §3.3)."""

    __slots__ = ()
    QUOTED = frozenset({"realm", "domain", "nonce", "opaque", "qop"})
    BARE = frozenset({"stale", "algorithm", "charset", "userhash"})

    @classmethod
    def parse(cls, text: str) -> AuthChallenge:
        value = super().parse(text)
        assert isinstance(value, AuthChallenge)
        return value


class AuthCredentials(_AuthValue):
    """An Authorization / Proxy-Authorization value (RFC 7616 §3.4)."""

    __slots__ = ()
    QUOTED = frozenset({"username", "realm", "nonce", "uri", "response", "cnonce", "opaque"})
    BARE = frozenset({"algorithm", "qop", "nc", "userhash", "username*"})

    @classmethod
    def parse(cls, text: str) -> AuthCredentials:
        value = super().parse(text)
        assert isinstance(value, AuthCredentials)
        return value
