"""Checks above the parser: well-formed requests an element must still refuse
(RFC 3261 §8.2.1–8.2.2, §16.3; RFC 4475 §3.1.2.17–18, §3.2, §3.3).

The parser accepts these messages because RFC 4475 says a parser "must not
break" on them; what to answer is the element's choice, so the check
returns the error instead of raising it.
"""

from __future__ import annotations

from collections.abc import Collection

from .errors import SipParseError
from .ids import BRANCH_MAGIC_COOKIE
from .message import Request, Response
from .uri import SipUri, TelUri

__all__ = ["validate_request", "validate_response"]

# None of these is a list header (test_validate.py checks it): one value
# per line, so counting lines is enough.
_SINGLE = ("to", "from", "call-id", "cseq", "max-forwards")
_REQUIRED = ("via", "to", "from", "call-id", "cseq")


def _common(message: Request | Response) -> SipParseError | None:
    keys = [entry[0] for entry in message.headers._entries]
    for name in _REQUIRED:
        if name not in keys:
            return SipParseError(f"missing {name} header")  # §8.1.1, RFC 4475 §3.3.1
    for name in _SINGLE:
        if keys.count(name) > 1:
            return SipParseError(f"more than one {name} header")  # RFC 4475 §3.3.8
    try:
        message.content_type  # noqa: B018
        message.expires  # noqa: B018
        message.require  # noqa: B018
        message.proxy_require  # noqa: B018
        message.routes  # noqa: B018
        message.record_routes  # noqa: B018
    except SipParseError as error:
        return error
    top = message.top_via
    if top is not None and top.branch == BRANCH_MAGIC_COOKIE:
        # RFC 4475 §3.2.1: the magic cookie alone identifies no transaction.
        return SipParseError("Via branch is only the magic cookie")
    return None


def validate_request(
    request: Request,
    *,
    supported: Collection[str] = (),
    proxy: bool = False,
) -> SipParseError | None:
    """The first reason to refuse ``request``, as an error with its status,
    or None. ``supported`` lists the option tags this element implements;
    ``proxy`` checks Proxy-Require instead of Require (§16.3 step 5)."""
    error = _common(request)
    if error is not None:
        return error
    if not isinstance(request.uri, SipUri | TelUri):
        return SipParseError(f"URI scheme {request.uri.scheme!r} not supported", 416)
    cseq = request.cseq
    if cseq is not None and cseq.method != request.method:
        return SipParseError("CSeq method does not match the request method")
    if request.method not in ("ACK", "CANCEL"):  # §8.2.2.3
        wanted = request.proxy_require if proxy else request.require
        missing = tuple(tag for tag in wanted if tag not in supported)
        if missing:
            return SipParseError("unsupported extension", 420, unsupported=missing)
    return None


def validate_response(response: Response, *, uac: bool = False) -> SipParseError | None:
    """Why ``response`` should be discarded, or None. With ``uac`` set, a
    response carrying more than one Via is refused (§8.1.3.3; RFC 4475
    §3.3.10, where the second Via is a broadcast address)."""
    error = _common(response)
    if error is not None:
        return error
    if uac and len(response.vias) > 1:
        return SipParseError("response to a UAC with more than one Via")
    return None
