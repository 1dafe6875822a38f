"""One dialog (RFC 3261 §12): its identity, state and the requests it sends.

A dialog is the peer-to-peer relation an INVITE sets up. Its id is the
Call-ID with the local and the remote tag (§12); it holds the route set
(Record-Route, reversed at the UAC), the remote target (the peer's Contact),
the two CSeq counters and whether it is ``secure`` (a ``sips:`` Request-URI
that came over TLS, §12.1.1). Sans-IO and clock-free: it builds requests
(§12.2.1.1) and checks incoming ones (§12.2.2); sending is the UA's job, and
so is the top Via, because only the sender knows the transport.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import Headers, NameAddress, Request, Response, SipUri, Uri, parse_name_address

__all__ = ["Dialog", "DialogId", "DialogState", "request_target"]

_MAX_CSEQ = 2**32 - 1
#: Methods that reuse the CSeq number of the request they belong to
#: (§13.2.2.4 for ACK; CANCEL is built by the transaction layer, §9.1).
_SAME_CSEQ = frozenset({"ACK", "CANCEL"})


class DialogState(enum.Enum):
    __hash__ = object.__hash__

    EARLY = "early"  # made by a 1xx with a To tag (§12.1)
    CONFIRMED = "confirmed"  # made or confirmed by a 2xx
    TERMINATED = "terminated"


class DialogId(NamedTuple):
    """§12: Call-ID, local tag, remote tag (an RFC 2543 peer's tag may be "")."""

    call_id: str
    local_tag: str
    remote_tag: str


def _first_contact(message: Request | Response) -> Uri | None:
    contacts = message.contacts
    if contacts and contacts[0].uri is not None:
        return contacts[0].uri
    return None


def _secure(request: Request) -> bool:
    """§12.1.1 / §12.1.2: sips Request-URI, and the hop it took was TLS."""
    via = request.top_via
    return (
        isinstance(request.uri, SipUri)
        and request.uri.secure
        and via is not None
        and via.transport == "TLS"
    )


def _required(value: str | None, what: str) -> str:
    if value is None:
        raise RemoteProtocolError(f"{what} missing: no dialog can be made")
    return value


def request_target(route_set: list[NameAddress], remote_target: Uri) -> tuple[Uri, list[str]]:
    """The Request-URI and Route values of a request sent in a dialog
    (§12.2.1.1): loose routing when the first route has ``;lr``, otherwise
    the strict-routing fallback that moves the remote target to the end."""
    if not route_set:
        return remote_target, []
    first = route_set[0].uri
    if isinstance(first, SipUri) and first.lr:
        return remote_target, [str(route) for route in route_set]
    if first is None:
        raise RemoteProtocolError("a route set entry without a URI")
    # Strict router: it takes the Request-URI for the next hop. "Stripped of
    # any parameters that are not allowed in a Request-URI": the header part.
    uri = first.replace(headers={}) if isinstance(first, SipUri) and first.headers else first
    routes = [str(route) for route in route_set[1:]]
    routes.append(f"<{remote_target}>")
    return uri, routes


class Dialog:
    """The state of one dialog, as §12.1 builds it and §12.2 uses it."""

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_header: str,
        remote_header: str,
        remote_target: Uri,
        route_set: Iterable[NameAddress],
        local_cseq: int | None,
        remote_cseq: int | None,
        secure: bool,
        state: DialogState,
        local_target: str | None = None,
        is_uac: bool,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        # From and To of our requests, as header values with their tags.
        self.local_header = local_header
        self.remote_header = remote_header
        self.remote_target = remote_target
        self.route_set: list[NameAddress] = list(route_set)
        self.local_cseq = local_cseq
        self.remote_cseq = remote_cseq
        self.secure = secure
        self.state = state
        self.local_target = local_target  # our Contact URI, for target refresh requests
        self.is_uac = is_uac  # we sent the INVITE that made it
        self.invite_cseq: int | None = local_cseq if is_uac else None  # for the ACK

    # -- creation (§12.1) ------------------------------------------------------------
    @classmethod
    def from_uac_response(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 1xx with a To tag or a 2xx to ``request`` makes (§12.1.2)."""
        if request.method != "INVITE":
            raise LocalProtocolError("only an INVITE makes a dialog here")
        if response.status < 101 or response.status >= 300:
            raise LocalProtocolError(f"a {response.status} makes no dialog")
        from_, to, cseq = request.from_, response.to, request.cseq
        if from_ is None or from_.tag is None or cseq is None:
            raise LocalProtocolError("the INVITE needs a From tag and a CSeq")
        if to is None:
            raise RemoteProtocolError("response without To")
        state = DialogState.EARLY if response.status < 200 else DialogState.CONFIRMED
        contact = _first_contact(request)
        return cls(
            call_id=_required(request.call_id, "Call-ID"),
            local_tag=from_.tag,
            remote_tag=to.tag or "",  # §12.1.2: a missing tag is a null tag
            local_header=_required(request.headers.get("From"), "From"),
            remote_header=_required(response.headers.get("To"), "To"),
            remote_target=_first_contact(response) or request.uri,
            route_set=reversed(response.record_routes),
            local_cseq=cseq.seq,
            remote_cseq=None,
            secure=_secure(request),
            state=state,
            local_target=None if contact is None else str(contact),
            is_uac=True,
        )

    @classmethod
    def from_uas_request(
        cls, request: Request, local_tag: str, *, local_target: str | None = None
    ) -> Dialog:
        """The dialog our response with ``local_tag`` makes (§12.1.1); it is
        early until :meth:`confirm` (call it when the 2xx goes out)."""
        from_, to, cseq = request.from_, request.to, request.cseq
        if from_ is None or to is None or cseq is None:
            raise RemoteProtocolError("request without From, To or CSeq")
        remote_target = _first_contact(request)
        if remote_target is None:
            raise RemoteProtocolError("INVITE without a Contact (§8.1.1.8)", 400)
        to_value = _required(request.headers.get("To"), "To")
        if to.tag is None:
            to_value = f"{to_value};tag={local_tag}"
        return cls(
            call_id=_required(request.call_id, "Call-ID"),
            local_tag=local_tag,
            remote_tag=from_.tag or "",
            local_header=to_value,
            remote_header=_required(request.headers.get("From"), "From"),
            remote_target=remote_target,
            route_set=request.record_routes,  # §12.1.1: in order
            local_cseq=None,
            remote_cseq=cseq.seq,
            secure=_secure(request),
            state=DialogState.EARLY,
            local_target=local_target,
            is_uac=False,
        )

    # -- identity and state ------------------------------------------------------------
    @property
    def id(self) -> DialogId:
        return DialogId(self.call_id, self.local_tag, self.remote_tag)

    @property
    def local_uri(self) -> Uri | None:
        """Our URI (§12.1: the From URI at the UAC, the To URI at the UAS)."""
        return parse_name_address(self.local_header).uri

    @property
    def remote_uri(self) -> Uri | None:
        """The peer's URI (the other one of the two)."""
        return parse_name_address(self.remote_header).uri

    @property
    def is_early(self) -> bool:
        return self.state is DialogState.EARLY

    @property
    def is_confirmed(self) -> bool:
        return self.state is DialogState.CONFIRMED

    @property
    def terminated(self) -> bool:
        return self.state is DialogState.TERMINATED

    def confirm(self) -> None:
        """The 2xx was sent (UAS) or received (UAC)."""
        if self.state is DialogState.EARLY:
            self.state = DialogState.CONFIRMED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    def __repr__(self) -> str:
        return f"<Dialog {self.call_id} {self.local_tag}/{self.remote_tag} {self.state.value}>"

    # -- responses in the dialog (UAC) -------------------------------------------------
    def update_from_response(self, request: Request, response: Response) -> None:
        """A response to a request we sent in this dialog.

        A 2xx to the initial INVITE confirms the dialog and recomputes its
        route set (§13.2.2.4); a 1xx/2xx to an INVITE refreshes the remote
        target from its Contact (§12.2.1.2 target refresh).
        """
        if request.method != "INVITE" or not 101 <= response.status < 300:
            return
        contact = _first_contact(response)
        if contact is not None:
            self.remote_target = contact
        if response.status >= 200 and self.state is DialogState.EARLY:
            self.route_set = list(reversed(response.record_routes))
            self.state = DialogState.CONFIRMED

    # -- requests in the dialog --------------------------------------------------------
    def receive_request(self, request: Request) -> None:
        """Check an in-dialog request (§12.2.2) and apply it.

        Raises :class:`RemoteProtocolError` with status 500 when its CSeq is
        out of order (lower than, or for a new request equal to, the last
        one). An INVITE refreshes the remote target from its Contact.
        """
        cseq = request.cseq
        if cseq is None:
            raise RemoteProtocolError("request without CSeq")
        if request.method not in _SAME_CSEQ:
            if self.remote_cseq is not None and cseq.seq <= self.remote_cseq:
                raise RemoteProtocolError(
                    f"CSeq {cseq.seq} is not above {self.remote_cseq} (§12.2.2)", 500
                )
            self.remote_cseq = cseq.seq
        if request.method == "INVITE":
            contact = _first_contact(request)
            if contact is not None:
                self.remote_target = contact

    def next_cseq(self) -> int:
        """Increment the local CSeq (§12.2.1.1); an empty one starts at 1."""
        seq = 1 if self.local_cseq is None else self.local_cseq + 1
        if seq > _MAX_CSEQ:
            raise LocalProtocolError("local CSeq exhausted")
        self.local_cseq = seq
        return seq

    def create_request(
        self,
        method: str,
        now: float | None = None,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        cseq: int | None = None,
    ) -> Request:
        """A request in this dialog, built per §12.2.1.1, without a Via.

        To/From carry the remote/local URI and tags, the Request-URI and
        Route come from :func:`request_target`, and the CSeq is the local one
        plus one — except for an ACK, which takes the number of the INVITE it
        acknowledges (``cseq``, default the last INVITE sent; §13.2.2.4). An
        INVITE carries our Contact (target refresh). ``now`` is accepted for
        symmetry with the other sans-IO calls; a dialog keeps no clock.
        """
        del now
        if self.state is DialogState.TERMINATED and method != "ACK":
            raise LocalProtocolError(f"dialog {self.id} is terminated")
        if method == "ACK":
            number = cseq if cseq is not None else self.invite_cseq
            if number is None:
                raise LocalProtocolError("no INVITE to acknowledge in this dialog")
        elif method == "CANCEL":
            raise LocalProtocolError("a CANCEL copies its request (§9.1); use the layer")
        else:
            number = self.next_cseq() if cseq is None else cseq
            if method == "INVITE":
                self.invite_cseq = number
        uri, routes = request_target(self.route_set, self.remote_target)
        out = Headers()
        for route in routes:
            out.add("Route", route)
        out.add("Max-Forwards", "70")
        out.add("From", self.local_header)
        out.add("To", self.remote_header)
        out.add("Call-ID", self.call_id)
        out.add("CSeq", f"{number} {method}")
        if method == "INVITE" and self.local_target is not None:
            out.add("Contact", f"<{self.local_target}>")
        for name, value in headers:
            out.add(name, value)
        if body and content_type is not None:
            out.add("Content-Type", content_type)
        out.add("Content-Length", str(len(body)))
        return Request(method, uri, out, body)

    @property
    def next_hop(self) -> Uri:
        """Where an in-dialog request goes first (§12.2.1.1, §8.1.2): the top
        route (a loose router, or a strict one that gets it as Request-URI),
        else the remote target."""
        if self.route_set and self.route_set[0].uri is not None:
            return self.route_set[0].uri
        return self.remote_target
