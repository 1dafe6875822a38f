"""The UA core's plumbing: its state, sending, name resolution, timers and
events. The client side (:mod:`.uac`) and the server side (:mod:`.uas`)
build on it; :class:`sipsec.ua.UserAgent` joins them.

Every request of ours goes out as a :class:`_Pending`: a template without
a Via (the transport is not known before the next hop is), the next hop
(a :class:`Peer`, or a URI that may need RFC 3263 resolution), and its
Digest flow. :meth:`_dispatch` finds the hop — an IP literal directly, a
host name through the driver (``resolutions_needed`` / ``handle_resolution``)
— and :meth:`_transmit` adds the Via (fresh branch, ``rport``) and Contact
for that transport and hands the request to the transaction layer.
"""

from __future__ import annotations

import os
import random as random_module
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from sipsec.auth import AuthFlow, DigestClient
from sipsec.dialog import Dialog, DialogId, DialogTable
from sipsec.errors import LocalProtocolError
from sipsec.sip import (
    Headers,
    Request,
    Response,
    SipParseError,
    SipUri,
    Uri,
    generate_branch,
    make_response,
    parse_uri,
)
from sipsec.transaction import Peer, TransactionLayer

from .addressing import contact_uri, is_ip_literal, static_peer, via_value
from .call import Call
from .config import ALLOWED_METHODS, UaConfig
from .events import UaEvent
from .registration import Registration

__all__ = [
    "AUTH_HEADERS",
    "UaBase",
    "initial_headers",
    "target_uri",
    "with_credentials",
]

TimerKey = tuple[str, int]


@dataclass(eq=False)
class _Pending:
    """One request of ours on its way (see the module doc)."""

    kind: str  # register, invite, reinvite, bye, options, ack
    request: Request  # the template: no Via, no Contact
    next_hop: Uri | Peer
    call: Call | None = None
    flow: AuthFlow | None = None
    contact: str | None = None  # add a Contact with these header params ("" for none)
    sent: Request | None = field(default=None, repr=False)
    peer: Peer | None = None
    alternatives: list[Peer] = field(default_factory=list)  # RFC 3263 fail-over
    transaction_id: int | None = None
    answered: bool = False  # a final response came
    dialog: Dialog | None = None  # the dialog a BYE ends


AUTH_HEADERS = ("Authorization", "Proxy-Authorization")


def with_credentials(request: Request, pending: _Pending) -> None:
    """Put the flow's current Authorization / Proxy-Authorization on ``request``."""
    if pending.flow is None:
        return
    for name in AUTH_HEADERS:
        request.headers.remove(name)
    for credentials in pending.flow.credentials:
        request.headers.add(credentials.header_name, str(credentials.value))


def target_uri(target: str, verb: str) -> SipUri:
    """``target`` as the SIP URI a new request goes to; LocalProtocolError
    (naming what we could not ``verb``) for anything else."""
    try:
        uri = parse_uri(target)
    except SipParseError as exc:
        raise LocalProtocolError(f"bad target: {exc.reason}") from None
    if not isinstance(uri, SipUri):
        raise LocalProtocolError(f"cannot {verb} a {uri.scheme}: URI")
    return uri


def initial_headers(
    config: UaConfig,
    uri: SipUri,
    method: str,
    call_id: str,
    tag: str,
    *,
    headers: Iterable[tuple[str, str]] = (),
    accept: bool = False,
) -> Headers:
    """The headers of a request outside any dialog (§8.1.1), up to the body's:
    To and the Request-URI name the target, a fresh From tag, CSeq 1, what we
    allow and support, and the caller's ``headers``; with ``accept`` the body
    types we take (§11.1: an OPTIONS "SHOULD" say them)."""
    name = f'"{config.display_name}" ' if config.display_name else ""
    out = Headers()
    out.add("Max-Forwards", "70")
    out.add("To", f"<{uri}>")
    out.add("From", f"{name}<{config.aor}>;tag={tag}")
    out.add("Call-ID", call_id)
    out.add("CSeq", f"1 {method}")
    if accept:
        out.add("Accept", ", ".join(config.accept))
    out.add("Allow", ", ".join(ALLOWED_METHODS))
    if config.supported:
        out.add("Supported", ", ".join(config.supported))
    out.add("User-Agent", config.user_agent)
    for header, value in headers:
        out.add(header, value)
    return out


class UaBase:
    """State and plumbing shared by the client and server halves of the UA."""

    def __init__(
        self,
        config: UaConfig,
        layer: TransactionLayer | None = None,
        *,
        rng: random_module.Random | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        self.config = config
        self._layer = layer if layer is not None else TransactionLayer(config.timers)
        # The §14.1 glare delay and the §14.2 Retry-After come from here.
        self.rng = rng if rng is not None else random_module.Random()
        password = config.password

        def lookup(realm: str) -> str | None:
            del realm
            return password

        self.digest = DigestClient(
            config.auth_username,
            lookup,
            random=random_bytes if random_bytes is not None else os.urandom,
            prefer_auth_int=config.prefer_auth_int,
        )
        self.dialogs = DialogTable()
        self.registration = Registration(config.aor_uri, config.display_name)
        self.stats: dict[str, int] = {}
        self._events: deque[UaEvent] = deque()
        self._clients: dict[int, _Pending] = {}  # client transaction id -> request
        self._server_calls: dict[int, Call] = {}  # INVITE server transaction -> call
        self._call_of: dict[DialogId, Call] = {}
        self._acks: dict[tuple[DialogId, int], tuple[Request, Peer]] = {}
        self._resolving: dict[int, _Pending] = {}
        self._resolutions: list[tuple[int, SipUri]] = []
        self._next_token = 1
        self._timers: dict[TimerKey, tuple[float, Callable[[float], None]]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.aor} calls={len(self._call_of)}>"

    # -- what the driver sees ------------------------------------------------------------
    @property
    def layer(self) -> TransactionLayer:
        return self._layer

    def next_ua_event(self) -> UaEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return min((deadline for deadline, _ in self._timers.values()), default=None)

    def handle_timer(self, now: float) -> None:
        due = sorted(
            (deadline, key) for key, (deadline, _) in self._timers.items() if deadline <= now
        )
        for deadline, key in due:
            entry = self._timers.get(key)
            if entry is not None and entry[0] == deadline:  # not re-armed or cancelled meanwhile
                del self._timers[key]
                entry[1](now)

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        out, self._resolutions = self._resolutions, []
        return out

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        pending = self._resolving.pop(token, None)
        if pending is None:
            return
        call = pending.call
        if pending.kind == "invite" and call is not None and call.cancelled:
            self._request_failed(pending, 487, "cancelled before it was sent", now)
            return
        if not peers:
            self._count("resolution_failures")
            self._request_failed(pending, 503, "could not resolve the next hop", now)
            return
        hop = pending.next_hop
        if isinstance(hop, SipUri) and not is_ip_literal(hop.maddr or hop.host):
            # RFC 5922 §4: a TLS peer proves the domain of the URI, not its address.
            peers = [
                replace(p, server_name=hop.host)
                if p.transport == "tls" and p.server_name is None
                else p
                for p in peers
            ]
        pending.alternatives = list(peers[1:])
        self._transmit(pending, peers[0], now)

    # -- helpers for both halves -----------------------------------------------------------
    def _count(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    def _emit(self, event: UaEvent) -> None:
        self._events.append(event)

    def _set_timer(self, key: TimerKey, at: float, fire: Callable[[float], None]) -> None:
        self._timers[key] = (at, fire)

    def _cancel_timer(self, key: TimerKey) -> None:
        self._timers.pop(key, None)

    def _request_failed(self, pending: _Pending, status: int, reason: str, now: float) -> None:
        """A request of ours ended without a response (timeout, transport,
        resolution): the client half treats it as that status (§8.1.3.1)."""
        raise NotImplementedError

    def _dispatch(self, pending: _Pending, now: float) -> None:
        """Send ``pending`` to its next hop, resolving a host name first."""
        hop = pending.next_hop
        if isinstance(hop, Peer):
            self._transmit(pending, hop, now)
            return
        try:
            peer = static_peer(hop)
        except LocalProtocolError as exc:
            self._request_failed(pending, 416, exc.reason, now)
            return
        if peer is not None:
            self._transmit(pending, peer, now)
            return
        assert isinstance(hop, SipUri)  # static_peer refused the rest
        token = self._next_token
        self._next_token += 1
        self._resolving[token] = pending
        self._resolutions.append((token, hop))

    def _transmit(self, pending: _Pending, peer: Peer, now: float) -> None:
        """Add Via and Contact for ``peer.transport`` and send."""
        local = self.config.contact.get(peer.transport)
        if local is None:
            self._request_failed(pending, 503, f"no local {peer.transport} address", now)
            return
        template = pending.request
        request = Request(template.method, template.uri, template.headers.copy(), template.body)
        request.headers.prepend("Via", via_value(peer.transport, local, generate_branch()))
        if pending.contact is not None:
            secure = isinstance(template.uri, SipUri) and template.uri.secure
            try:
                uri = contact_uri(self.config.aor_uri.user, peer.transport, local, secure=secure)
            except LocalProtocolError as exc:
                self._request_failed(pending, 503, exc.reason, now)
                return
            request.headers.add("Contact", f"<{uri}>{pending.contact}")
        pending.sent, pending.peer = request, peer
        self._count("requests_sent")
        if pending.kind == "ack":
            self._layer.send_stateless(request, peer)
            self._sent_ack(pending, request, peer)
            return
        tid = self._layer.send_request(request, peer, now)
        pending.transaction_id = tid
        self._clients[tid] = pending
        self._sent(pending, request, now)

    def _sent(self, pending: _Pending, request: Request, now: float) -> None:
        """Hook: ``request`` went out for ``pending`` (the client half records it)."""

    def _sent_ack(self, pending: _Pending, ack: Request, peer: Peer) -> None:
        """Hook: an ACK for a 2xx went out."""

    def _build_response(
        self,
        request: Request,
        status: int,
        *,
        reason: str | None = None,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        response = make_response(request, status, reason, to_tag=to_tag)
        for name, value in headers:
            response.headers.add(name, value)
        response.headers.add("Server", self.config.user_agent)
        if body:
            if content_type is not None:
                response.headers.add("Content-Type", content_type)
            response.body = body
        return response

    def _send_response(self, transaction_id: int, response: Response, now: float) -> bool:
        """Give ``response`` to its server transaction; one that is gone
        already (a late answer) is counted, not an error."""
        try:
            self._layer.send_response(transaction_id, response, now)
        except LocalProtocolError:
            self._count("late_responses")
            return False
        self._count(f"responses_sent_{response.status // 100}xx")
        return True

    def _respond(
        self,
        transaction_id: int,
        request: Request,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        response = self._build_response(
            request, status, reason=reason, to_tag=to_tag, headers=headers
        )
        self._send_response(transaction_id, response, now)
