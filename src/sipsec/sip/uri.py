"""SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966; RFC 5118 §4).

Parsed URIs keep the text they came from, so ``str(uri)`` of a parsed URI is
exactly its wire form; URIs built in code (or by :meth:`SipUri.replace`) are
serialized with the escaping §19.1.2 asks for. Treat them as immutable:
they hash, and equality follows §19.1.4.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .errors import SipParseError
from .uri_grammar import (
    _OPAQUE,
    _PCHARS,
    _SAFE_HEADER,
    _SAFE_PARAM,
    _SAFE_PASSWORD,
    _SAFE_USER,
    _SCHEME,
    _SIP_NO_USER,
    _SIP_WITH_USER,
    _TEL_NUMBER,
    escape,
    unescape,
)

__all__ = ["AbsoluteUri", "SipUri", "TelUri", "Uri", "escape", "parse_uri", "unescape"]

# §19.1.4: these parameters, present in one URI, must be present and equal in the other.
_MUST_MATCH = ("user", "ttl", "method", "maddr", "transport")


def _host_key(host: str) -> str:
    """Hosts compare case-insensitively; IPv6 references by address value."""
    if host.startswith("["):
        try:
            return "[" + ipaddress.IPv6Address(host[1:-1]).compressed + "]"
        except ValueError:
            return host.lower()
    return host.lower()


class SipUri:
    """A ``sip:`` or ``sips:`` URI.

    ``user``, ``password``, parameter values and header values are unescaped;
    parameter names are lower-cased (they compare case-insensitively) and a
    parameter without a value maps to ``None``. ``host`` is as written, IPv6
    references keep their brackets (``[2001:db8::1]``).
    """

    __slots__ = (
        "_headers",
        "_params",
        "_ptext",
        "_raw",
        "host",
        "password",
        "port",
        "scheme",
        "user",
    )

    def __init__(
        self,
        host: str,
        *,
        scheme: str = "sip",
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> None:
        self.scheme = scheme.lower()
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self._params: dict[str, str | None] | None = params if params is not None else {}
        self._ptext = ""
        self._headers: dict[str, str] | None = headers
        self._raw = raw

    @property
    def params(self) -> dict[str, str | None]:
        """URI parameters, split on first use (most URIs are only compared or written back)."""
        params = self._params
        if params is None:
            params = self._params = _split_params(self._ptext)
        return params

    @property
    def headers(self) -> dict[str, str]:
        """URI headers (``?a=b&…``, §19.1.1), unescaped; made on first use."""
        headers = self._headers
        if headers is None:
            headers = self._headers = {}
        return headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = value

    # -- convenience views of common parameters -------------------------------------
    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        """Loose routing (RFC 3261 §19.1.1, §16.12)."""
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def user_param(self) -> str | None:
        return self.params.get("user")

    @property
    def method(self) -> str | None:
        return self.params.get("method")

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def host_is_ipv6(self) -> bool:
        return self.host.startswith("[")

    @property
    def host_port(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def raw(self) -> str:
        return str(self)

    def replace(self, **changes: Any) -> SipUri:
        """A copy with some fields changed (``params=``, ``port=`` …); re-serialized."""
        fields: dict[str, Any] = {
            "scheme": self.scheme,
            "user": self.user,
            "password": self.password,
            "port": self.port,
            "params": dict(self.params),
            "headers": dict(self.headers),
        }
        host = changes.pop("host", self.host)
        fields.update(changes)
        return SipUri(host, **fields)

    def __str__(self) -> str:
        if self._raw is not None:
            return self._raw
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(escape(self.user, _SAFE_USER))
            if self.password is not None:
                parts += [":", escape(self.password, _SAFE_PASSWORD)]
            parts.append("@")
        parts.append(self.host_port)
        for name, value in self.params.items():
            parts += [";", escape(name, _SAFE_PARAM)]
            if value is not None:
                parts += ["=", escape(value, _SAFE_PARAM)]
        sep = "?"
        for name, value in (self._headers or {}).items():
            parts += [sep, escape(name, _SAFE_HEADER), "=", escape(value, _SAFE_HEADER)]
            sep = "&"
        self._raw = "".join(parts)
        return self._raw

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def _key(self) -> tuple[object, ...]:
        must = tuple(
            (n, (self.params.get(n) or "").lower() if n in self.params else None)
            for n in _MUST_MATCH
        )
        return (
            self.scheme,
            self.user,
            self.password,
            _host_key(self.host),
            self.port,
            must,
            frozenset(self._headers.items()) if self._headers else frozenset(),
        )

    def __eq__(self, other: object) -> bool:
        """RFC 3261 §19.1.4: user info case-sensitive, host case-insensitive,
        user/ttl/method/maddr/transport must agree, other parameters only when
        both carry them, headers all must match."""
        if not isinstance(other, SipUri):
            return NotImplemented
        if self._key() != other._key():
            return False
        for name, value in self.params.items():
            if name in other.params and name not in _MUST_MATCH:
                theirs = other.params[name]
                if (value or "").lower() != (theirs or "").lower():
                    return False
        return True

    def __hash__(self) -> int:
        return hash(self._key())


class TelUri:
    """A ``tel:`` URI (RFC 3966): the number and its parameters."""

    __slots__ = ("_raw", "number", "params")

    def __init__(
        self, number: str, params: dict[str, str | None] | None = None, *, raw: str | None = None
    ) -> None:
        self.number = number
        self.params: dict[str, str | None] = params if params is not None else {}
        self._raw = raw

    scheme = "tel"

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def raw(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self._raw is None:
            params = "".join(f";{n}" if v is None else f";{n}={v}" for n, v in self.params.items())
            self._raw = f"tel:{self.number}{params}"
        return self._raw

    def __repr__(self) -> str:
        return f"TelUri({str(self)!r})"

    def _key(self) -> tuple[object, ...]:
        # RFC 3966 §4: visual separators are not significant; parameters in any order.
        digits = "".join(c for c in self.number if c not in "-.()").lower()
        params = frozenset((n, (v or "").lower()) for n, v in self.params.items())
        return (digits, params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TelUri):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class AbsoluteUri:
    """Any other scheme (RFC 3261 §19.1, "absoluteURI"): kept opaque.

    RFC 4475 §3.3.2 and §3.3.3: such a Request-URI is well formed; the element
    answers 416 above the parser (see :func:`sipsec.sip.validate_request`).
    """

    __slots__ = ("opaque", "scheme")

    def __init__(self, scheme: str, opaque: str) -> None:
        self.scheme = scheme
        self.opaque = opaque

    @property
    def raw(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"

    def __repr__(self) -> str:
        return f"AbsoluteUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteUri):
            return NotImplemented
        return self.scheme.lower() == other.scheme.lower() and self.opaque == other.opaque

    def __hash__(self) -> int:
        return hash((self.scheme.lower(), self.opaque))


Uri = SipUri | TelUri | AbsoluteUri


def _bad(text: str, why: str) -> SipParseError:
    return SipParseError(f"bad URI {text[:80]!r}: {why}")


def _split_params(text: str) -> dict[str, str | None]:
    """``;a=b;lr`` (already checked by the URI pattern) → ``{"a": "b", "lr": None}``."""
    params: dict[str, str | None] = {}
    for piece in text.split(";")[1:]:
        name, eq, value = piece.partition("=")
        params[unescape(name).lower()] = unescape(value) if eq else None
    return params


def _params(text: str, pieces: list[str], check: re.Pattern[str]) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for piece in pieces:
        name, eq, value = piece.partition("=")
        if not check.fullmatch(name) or (eq and not check.fullmatch(value)):
            raise _bad(text, f"bad parameter {piece[:40]!r}")
        params[unescape(name).lower()] = unescape(value) if eq else None
    return params


def _parse_sip(text: str, scheme: str, rest: str) -> SipUri:
    if "@" in rest:
        m = _SIP_WITH_USER.fullmatch(rest)
        if m is None:
            raise _bad(text, "not a SIP URI")
        user, password, host, port, ptext, htext = m.groups()
    else:
        m = _SIP_NO_USER.fullmatch(rest)
        if m is None:
            raise _bad(text, "not a SIP URI")
        user = password = None
        host, port, ptext, htext = m.groups()
    return _build_sip(text, scheme, user, password, host, port, ptext, htext)


def _build_sip(  # noqa: PLR0917 (the pattern groups, in order)
    text: str,
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port: str | None,
    ptext: str,
    htext: str | None,
) -> SipUri:
    """A SipUri from the pieces a URI pattern matched."""
    uri = SipUri.__new__(SipUri)
    uri.scheme = scheme
    uri.user = user if user is None or "%" not in user else unescape(user)
    uri.password = password if password is None or "%" not in password else unescape(password)
    uri.host = host
    if port is not None:
        number = int(port)
        if number > 65535:
            raise _bad(text, "bad port")
        uri.port = number
    else:
        uri.port = None
    uri._ptext = ptext
    uri._params = None if ptext else {}
    if htext:
        headers: dict[str, str] = {}
        for piece in htext.split("&"):
            name, _, value = piece.partition("=")
            headers[unescape(name)] = unescape(value)
        uri._headers = headers
    else:
        uri._headers = None  # {} when first read: URIs share no dict
    uri._raw = text
    return uri


def _parse_tel(text: str, rest: str) -> TelUri:
    pieces = rest.split(";")
    if not _TEL_NUMBER.fullmatch(pieces[0]):
        raise _bad(text, "bad telephone number")
    return TelUri(pieces[0], _params(text, pieces[1:], _PCHARS), raw=text)


def parse_uri(text: str) -> Uri:
    """Parse a URI as it appears in a Request-URI or inside ``<>``.

    Raises :class:`SipParseError` (status 400) when ``text`` is not a URI. A
    scheme other than sip, sips and tel gives an :class:`AbsoluteUri`.
    """
    if text.startswith("sip:"):  # the common case, without the checks below
        return _parse_sip(text, "sip", text[4:])
    scheme, colon, rest = text.partition(":")
    if not colon or not rest or not _SCHEME.fullmatch(scheme):
        raise _bad(text, "no scheme")
    lower = scheme.lower()
    if lower in {"sip", "sips"}:
        return _parse_sip(text, lower, rest)
    if lower == "tel":
        return _parse_tel(text, rest)
    if not _OPAQUE.fullmatch(rest):
        raise _bad(text, "bad character")
    return AbsoluteUri(scheme, rest)
