"""The live TCP/TLS connections of one transport: finding one to reuse,
opening new ones, and closing idle and half-open ones (RFC 3261 §18.1.1,
§18.2.2; RFC 5923 in spirit; RFC 5922 for which TLS connection speaks for
which domain).

Connections are found by id (a :class:`~sipsec.transaction.Peer` names the
one a message came on), else by remote address or an ``alias`` the far end
announced — for TLS only when its certificate speaks for the domain asked
for. Concurrent sends to one new peer share one connection attempt.

A timer closes connections idle for ``idle_timeout`` and ones still in
their handshake after ``handshake_timeout``. Sans-IO style, the pool only
says when (:meth:`ConnectionPool.get_timer`) and acts when told
(:meth:`ConnectionPool.handle_timer`); an endpoint folds that into its one
``call_at`` (:meth:`ConnectionPool.drive_timer`), a bare transport arms its own.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import Callable

from sipsec.transaction import Peer

from .connections import Limits, StreamConnection, StreamOwner
from .errors import ConnectFailed, ConnectionLimitReached, TlsNameMissing, TransportFailure
from .tls import (
    TlsConfigurationError,
    TlsSettings,
    check_peer_domain,
    client_context,
    is_ip_literal,
    server_context,
)

__all__ = ["ConnectionPool"]

_Key = tuple[str, str, int, str | None]


class ConnectionPool:
    """Every stream connection of one :class:`~sipsec.transport.sip.SipTransport`."""

    def __init__(
        self, owner: StreamOwner, limits: Limits, stats: Counter[str], tls: TlsSettings | None
    ) -> None:
        self.owner = owner
        self.limits = limits
        self.stats = stats
        self.tls = tls
        self.by_id: dict[int, StreamConnection] = {}
        self._connecting: dict[_Key, asyncio.Task[StreamConnection]] = {}
        self._client_ctx: ssl.SSLContext | None = None
        self._server_ctx: ssl.SSLContext | None = None
        self._timer: asyncio.TimerHandle | None = None  # only without a driver
        self._next_due: float | None = None
        self._wake: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self.by_id)

    def full(self) -> bool:
        return len(self.by_id) >= self.limits.max_connections

    def server_context(self) -> ssl.SSLContext:
        if self.tls is None:
            raise TlsConfigurationError("listening on TLS needs TlsSettings")
        if self._server_ctx is None:
            self._server_ctx = server_context(self.tls)
        return self._server_ctx

    # -- membership ---------------------------------------------------------------------------
    def add(self, conn: StreamConnection) -> None:
        self.by_id[conn.id] = conn
        limits = self.limits
        self._arm(conn.opened_at + min(limits.handshake_timeout, limits.idle_timeout))

    def remove(self, conn: StreamConnection) -> None:
        self.by_id.pop(conn.id, None)

    def get(self, connection_id: int | None, transport: str) -> StreamConnection | None:
        conn = self.by_id.get(connection_id) if connection_id is not None else None
        if conn is None or conn.closed or conn.transport_name != transport:
            return None
        if not conn.established.done() or conn.established.exception() is not None:
            return None
        return conn

    # -- choosing -----------------------------------------------------------------------------
    def existing(self, peer: Peer) -> StreamConnection | None:
        """The connection ``peer`` names, else an established one to its
        address (or alias) that speaks for its domain; the most recently
        active first."""
        conn = self.get(peer.connection_id, peer.transport)
        if conn is not None:
            return conn
        want = (peer.host, peer.port)
        best: StreamConnection | None = None
        for conn in self.by_id.values():
            if conn.closed or conn.transport_name != peer.transport:
                continue
            if not conn.established.done() or conn.established.exception() is not None:
                continue
            newer = best is None or conn.last_activity > best.last_activity
            if (
                newer
                and (conn.remote == want or want in conn.aliases)
                and self._speaks_for(conn, peer)
            ):
                best = conn
        if best is not None:
            self.stats["connections_reused"] += 1
        return best

    def _speaks_for(self, conn: StreamConnection, peer: Peer) -> bool:
        if peer.transport != "tls" or (self.tls is not None and not self.tls.verify):
            return True
        if peer.server_name is None:
            # An IP-literal hop (a Contact, a Record-Route): no domain to check,
            # so no new connection can be opened; one already verified under
            # our TLS policy to exactly this address is what the dialog used.
            return True
        if conn.server_name is not None and conn.server_name.lower() == peer.server_name.lower():
            return True
        if conn.peer_certificate:
            try:
                check_peer_domain(conn.peer_certificate, peer.server_name)
            except TransportFailure:
                return False
            return True
        return False

    # -- opening ------------------------------------------------------------------------------
    async def open(self, peer: Peer) -> StreamConnection:
        """A new connection to ``peer``; concurrent callers share one attempt."""
        key = (peer.transport, peer.host, peer.port, peer.server_name)
        task = self._connecting.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._connect(peer))
            self._connecting[key] = task
            task.add_done_callback(lambda _: self._connecting.pop(key, None))
        return await asyncio.shield(task)

    def _tls_context(self, peer: Peer) -> tuple[ssl.SSLContext, bool]:
        if self.tls is None:
            raise TlsConfigurationError(f"no TlsSettings to reach {peer}")
        verify = self.tls.verify
        name = peer.server_name
        if verify and (name is None or is_ip_literal(name)):
            raise TlsNameMissing(
                f"{peer} has no domain to verify (RFC 5922: SNI and the certificate "
                "check need the SIP domain, never an IP address)"
            )
        if self._client_ctx is None:
            self._client_ctx = client_context(self.tls)
        return self._client_ctx, verify

    async def _connect(self, peer: Peer) -> StreamConnection:
        if self.full():
            raise ConnectionLimitReached(
                f"{self.limits.max_connections} connections open; not opening one to {peer}"
            )
        context, verify = self._tls_context(peer) if peer.transport == "tls" else (None, True)

        def factory() -> StreamConnection:
            return StreamConnection(
                self.owner,
                peer.transport,
                limits=self.limits,
                tls_context=context,
                server_name=peer.server_name,
                verify_name=verify,
            )

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.handshake_timeout
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(factory, peer.host, peer.port)
        except (OSError, TimeoutError) as exc:
            self.stats["connect_failures"] += 1
            why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
            raise ConnectFailed(f"cannot connect to {peer}: {why}") from None
        self.stats[f"{peer.transport}_connections_opened"] += 1
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(conn.established)
        except TimeoutError:
            if not conn.closed:  # else the sweep closed it and counted it
                conn.abort()
                self.stats["handshake_timeouts"] += 1
            raise ConnectFailed(f"TLS handshake with {peer} timed out") from None
        except TransportFailure:
            self.stats["connect_failures"] += 1
            raise
        return conn

    # -- closing ------------------------------------------------------------------------------
    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending = list(self._connecting.values())
        for task in pending:
            task.cancel()
        for conn in list(self.by_id.values()):
            conn.abort()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- the timer: idle and half-open connections ----------------------------------------
    def drive_timer(self, wake: Callable[[], None]) -> None:
        """Let a driver own the timer (the endpoint's one ``call_at``): the
        pool stops arming its own and calls ``wake`` when :meth:`get_timer`
        moves earlier."""
        self._wake = wake
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def get_timer(self) -> float | None:
        """When a connection may next be due to close (a lower bound: activity
        only moves a deadline later), in the loop's clock."""
        return self._next_due

    def handle_timer(self, now: float) -> None:
        """Close what is due at ``now``: connections idle ``idle_timeout``,
        and ones still connecting or in the handshake after ``handshake_timeout``."""
        due = self._next_due
        if due is None:
            return
        if now < due:  # woken early (clock resolution): wait for the deadline
            if self._wake is None and self._timer is None:
                self._timer = asyncio.get_running_loop().call_at(due, self._fire)
            return
        limits = self.limits
        next_due: float | None = None
        for conn in list(self.by_id.values()):
            if conn.closed:
                continue
            if not conn.established.done():
                due = conn.opened_at + limits.handshake_timeout
                if due <= now:
                    self.stats["handshake_timeouts"] += 1
                    conn.abort()
                    continue
            else:
                due = conn.last_activity + limits.idle_timeout
                if due <= now:
                    self.stats["idle_closed"] += 1
                    conn.close()
                    continue
            next_due = due if next_due is None else min(next_due, due)
        self._next_due = None
        if next_due is not None:
            self._arm(next_due)

    def _arm(self, deadline: float) -> None:
        if self._next_due is not None and self._next_due <= deadline:
            return
        self._next_due = deadline
        if self._wake is not None:
            self._wake()
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.handle_timer(asyncio.get_running_loop().time())
