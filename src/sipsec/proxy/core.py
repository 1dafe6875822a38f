"""The proxy core: one domain's registrar (RFC 3261 §10) and stateful proxy (§16).

:class:`ProxyCore` is a :class:`~sipsec.transaction.TransactionUser`: the
asyncio driver feeds it the transaction layer's events and flushes what it
sends. Each new request goes through, in order:

1. bounded memory: beyond ``max_contexts`` / ``max_transactions``, 503;
2. §16.3 validation (:mod:`.validate`): 400/416/420/482/483;
3. REGISTER for our domain → Digest (401) → the registrar (:mod:`.registrar`);
4. §16.4 route processing; requests for the proxy itself (OPTIONS);
5. Digest for our own users' initial requests (407), unless the source is
   trusted; no relaying between two foreign domains for untrusted sources;
6. §16.5 targets: the location service for our domain, else the
   Request-URI; then :class:`~.forwarder.Forwarder` does §16.6–§16.10.

Time comes in as ``now`` (monotonic); the stores and nonces need a wall
clock, which ``wall(now)`` gives (injected; the identity by default).
"""

from __future__ import annotations

import heapq
import logging
import os
from collections import Counter, deque
from collections.abc import Callable
from typing import NamedTuple

from sipsec.auth import FailureLimiter
from sipsec.errors import LocalProtocolError
from sipsec.proxy.authenticate import AuthOutcome, DomainAuthenticator
from sipsec.proxy.config import ProxyConfig
from sipsec.proxy.credentials import CredentialStore
from sipsec.proxy.forking import ResponseContext, Target
from sipsec.proxy.forwarder import Forwarder
from sipsec.proxy.location import LocationStore
from sipsec.proxy.log import TransactionLogged, log_line, logger, parties
from sipsec.proxy.registrar import aor_of, flow_of, process_register
from sipsec.proxy.routing import LocalAddresses, contact_uri, pop_own_routes
from sipsec.proxy.store import StoreError
from sipsec.proxy.validate import branch_for, check_request
from sipsec.sip import Request, Response, SipParseError, SipUri, make_response
from sipsec.transaction import (
    CancelReceived,
    Event,
    Peer,
    RequestReceived,
    ResponseReceived,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)

__all__ = ["ProxyCore"]

_ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, REFER, MESSAGE"
_MAX_EXPIRY_HEAP = 100_000  # binding expiries tracked for exact purge timing
_LOG_KEPT = 1000


class _In(NamedTuple):
    """A request of a server transaction: what every answer needs."""

    tid: int
    request: Request
    source: Peer


class ProxyCore:
    """A domain's registrar and stateful proxy, sans-IO (see the module docstring)."""

    def __init__(
        self,
        config: ProxyConfig,
        location: LocationStore,
        credentials: CredentialStore,
        *,
        secret: bytes,
        layer: TransactionLayer | None = None,
        wall: Callable[[float], float] | None = None,
        random: Callable[[int], bytes] = os.urandom,
        authenticate_registers: bool = True,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the proxy secret must be at least 16 bytes")
        self.config = config
        self.location = location
        self.credentials = credentials
        self._layer = layer if layer is not None else TransactionLayer(config.timers)
        self._secret = secret
        self._wall = wall if wall is not None else (lambda now: now)
        self.authenticate_registers = authenticate_registers
        self.local = LocalAddresses(config.domain, config.local)
        self.auth = DomainAuthenticator(config, credentials, secret, random=random)
        self.stats: Counter[str] = Counter()
        self.log: deque[TransactionLogged] = deque(maxlen=_LOG_KEPT)
        self.on_log: Callable[[TransactionLogged], None] | None = None
        # When set, the record's line goes here instead of the ``sipsec.proxy``
        # logger (the CLI's batched access log, sipsec.transport.access_log).
        self.access_log: Callable[[TransactionLogged], None] | None = None
        self.forwarder = Forwarder(self._layer, config, self.local, self.stats, self._final_sent)
        self._expiries: list[float] = []  # monotonic deadlines of bindings we wrote
        self._next_purge: float | None = None
        self.accepting = True
        self._per_source = (
            FailureLimiter(rate=config.source_rate, burst=config.source_burst)
            if config.source_rate is not None
            else None
        )

    def __repr__(self) -> str:
        return f"ProxyCore(domain={self.config.domain!r}, contexts={len(self.forwarder)})"

    # -- TransactionUser ----------------------------------------------------------------------
    @property
    def layer(self) -> TransactionLayer:
        return self._layer

    def handle_event(self, event: Event, now: float) -> None:
        if self._next_purge is None:
            self._next_purge = now + self.config.purge_interval
        if isinstance(event, RequestReceived):
            if event.request.method == "ACK":
                self._ack(event.request, now)
            elif event.transaction_id is not None:
                tid, request = event.transaction_id, event.request
                try:
                    self._request(tid, request, event.source, now)
                except SipParseError as exc:  # a header only read now was malformed
                    self._answer(
                        _In(tid, request, event.source), now, 400, "Bad Request", detail=exc.reason
                    )
        elif isinstance(event, CancelReceived):
            self._cancel(event, now)
        elif isinstance(event, ResponseReceived):
            self.forwarder.handle_response(event.transaction_id, event.response, now)
        elif isinstance(event, TransactionTimedOut):
            self.forwarder.handle_failure(event.transaction_id, 408, "Request Timeout", now)
        elif isinstance(event, TransportErrorOccurred):
            self.stats["transport_errors"] += 1
            self.forwarder.handle_failure(event.transaction_id, 503, "Service Unavailable", now)
        elif isinstance(event, TransactionTerminated):
            self.forwarder.handle_terminated(event.transaction_id)

    def get_timer(self) -> float | None:
        # Asked after every message by the driver: no temporary lists.
        due = self.forwarder.get_timer()
        purge = self._next_purge
        if purge is not None and (due is None or purge < due):
            due = purge
        if self._expiries and (due is None or self._expiries[0] < due):
            due = self._expiries[0]
        return due

    def handle_timer(self, now: float) -> None:
        self.forwarder.handle_timer(now)
        due = self._next_purge is not None and now >= self._next_purge
        while self._expiries and self._expiries[0] <= now:
            heapq.heappop(self._expiries)
            due = True
        if due:
            self._next_purge = now + self.config.purge_interval
            try:
                removed = self.location.purge(self._wall(now))
            except StoreError as exc:
                self.stats["store_errors"] += 1
                logger.warning("purging expired bindings failed: %s", exc)
                return
            if removed:
                self.stats["bindings_expired"] += removed
                logger.info("%d binding(s) expired", removed)

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        return self.forwarder.resolutions_needed()

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        self.forwarder.handle_resolution(token, peers, now)

    # -- requests -----------------------------------------------------------------------------
    def _request(self, tid: int, request: Request, source: Peer, now: float) -> None:
        self.stats["requests"] += 1
        if not self.accepting or len(self.forwarder) >= self.config.max_contexts:
            self._answer(_In(tid, request, source), now, 503, "Service Unavailable", overload=True)
            return
        limiter = self._per_source
        if limiter is not None:
            # Every new request costs its source a token (FailureLimiter's
            # bucket, charged for all, not only failures): a flood from one
            # address is refused before it costs a lookup or a Digest check.
            if not limiter.allowed(source.host, now):
                self.stats["rate_limited"] += 1
                self._answer(
                    _In(tid, request, source), now, 503, "Service Unavailable", overload=True
                )
                self._layer.terminate(tid)
                return
            limiter.charge(source.host, now)
        if len(self._layer) > self.config.max_transactions:
            self._answer(_In(tid, request, source), now, 503, "Service Unavailable", overload=True)
            self._layer.terminate(tid)  # do not keep state for what we refused
            return
        refusal, key = check_request(request, self._secret, self.local.sent_by)
        if refusal is not None:
            self.stats[f"refused_{refusal.status}"] += 1
            self._answer(
                _In(tid, request, source), now, refusal.status, refusal.reason, refusal.headers
            )
            return
        uri = request.uri
        if request.method == "REGISTER" and self.local.is_ours(
            uri.replace(user=None) if isinstance(uri, SipUri) else uri
        ):
            self._register(tid, request, source, now)
            return
        try:
            followed_route = pop_own_routes(request, self.local)
        except SipParseError as exc:
            self._answer(_In(tid, request, source), now, 400, f"Bad Request ({exc.reason[:60]})")
            return
        if self.local.is_ours(request.uri) and not request.routes:
            self._for_us(tid, request, source, now)
            return
        trusted = self._trusted(source)
        ours_from = self._from_ours(request)
        initial = request.to is None or request.to.tag is None
        if self.config.authenticate_invites and not trusted and initial:
            if ours_from:
                outcome = self.auth.check(request, "proxy", self._wall(now), source.host)
                if outcome.username is None:
                    self._refuse_auth(tid, request, source, now, outcome)
                    return
                if not self._from_user_is(request, outcome.username):
                    self._answer(_In(tid, request, source), now, 403, "Forbidden (From is not you)")
                    return
            elif not followed_route and not self.local.is_our_domain(request.uri):
                self._answer(_In(tid, request, source), now, 403, "Forbidden (relaying denied)")
                return
        self._forward(tid, request, source, now, key)

    def wall(self, now: float) -> float:
        """The wall clock the stores use for monotonic ``now``."""
        return self._wall(now)

    def full_path_has(self, method: str, branch: str, sent_by: tuple[str, str, int | None]) -> bool:
        """Whether the transaction layer holds the server transaction a
        request with this method, top-Via branch and sent-by (transport,
        host, port as written) belongs to (§17.2.3; an ACK looks up its
        INVITE): the fast relay leaves those to the full path."""
        return self._layer.has_server_transaction(method, branch, *sent_by)

    def _forward(self, tid: int, request: Request, source: Peer, now: float, key: str) -> None:
        uri = request.uri
        if not isinstance(uri, SipUri):
            self._answer(_In(tid, request, source), now, 416, "Unsupported URI Scheme")
            return
        if self.local.is_our_domain(uri) and not request.routes:
            try:
                targets = self._lookup(uri, now)
            except StoreError:
                self.stats["store_errors"] += 1
                self._answer(_In(tid, request, source), now, 500, "Server Internal Error")
                return
            if not targets:
                self._answer(_In(tid, request, source), now, 480, "Temporarily Unavailable")
                return
        else:
            targets = [Target(uri)]  # §16.5: a foreign domain is its own only target
        context = ResponseContext(tid, request, source, source.transport, now, key)
        self.forwarder.start(context, targets, now)

    def _lookup(self, uri: SipUri, now: float) -> list[Target]:
        aor = aor_of(uri.replace(host=self.config.domain, port=None), self.config.domain)
        if aor is None:
            return []
        targets = []
        for binding in self.location.lookup(aor, self._wall(now)):
            contact = contact_uri(binding.contact)
            if contact is not None:
                targets.append(Target(contact, binding.preference, flow_of(binding.received)))
        return targets

    def _ack(self, ack: Request, now: float) -> None:
        """The ACK for a 2xx travels end to end (§13.2.2.4): forward it
        statelessly; never answer an ACK, drop what is broken."""
        refusal, key = check_request(ack, self._secret, self.local.sent_by)
        if refusal is not None:
            self.stats["ack_dropped"] += 1
            return
        try:
            pop_own_routes(ack, self.local)
        except SipParseError:
            self.stats["ack_dropped"] += 1
            return
        uri = ack.uri
        if self.local.is_ours(uri) and not ack.routes:
            self.stats["ack_dropped"] += 1  # an ACK for us: nothing to do
            return
        if isinstance(uri, SipUri) and self.local.is_our_domain(uri) and not ack.routes:
            try:
                targets = self._lookup(uri, now)
            except StoreError:
                targets = []
            if not targets:
                self.stats["ack_dropped"] += 1
                return
            ack.uri = targets[0].uri
        max_forwards = ack.max_forwards
        ack.headers.set("Max-Forwards", str(70 if max_forwards is None else max_forwards - 1))
        self.forwarder.forward_stateless(ack, branch_for(key, "ack"))

    def _cancel(self, event: CancelReceived, now: float) -> None:
        """§16.10: answer the CANCEL ourselves, then cancel every branch."""
        cancel, tid = event.request, event.transaction_id
        assert tid is not None
        invite = event.invite_transaction_id
        if invite is None:
            self._answer(
                _In(tid, cancel, event.source), now, 481, "Call/Transaction Does Not Exist"
            )
            return
        # §9.2: the INVITE's transaction exists, so 200 — whether or not
        # anything is left to cancel (a final response may have gone already).
        self._answer(_In(tid, cancel, event.source), now, 200, "OK")
        self.forwarder.cancel(invite, now)

    def _unsupported(self, tid: int, request: Request, source: Peer, now: float) -> bool:
        """§8.2.2.3 (registrar: §10.3 step 2): as the UAS we implement no
        extension, so any Require gets 420 with Unsupported."""
        required = request.require
        if not required:
            return False
        unsupported = (("Unsupported", ", ".join(required)),)
        self._answer(_In(tid, request, source), now, 420, "Bad Extension", unsupported)
        return True

    def _register(self, tid: int, request: Request, source: Peer, now: float) -> None:
        if self._unsupported(tid, request, source, now):
            return
        wall = self._wall(now)
        username: str | None = None
        extra: tuple[tuple[str, str], ...] = ()
        if self.authenticate_registers and not self._trusted(source):
            outcome = self.auth.check(request, "www", wall, source.host)
            if outcome.username is None:
                self._refuse_auth(tid, request, source, now, outcome)
                return
            username, extra = outcome.username, outcome.headers
        result = process_register(
            request,
            domain=self.config.domain,
            username=username,
            store=self.location,
            policy=self.config.bindings,
            wall=wall,
            source=source,
        )
        if result.status == 200:
            self.stats["registrations"] += 1
            for binding in result.bindings:
                if len(self._expiries) < _MAX_EXPIRY_HEAP:
                    heapq.heappush(self._expiries, now + (binding.expires_at - wall))
        headers = extra + result.headers
        self._answer(_In(tid, request, source), now, result.status, result.reason, headers)

    def _for_us(self, tid: int, request: Request, source: Peer, now: float) -> None:
        if self._unsupported(tid, request, source, now):
            return
        if request.method == "OPTIONS":
            self._answer(_In(tid, request, source), now, 200, "OK", (("Allow", _ALLOW),))
        else:
            self._answer(_In(tid, request, source), now, 404, "Not Found")

    # -- helpers ------------------------------------------------------------------------------
    def _trusted(self, source: Peer) -> bool:
        """A peer proxy: a configured address, or a TLS peer whose certificate
        proved a trusted domain (RFC 5922 §7)."""
        if source.host in self.config.trusted_addresses:
            return True
        return (
            source.transport == "tls"
            and source.server_name is not None
            and source.server_name.lower() in self.config.trusted_domains
        )

    def _from_ours(self, request: Request) -> bool:
        from_ = request.from_
        uri = from_.uri if from_ is not None else None
        return isinstance(uri, SipUri) and uri.host.lower().rstrip(".") == self.config.domain

    def _from_user_is(self, request: Request, username: str) -> bool:
        from_ = request.from_
        uri = from_.uri if from_ is not None else None
        aor = aor_of(uri, self.config.domain)
        return (
            aor is not None
            and aor_of(SipUri(self.config.domain, user=username), self.config.domain) == aor
        )

    def _refuse_auth(
        self, tid: int, request: Request, source: Peer, now: float, outcome: AuthOutcome
    ) -> None:
        self.stats[f"auth_{outcome.status}"] += 1
        self._answer(
            _In(tid, request, source),
            now,
            outcome.status,
            outcome.reason,
            outcome.headers,
            detail=outcome.detail,
        )

    def _answer(
        self,
        incoming: _In,
        now: float,
        status: int,
        reason: str,
        headers: tuple[tuple[str, str], ...] = (),
        *,
        overload: bool = False,
        detail: str = "",
    ) -> None:
        """A response of our own to server transaction ``incoming.tid``."""
        tid, request, source = incoming
        try:
            response = make_response(request, status, reason)
        except LocalProtocolError:  # a reason built from peer text that is not a legal phrase
            response = make_response(request, status)
        for name, value in headers:
            response.headers.add(name, value)
        if overload:
            response.headers.add("Retry-After", "5")
            self.stats["overload"] += 1
        response.headers.add("Server", self.config.user_agent)
        try:
            self._layer.send_response(tid, response, now)
        except LocalProtocolError:
            self.stats["responses_unsent"] += 1
            return
        self._record(request, source, (status, 0.0, 0), detail)

    def _final_sent(self, context: ResponseContext, response: Response, now: float) -> None:
        summary = (response.status, now - context.started, context.sent)
        self._record(context.request, context.source, summary, "")

    def _record(
        self, request: Request, source: Peer, summary: tuple[int, float, int], detail: str
    ) -> None:
        status, duration, branches = summary
        from_, to = parties(request)
        record = TransactionLogged(
            request.method, from_, to, status, duration, branches, str(source), detail
        )
        self.log_transaction(record)

    def log_transaction(self, record: TransactionLogged) -> None:
        """Count, keep and log one finished transaction (the fast relay's too)."""
        self.stats[f"status_{record.status // 100}xx"] += 1
        self.log.append(record)
        if self.access_log is not None:
            self.access_log(record)
        elif logger.isEnabledFor(logging.INFO):
            logger.info("%s", log_line(record))
        if self.on_log is not None:
            self.on_log(record)
