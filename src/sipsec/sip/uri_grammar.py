"""The SIP URI grammar (RFC 3261 §19.1, §25.1) as regular-expression
building blocks, and the ``%HH`` escaping of §19.1.2. :mod:`sipsec.sip.uri`
builds the URI objects on these; the header parsers build their patterns
on them too.
"""

from __future__ import annotations

import re

__all__ = [
    "HOST_PORT_RE",
    "PARAMS_RE",
    "SIP_ADDR_SPEC_RE",
    "SIP_URI_RE",
    "USERINFO_RE",
    "escape",
    "unescape",
]

_ALNUM = "A-Za-z0-9"
_MARK = r"\-_.!~*'()"
_ESC = "%[0-9A-Fa-f]{2}"
# RFC 3261 §25.1. Each alternation is disjoint and each part ends where the
# next one's first character starts, so matching is linear (no backtracking
# trap): with an "@" the user part is mandatory and cannot swallow the host.
# The IPv6 reference is liberal on purpose: RFC 5118 §4.10 asks us to
# tolerate "2001:db8:::192.0.2.1".


def _run(chars: str, *, nonempty: bool) -> str:
    """``(?:[chars]|%HH)*`` unrolled as ``[chars]*(?:%HH[chars]*)*``: the same
    language, matched by fast single-class loops instead of an alternation
    per character, and still free of ambiguity ("%" is never in ``chars``)."""
    body = rf"[{chars}]*(?:{_ESC}[{chars}]*)*"
    return rf"(?=[{chars}]|{_ESC}){body}" if nonempty else body


_P = rf"{_ALNUM}{_MARK}\[\]/:&+$"  # paramchar (RFC 3261 §25.1)
_H = rf"{_ALNUM}{_MARK}\[\]/?:+$"  # hnv-unreserved / unreserved
_PCHARS = re.compile(_run(_P, nonempty=True))
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_USERINFO_RE = (
    rf"({_run(f'{_ALNUM}{_MARK}&=+$,;?/', nonempty=True)})"
    rf"(?::({_run(f'{_ALNUM}{_MARK}&=+$,', nonempty=False)}))?@"
)
_PNAME = _run(_P, nonempty=True)
_HNAME = _run(_H, nonempty=True)
_HVALUE = _run(_H, nonempty=False)
_HOST_PORT_RE = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9\-.]*)(?::([0-9]{1,5}))?"
_PARAMS_RE = rf"((?:;{_PNAME}(?:={_PNAME})?)*)"
_HOSTPORT_RE = _HOST_PORT_RE + _PARAMS_RE + rf"(?:\?({_HNAME}={_HVALUE}(?:&{_HNAME}={_HVALUE})*))?"
#: Building blocks for patterns elsewhere (user and password; host and port;
#: URI parameters), each with its groups, in this order.
USERINFO_RE, HOST_PORT_RE, PARAMS_RE = _USERINFO_RE, _HOST_PORT_RE, _PARAMS_RE
_SIP_WITH_USER = re.compile(_USERINFO_RE + _HOSTPORT_RE)
#: The whole of a sip/sips URI, user part optional (for patterns built on it
#: elsewhere). Still linear: the user part gives up at the first character
#: that is neither a user character nor ":" / "@".
SIP_URI_RE = rf"(sips?):(?:{_USERINFO_RE})?{_HOSTPORT_RE}"
#: The same without parameters and headers (an addr-spec outside ``<>``).
SIP_ADDR_SPEC_RE = rf"(sips?):(?:{_USERINFO_RE})?{_HOST_PORT_RE}"
_SIP_NO_USER = re.compile(_HOSTPORT_RE)
# absoluteURI after the scheme: any visible character except the ones that
# delimit a URI inside a header (RFC 3986 §2, RFC 3261 §25.1 "uric").
_OPAQUE = re.compile(r"[^\x00-\x20\x7f<>\"]+")
_TEL_NUMBER = re.compile(r"\+?[0-9A-Fa-f*#.\-()]+")
_PCT_BYTES = re.compile(rb"%([0-9A-Fa-f]{2})")

# Characters §19.1.2 lets appear unescaped in each component.
_SAFE_USER = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/"
)
_SAFE_PASSWORD = _SAFE_USER - frozenset(";?/")
_SAFE_PARAM = (_SAFE_USER - frozenset("=,;?")) | frozenset("[]:")
_SAFE_HEADER = (_SAFE_USER - frozenset("&=,;")) | frozenset("[]:")


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes as UTF-8 (invalid UTF-8 kept as surrogate escapes,
    so :func:`escape` restores the octets); a stray ``%`` stays as it is."""
    if "%" not in text:
        return text
    octets = _PCT_BYTES.sub(
        lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogateescape")
    )
    return octets.decode("utf-8", "surrogateescape")


def escape(text: str, safe: frozenset[str]) -> str:
    """``%HH``-escape every character of ``text`` outside ``safe`` (as UTF-8)."""
    if all(c in safe for c in text):
        return text
    out = []
    for c in text:
        if c in safe:
            out.append(c)
        else:
            out.extend(f"%{b:02X}" for b in c.encode("utf-8", "surrogateescape"))
    return "".join(out)
