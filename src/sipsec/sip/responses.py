"""Building a response from a request as a UAS or proxy does (RFC 3261 §8.2.6)."""

from __future__ import annotations

from .headers import _NOT_COPIED, Headers, _copy_view
from .ids import generate_tag
from .message import Request, Response

__all__ = ["make_response"]


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
) -> Response:
    """A response to ``request`` with the headers §8.2.6.2 says to copy.

    Via (every value, in order), From, To, Call-ID and CSeq are copied as
    written. The To header gets a tag when it has none, except on a 100
    Trying (§8.2.6.2: "except for the 100 (Trying) response, in which a tag
    MAY be present"); ``to_tag`` chooses it, otherwise a fresh one is made —
    pass the same tag for every response of one dialog. A 100 Trying copies
    the request's Timestamp (§8.2.6.1). The response has an empty body and
    ``Content-Length: 0``; add Contact, Record-Route (§12.1.1) or
    authentication headers as the situation needs.
    """
    headers = Headers()
    entries = headers._entries
    for entry in request.headers._entries:
        if entry[0] in ("via", "from", "call-id", "cseq"):
            entries.append(entry)
        elif entry[0] == "to":
            to = request.to
            if status != 100 and to is not None and to.tag is None:
                value = f"{entry[2]};tag={to_tag or generate_tag()}"
                entries.append(("to", entry[1], value, None))
            else:
                entries.append(entry)
        elif entry[0] == "timestamp" and status == 100:
            entries.append(entry)
    headers.add("Content-Length", "0")
    # The lines copied verbatim keep the views parsed from them, so the
    # transaction layer does not parse the response's Via and CSeq again.
    cache = request.headers._cache
    for key in ("via", "from", "call-id", "cseq"):
        if key in cache:
            copied = _copy_view(cache[key])
            if copied is not _NOT_COPIED:
                headers._cache[key] = copied
    return Response(status, reason, headers)
