"""Which transaction a message belongs to, and the two requests a
transaction layer builds itself: the ACK for a non-2xx final response and
the CANCEL of an INVITE.

- §17.1.3: a response matches a client transaction by the branch of its
  top Via and its CSeq method.
- §17.2.3: a request matches a server transaction by its top Via's branch
  (magic cookie present) and sent-by, and its method — ACK counting as
  INVITE; without the magic cookie, by the RFC 2543 rule: Request-URI, To
  tag, From tag, Call-ID, CSeq number and method, and the top Via.
- §9.2: a CANCEL matches the INVITE whose key it shares, method aside.
- §17.1.1.3 (ACK) and §9.1 (CANCEL) say what to copy.
"""

from __future__ import annotations

from collections.abc import Hashable

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import BRANCH_MAGIC_COOKIE, Headers, Request, Response, SipParseError, Via

__all__ = ["build_ack", "build_cancel", "client_key", "server_key"]

ClientKey = tuple[str, str]
ServerKey = tuple[Hashable, ...]


def _via_key(via: Via) -> tuple[str, str, int | None]:
    return sent_by_key(via.transport, via.host, via.port)


def sent_by_key(transport: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    """A Via's transport and sent-by as §17.2.3 compares them."""
    # Hosts compare case-insensitively (§19.1.4 applied to sent-by).
    return (transport, host.lower(), port)


def client_key(branch: str, method: str) -> ClientKey:
    """§17.1.3: branch and CSeq method (a CANCEL shares its INVITE's branch)."""
    return (branch, method)


def response_key(response: Response) -> ClientKey | None:
    """The client key a response names, or None when it cannot match any
    transaction of ours (no branch). Raises RemoteProtocolError when the Via
    or CSeq it must carry is missing or malformed."""
    try:
        via, cseq = response.top_via, response.cseq
    except SipParseError as exc:
        raise RemoteProtocolError(f"response with a bad Via or CSeq: {exc.reason}") from None
    if via is None or cseq is None:
        raise RemoteProtocolError("response without Via or CSeq")
    branch = via.branch
    return None if branch is None else (branch, cseq.method)


def server_key(request: Request, method: str | None = None) -> ServerKey:
    """The §17.2.3 key of ``request``; ``method`` overrides the method in it
    (ACK and CANCEL look up their INVITE with ``"INVITE"``).

    Raises RemoteProtocolError when a header the key needs is missing.
    """
    try:
        via, cseq = request.top_via, request.cseq
    except SipParseError as exc:
        raise RemoteProtocolError(f"request with a bad Via or CSeq: {exc.reason}") from None
    if via is None or cseq is None:
        raise RemoteProtocolError("request without Via or CSeq")
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if (
        branch is not None
        and branch.startswith(BRANCH_MAGIC_COOKIE)
        and len(branch) > len(BRANCH_MAGIC_COOKIE)
    ):
        return ("3261", branch, _via_key(via), method)
    # RFC 2543 fallback (§17.2.3, second half).
    try:
        to, from_, call_id = request.to, request.from_, request.call_id
    except SipParseError as exc:
        raise RemoteProtocolError(f"request with a bad To, From or Call-ID: {exc.reason}") from None
    if to is None or from_ is None or call_id is None:
        raise RemoteProtocolError("RFC 2543 request without To, From or Call-ID")
    return (
        "2543",
        request.uri,
        to.tag,
        from_.tag,
        call_id,
        cseq.seq,
        method,
        _via_key(via),
        branch,
    )


def with_to_tag(key: ServerKey, tag: str) -> ServerKey:
    """An RFC 2543 key with the To tag of our response: the ACK for it carries
    that tag (§17.2.3: "the To tag of the ACK matches the To tag of the
    response sent by the server transaction")."""
    return (*key[:2], tag, *key[3:])


def build_ack(request: Request, response: Response) -> Request:
    """The ACK for a non-2xx final ``response`` to INVITE ``request``
    (§17.1.1.3): Request-URI, Call-ID, From and the top Via (so the same
    branch) of the INVITE, the To of the response, CSeq number with method
    ACK, and the INVITE's Route headers; no body."""
    headers = Headers()
    via = request.headers.get_all("Via")
    headers.add("Via", via[0])
    for route in request.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", request.headers.get("Max-Forwards") or "70")
    headers.add("From", _required(request, "From"))
    headers.add("To", _required(response, "To"))
    headers.add("Call-ID", _required(request, "Call-ID"))
    cseq = request.cseq
    if cseq is None:
        raise LocalProtocolError("INVITE without CSeq")
    headers.add("CSeq", f"{cseq.seq} ACK")
    headers.add("Content-Length", "0")
    return Request("ACK", request.uri, headers)


def build_cancel(request: Request) -> Request:
    """The CANCEL of ``request`` (§9.1): Request-URI, Call-ID, To, From, CSeq
    number and the top Via of the request, method CANCEL, its Route headers;
    no Require or Proxy-Require, no body."""
    if request.method in ("ACK", "CANCEL"):
        raise LocalProtocolError(f"a {request.method} cannot be cancelled (§9.1)")
    headers = Headers()
    via = request.headers.get_all("Via")
    if not via:
        raise LocalProtocolError("request without Via")
    headers.add("Via", via[0])
    for route in request.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    headers.add("From", _required(request, "From"))
    headers.add("To", _required(request, "To"))
    headers.add("Call-ID", _required(request, "Call-ID"))
    cseq = request.cseq
    if cseq is None:
        raise LocalProtocolError("request without CSeq")
    headers.add("CSeq", f"{cseq.seq} CANCEL")
    headers.add("Content-Length", "0")
    return Request("CANCEL", request.uri, headers)


def _required(message: Request | Response, name: str) -> str:
    value = message.headers.get(name)
    if value is None:
        raise LocalProtocolError(f"{name} missing")
    return value
