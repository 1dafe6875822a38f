"""A domain's proxy and registrar on the network: :func:`run_proxy`.

The asyncio shell around :class:`sipsec.proxy.ProxyCore`: open the stores
(SQLite at ``database`` by default, Redis with ``redis_url``), listen, attach
the core to a :class:`SipEndpoint`. :meth:`ProxyServer.close` shuts down
cleanly: new requests get 503 + Retry-After, transactions in flight get a
short grace to finish, then the sockets and the stores close (SQLite commits
every REGISTER as it happens, so nothing is lost).

While at least one proxy runs, the cyclic garbage collector's first
threshold is raised (:class:`_CollectorTuning`, restored when the last one
closes; ``tune_gc=False`` leaves it alone): a proxy keeps every transaction
for up to 64*T1 after its last message, so the default threshold (700
allocations) sent those survivors through generation 2 scans again and again
— 13 % of the proxy's CPU per call, measured with ``bench/bench_proxy.py``.
Nothing per call depends on the collector: requests, responses and
transactions are freed by reference counting when the layer forgets them.

With ``config.fast_relay`` (the default) UDP datagrams reach
:class:`sipsec.proxy.relay.FastRelay` before anything parses them
(``SipTransport.on_datagram``): it relays the plain common call on bytes,
statefully, and declines everything else, which then takes the path above
unchanged. :class:`~.proxy_relay.RelayShell` sends what it produces and runs
its timers on one ``call_at`` handle, in slots of T1/32.

The stores are synchronous (SQLite in-process, Redis round trips): a
REGISTER or a lookup blocks the loop for that call. That is a deliberate
trade: one call costs tens of microseconds on SQLite, and the core stays
free of ``await``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import time
from collections.abc import Sequence

from sipsec.auth import NonceCountStore
from sipsec.proxy import (
    CredentialStore,
    LocationStore,
    ProxyConfig,
    ProxyCore,
    SqliteCredentialStore,
    SqliteDatabase,
    SqliteLocationStore,
)
from sipsec.proxy.authenticate import DomainAuthenticator
from sipsec.proxy.relay import FastRelay
from sipsec.transaction import Peer, TransportName

from .endpoint import SipEndpoint
from .proxy_relay import RelayShell
from .resolver import Resolver
from .tls import TlsSettings
from .trace import TraceCallback, WireCallback

__all__ = ["ProxyServer", "RelayShell", "open_nonce_counts", "open_stores", "run_proxy"]

_log = logging.getLogger("sipsec.proxy")
_GRACE = 2.0  # seconds transactions in flight get at shutdown
_POLL = 0.02
_GC_THRESHOLD = (50_000, 20, 100)  # generation 0 allocations, then 1 and 2 as multiples


class _CollectorTuning:
    """The raised collector thresholds, shared by every proxy of the process
    (a demo runs two): set by the first, restored by the last to close."""

    def __init__(self) -> None:
        self.users = 0
        self.saved: tuple[int, int, int] | None = None

    def acquire(self) -> None:
        if self.users == 0:
            self.saved = gc.get_threshold()
            gc.set_threshold(*_GC_THRESHOLD)
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None


_COLLECTOR = _CollectorTuning()


def open_stores(
    database: str | None, redis_url: str | None
) -> tuple[LocationStore, CredentialStore, list[object]]:
    """The location and credential stores, and what to close at the end.

    Redis when ``redis_url`` is given (several proxies share one domain),
    else SQLite at ``database`` (``:memory:`` when None: a throwaway proxy).
    """
    if redis_url is not None:
        from sipsec.proxy.credentials_redis import RedisCredentialStore
        from sipsec.proxy.location_redis import RedisLocationStore

        location: LocationStore = RedisLocationStore(redis_url)
        credentials: CredentialStore = RedisCredentialStore(redis_url)
        return location, credentials, [location, credentials]
    db = SqliteDatabase(database if database is not None else ":memory:")
    return SqliteLocationStore(db), SqliteCredentialStore(db), [db]


def open_nonce_counts(redis_url: str | None, lifetime: float) -> NonceCountStore | None:
    """Nonce counts in Redis when several processes share the domain there
    (a replay sent to a sibling process is caught); None: the core's own
    in-process table."""
    if redis_url is None:
        return None
    from sipsec.proxy.nonce_redis import RedisNonceCounts

    return RedisNonceCounts(redis_url, lifetime=lifetime)


class ProxyServer:
    """A running proxy: its core, endpoint, and the addresses it listens on."""

    def __init__(
        self,
        core: ProxyCore,
        endpoint: SipEndpoint,
        addresses: list[Peer],
        closables: list[object],
        *,
        tune_gc: bool = False,
    ) -> None:
        self.core = core
        self.endpoint = endpoint
        self.addresses = addresses
        self.tcp_beside_udp: list[Peer] = []  # added by run_proxy (§18), not asked for
        self.relay: RelayShell | None = None  # set by run_proxy when config.fast_relay
        self._closables = closables
        self._closed = False
        self._tuned_gc = tune_gc
        if tune_gc:
            _COLLECTOR.acquire()

    @property
    def stats(self) -> dict[str, int]:
        relay = self.relay.relay.stats if self.relay is not None else {}
        return {
            **self.endpoint.stats,
            **self.endpoint.transport.stats,
            **self.core.stats,
            **relay,
        }

    def _in_flight(self) -> int:
        relay = self.relay.relay.pending if self.relay is not None else 0
        return len(self.core.forwarder) + relay

    async def close(self, grace: float = _GRACE) -> None:
        """Stop accepting, let transactions in flight finish (up to ``grace``
        seconds), then close the sockets and the stores."""
        if self._closed:
            return
        self._closed = True
        self.core.accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._in_flight() and loop.time() < deadline:
            await asyncio.sleep(_POLL)
        left = self._in_flight()
        if left:
            _log.warning("closing with %d transaction(s) still in flight", left)
        if self.relay is not None:
            self.relay.close()
        await self.endpoint.close()
        for item in self._closables:
            close = getattr(item, "close", None)
            if close is not None:
                close()
        if self._tuned_gc:
            self._tuned_gc = False
            _COLLECTOR.release()

    async def __aenter__(self) -> ProxyServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def run_proxy(
    config: ProxyConfig,
    *,
    listen: Sequence[tuple[TransportName, str, int]],
    tls: TlsSettings | None,
    database: str | None,
    redis_url: str | None,
    on_trace: TraceCallback | None = None,
    on_wire: WireCallback | None = None,
    secret: bytes | None = None,
    authenticate_registers: bool = True,
    use_dns: bool = True,
    tune_gc: bool = True,
    tcp_beside_udp: bool = True,
) -> ProxyServer:
    """Start a proxy for ``config.domain``; see the module docstring.

    ``config.local`` is filled from the bound addresses for the transports
    it does not name (port 0 picks a free port). ``secret`` keys nonces and
    branches: share it between processes that serve one domain through
    Redis; a fresh random one otherwise. With ``redis_url`` the nonce
    counts live in Redis too (:class:`sipsec.proxy.nonce_redis.RedisNonceCounts`),
    so a (nonce, nc) accepted by one process is a replay to every other.
    ``tune_gc``: raise the garbage collector's threshold while the proxy
    runs (see the module docstring).
    ``tcp_beside_udp``: RFC 3261 §18 — "all SIP elements MUST implement
    UDP and TCP" — so a UDP listener whose host has no TCP listener gets one
    on the same port (a free one if the UDP port was chosen with 0 and is
    taken for TCP); they are in ``ProxyServer.tcp_beside_udp``, not in
    ``addresses``. Without it a request over 1300 bytes for a UDP hop
    cannot move to TCP (§18.1.1) and the proxy answers 500.
    """
    if not listen:
        raise ValueError("listen on at least one transport")
    if redis_url is not None and secret is None:
        # Nonces are HMACs under the secret: a random one per process means a
        # nonce this process mints fails in every sibling on the same Redis.
        _log.warning("Redis store without a shared secret: nonces will not validate elsewhere")
    location, credentials, closables = open_stores(database, redis_url)
    try:
        nonce_counts = open_nonce_counts(redis_url, config.nonce_lifetime)
    except BaseException:
        for item in closables:
            getattr(item, "close", lambda: None)()
        raise
    if nonce_counts is not None:
        closables.append(nonce_counts)
    resolver = Resolver(config.hosts, use_dns=use_dns)
    endpoint = SipEndpoint(tls=tls, resolver=resolver, on_trace=on_trace, on_wire=on_wire)
    try:
        addresses = [await endpoint.listen(t, host, port) for t, host, port in listen]
        beside = await _tcp_beside_udp(endpoint, listen, addresses) if tcp_beside_udp else []
    except BaseException:
        await endpoint.close()
        for item in closables:
            getattr(item, "close", lambda: None)()
        raise
    local = dict(config.local)
    for peer in addresses + beside:
        configured = local.get(peer.transport)
        if configured is None or configured[1] == 0:
            local[peer.transport] = (peer.host, peer.port)
    config = dataclasses.replace(config, local=local)
    loop = asyncio.get_running_loop()
    core_secret = secret if secret is not None else os.urandom(32)
    offset = time.time() - loop.time()  # monotonic -> wall clock, for stores and nonces
    core = ProxyCore(
        config,
        location,
        credentials,
        secret=core_secret,
        wall=lambda now: now + offset,
        authenticate_registers=authenticate_registers,
    )
    if nonce_counts is not None:
        # ProxyCore builds its authenticator with the in-process table; the
        # shared one replaces it before the first request can arrive.
        core.auth = DomainAuthenticator(config, credentials, core_secret, nonce_counts=nonce_counts)
    endpoint.attach(core)
    relay = None
    if config.fast_relay and "udp" in config.local:
        relay = RelayShell(FastRelay(core), endpoint.transport)
        endpoint.transport.on_datagram = relay.datagram
    _log.info(
        "proxy for %s listening on %s",
        config.domain,
        ", ".join(str(a) for a in addresses + beside),
    )
    server = ProxyServer(core, endpoint, addresses, closables, tune_gc=tune_gc)
    server.tcp_beside_udp = beside
    server.relay = relay
    return server


async def _tcp_beside_udp(
    endpoint: SipEndpoint,
    listen: Sequence[tuple[TransportName, str, int]],
    addresses: list[Peer],
) -> list[Peer]:
    """A TCP listener at host:port of every UDP listener whose host has no
    TCP listener of its own (§18: every element MUST implement TCP)."""
    hosts_with_tcp = {host for t, host, _ in listen if t == "tcp"}
    added: list[Peer] = []
    for (transport, host, port), bound in zip(listen, addresses, strict=True):
        if transport != "udp" or host in hosts_with_tcp:
            continue
        hosts_with_tcp.add(host)
        try:
            added.append(await endpoint.listen("tcp", host, bound.port))
        except OSError:
            if port != 0:
                raise  # the operator named this port: a TCP user of it is their problem to see
            added.append(await endpoint.listen("tcp", host, 0))
    return added
