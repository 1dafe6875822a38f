"""The usual shapes of the eagerly parsed header values, for the fast path
(RFC 3261 §20.10, §20.20, §20.39, §20.42, §25.1): patterns, and the objects
built from their groups.

Each pattern is a subset of what the full parser accepts (:mod:`.uri`,
:mod:`.fields`, :mod:`.via`): no ``%HH`` escapes, no password, no URI
headers, no quoted-pairs, no LWS inside. Where one matches, the full
parser's pattern matches with the same groups (each part stops at the same
character), so the objects built here equal the ones it builds;
``tests/sip/test_fastvalues.py`` checks them value by value and
``tests/sip/test_fastpath.py`` message by message. A value of any other
shape raises :class:`Unusual`, and the message goes to the full parser.

How the patterns are written matters for speed: sre runs ``(?:X)?`` and
``(?:X)*`` through its general repeat machinery (a context pushed per
try), but ``(?:X|)`` through a cheap branch and a repeated character class
through a tight loop. The patterns below use those forms; they accept the
same language, for about a third less time per name-addr.
"""

from __future__ import annotations

import re

from .fields import NameAddress
from .headers import split_list
from .message import Response
from .params import _split_simple
from .uri import SipUri
from .via import Via

__all__ = [
    "CALL_ID",
    "MAX_CSEQ",
    "MAX_FORWARDS",
    "NAME_ADDR",
    "NUMBERS",
    "REQUEST_LINE",
    "TOKEN",
    "TRANSPORTS",
    "VIA",
    "Unusual",
    "contacts",
    "name_address",
    "status_line",
    "via",
    "vias",
]

_T = r"A-Za-z0-9\-.!%*_+`'~"  # RFC 3261 token characters
TOKEN = re.compile(f"[{_T}]+")
_USER = r"[A-Za-z0-9\-_.!~*'()&=+$,;?/]+"
_HOST = r"[A-Za-z0-9][A-Za-z0-9\-.]*"
_PCHAR = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$]+"
_PARAM = rf"{_PCHAR}(?:={_PCHAR}|)"
# URI parameters: none, one (";lr", ";transport=tcp": alternatives of
# their own), or several.
_URI_PARAMS = rf"(|;{_PCHAR}={_PCHAR}|;{_PCHAR}|(?:;{_PARAM})+)"
# The scheme's group is its "s": a one-letter string costs no allocation.
_URI = rf"sip(?:(s)|):(?:({_USER})@|)({_HOST})(?::([0-9]{{1,5}})|){_URI_PARAMS}"
_GENERIC = rf"[{_T}]+(?:=[{_T}\[\]:]+|)"  # generic-param (§25.1) without quotes
#: name-addr (§20.10): a display name that is a quoted string, or tokens
#: that start and end with a token character at most one SP from the "<"
#: (inner runs of SP are kept, as the full parser keeps them); then the
#: URI, then ";tag=…" alone or other parameters.
NAME_ADDR = re.compile(
    rf'(?:"([^"\\\r\n]*)" ?|([{_T}](?:[{_T} ]*[{_T}]|)) ?|)<({_URI})>'
    rf"(?:;tag=([{_T}]+)|(;{_GENERIC}(?:;{_GENERIC})*)|)"
).fullmatch
# A port in 0-65535 (leading zeros, rare, are left to the full parser): the
# request line needs no check of its groups then.
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
#: Request-Line (§7.1) with a sip: Request-URI; groups: method, URI text,
#: user, host, port, URI parameters (see Request.uri).
REQUEST_LINE = re.compile(
    rf"([{_T}]+) (sip:(?:({_USER})@|)({_HOST})(?::{_PORT}|){_URI_PARAMS}) SIP/2\.0"
).fullmatch
#: Via (§20.42) with the version fixed: fields._VIA_FAST's language, LWS
#: before ";" allowed (a folded Via continues with " ;received=").
VIA = re.compile(
    rf"SIP/2\.0/([{_T}]+) "
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.]|))"
    # ";branch=…" with the ";received=…" a proxy adds (§18.2.1), or any
    # other run of parameters.
    rf"(?::([0-9]{{1,5}})|)(?:;branch=([{_T}]+)(?:[ \t]*;received=([{_T}\[\]:]+)|)"
    rf"|((?:[ \t]*;{_GENERIC})+)|)"
).fullmatch
_WORD = r"A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}"
CALL_ID = re.compile(rf"[{_WORD}]+(?:@[{_WORD}]+|)").fullmatch  # §25.1 callid
MAX_CSEQ = 2**32 - 1  # §20.16
#: Max-Forwards as written in the usual form (no leading zeros): §20.22, 0-255.
MAX_FORWARDS = {str(n): n for n in range(256)}
#: Decimal text → value for the numbers most messages carry: CSeq numbers
#: and body lengths below 4096 and the SIP ports (5060, 5061: §19.1.2).
#: A look-up costs a fifth of int() and its checks; only the canonical
#: form is here (no leading zeros), anything else takes int() as before.
NUMBERS = {str(n): n for n in (*range(4096), 5060, 5061)}
#: Transports as written → as Via.transport keeps them (upper case).
TRANSPORTS = {t: t for t in ("UDP", "TCP", "TLS", "SCTP", "WS", "WSS")}
TRANSPORTS.update({t.lower(): t for t in list(TRANSPORTS)})
_new = object.__new__


class Unusual(Exception):
    """A value (or message) of a shape the fast path leaves to the full parser."""


def name_address(text: str) -> NameAddress:
    """What :func:`sipsec.sip.parse_name_address` gives for ``text``."""
    m = NAME_ADDR(text)
    if m is None:
        raise Unusual
    quoted_name, token_name, uri_text, s, user, host, port, ptext, tag, hparams = m.groups()
    uri: SipUri = _new(SipUri)  # what uri._build_sip builds (nothing to unescape)
    uri.scheme = "sip" if s is None else "sips"
    uri.user = user
    uri.password = None
    uri.host = host
    if port is None:
        uri.port = None
    else:
        uri.port = number = int(port)
        if number > 65535:
            raise Unusual
    uri._ptext = ptext
    uri._params = None  # split from _ptext when first read ("" → {})
    uri._headers = None  # {} when first read
    uri._raw = uri_text
    na: NameAddress = _new(NameAddress)
    na.uri = uri
    na.display_name = token_name if quoted_name is None else quoted_name
    if tag is not None:
        na.params = {"tag": tag}
    elif hparams is None:
        na.params = {}
    else:
        na.params = _split_simple(hparams)
    na._raw = text
    return na


def via(text: str) -> Via:
    """What :func:`sipsec.sip.parse_via` gives for one value ``text``."""
    m = VIA(text)
    if m is None:
        raise Unusual
    transport, host, port, branch, received, ptext = m.groups()
    value: Via = _new(Via)
    value.protocol = "SIP"
    value.version = "2.0"
    value.transport = TRANSPORTS.get(transport) or transport.upper()
    value.host = host
    if port is None:
        value.port = None
    else:
        value.port = number = int(port)
        if number > 65535:
            raise Unusual
    if branch is not None:
        if received is None:
            value.params = {"branch": branch}
        else:
            value.params = {"branch": branch, "received": received}
    elif ptext is None:
        value.params = {}
    else:
        value.params = _split_simple(ptext)
    value._raw = text
    return value


def vias(line: str) -> list[Via]:
    """A Via line that is not one value (:data:`VIA` refuses any comma):
    several, separated by commas. LWS around the line is refused, as every
    pattern here refuses it (fastpath.py strips a value only then)."""
    if "," not in line or line.strip(" \t") != line:
        raise Unusual
    # A Via here has no quotes, so every comma separates values.
    return [via(piece.strip(" \t")) for piece in line.split(",")]


def contacts(line: str) -> list[NameAddress]:
    """A Contact line: one name-addr, or several separated by commas; LWS
    around the line is refused, as in :func:`vias`."""
    if "," not in line:
        return [name_address(line)]
    if line.strip(" \t") != line:
        raise Unusual
    return [name_address(item) for item in split_list(line)]


def status_line(line: str) -> Response:
    """The response a Status-Line (§7.2) begins, headers not yet set."""
    code = line[8:11]
    if (
        not line.startswith("SIP/2.0 ")
        or "\r" in line  # a bare CR or LF (fastpath.py)
        or "\n" in line
        or len(code) != 3
        or not (code.isdigit() and code.isascii())
        or code[0] == "0"
        or line[11:12] not in ("", " ")
    ):
        raise Unusual
    response: Response = _new(Response)
    response._status = int(code)
    response._reason = line[12:]
    return response
