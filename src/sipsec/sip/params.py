"""Header parameters and quoted strings (RFC 3261 §7.3.1, §25.1): the
``;name=value`` runs every typed header ends with, and the quoting rules
for their values and for display names.
"""

from __future__ import annotations

import re

from .errors import SipParseError

__all__ = ["TOKEN", "format_params", "parse_params", "quote", "unquote"]

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"  # noqa: S105 (RFC 3261 token, not a password)
TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")
_QUOTED_RE = r'"[^"\\]*(?:\\.[^"\\]*)*"'  # quoted-string, unrolled (no alternation per char)
_QUOTED = re.compile(_QUOTED_RE, re.DOTALL)
# One ";name[=value]" with the LWS §25.1 allows around SEMI and EQUAL; a value
# is a token, a host (IPv6 references included) or a quoted string.
_PARAM = re.compile(
    rf"[ \t]*;[ \t]*([{_TOKEN_CHARS}]+)"
    rf"(?:[ \t]*=[ \t]*({_QUOTED_RE}|[{_TOKEN_CHARS}\[\]:]+))?",
    re.DOTALL,
)
# Fast path: a run of ";name=value" with no LWS and no quotes, which is what
# nearly every element sends; anything else goes through _PARAM one by one.
_SIMPLE_PARAMS = re.compile(rf"(?:;[{_TOKEN_CHARS}]+(?:=[{_TOKEN_CHARS}\[\]:]+)?)+")
_SIMPLE_PARAMS_RE = rf"((?:;[{_TOKEN_CHARS}]+(?:=[{_TOKEN_CHARS}\[\]:]+)?)*)"
_IPV6_REFERENCE = re.compile(r"\[[0-9A-Fa-f:.]+\]")  # received=[2001:db8::1] (RFC 5118 §4.5)
_UNQUOTE = re.compile(r"\\(.)", re.DOTALL)


def unquote(text: str) -> str:
    """``"a \\"b\\""`` → ``a "b"``; text not in quotes is returned unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
        return _UNQUOTE.sub(r"\1", text) if "\\" in text else text
    return text


def quote(text: str) -> str:
    """A quoted-string for ``text`` (``"`` and ``\\`` escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, pos: int = 0) -> dict[str, str | None]:
    """Parse ``;name=value`` pairs from ``text[pos:]`` up to its end.

    Names are lower-cased; quoted values are unquoted; a name without a value
    maps to ``None``. Anything left over is a syntax error.
    """
    params: dict[str, str | None] = {}
    end = len(text)
    m = _SIMPLE_PARAMS.match(text, pos)
    if m is not None and m.end() == end:
        return _split_simple(m.group())
    while pos < end:
        m = _PARAM.match(text, pos)
        if m is None:
            if text[pos:].strip(" \t"):
                raise SipParseError(f"bad parameters {text[pos : pos + 40]!r}")
            break
        value = m.group(2)
        params[m.group(1).lower()] = None if value is None else unquote(value)
        pos = m.end()
    return params


def _split_simple(text: str) -> dict[str, str | None]:
    """``;a=b;c`` as _SIMPLE_PARAMS or _VIA_FAST matched it: names and
    values without LWS, LWS only before a ``;``, so dropping every SP and
    HT leaves the same pairs."""
    if " " in text or "\t" in text:
        text = text.replace(" ", "").replace("\t", "")
    params: dict[str, str | None] = {}
    for piece in text[1:].split(";"):
        name, eq, value = piece.partition("=")
        params[name.lower()] = value if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    """``{"tag": "x", "lr": None}`` → ``;tag=x;lr`` (values quoted when not tokens)."""
    parts = []
    for name, value in params.items():
        if value is None:
            parts.append(f";{name}")
        elif TOKEN.fullmatch(value) or _IPV6_REFERENCE.fullmatch(value):
            parts.append(f";{name}={value}")
        else:
            parts.append(f";{name}={quote(value)}")
    return "".join(parts)
