"""The SIP transport layer over asyncio: UDP, TCP and TLS (RFC 3261 §18).

:class:`SipTransport` listens, parses what arrives into messages (stamping
the top Via of requests per §18.2.1 and RFC 3581 first), and sends messages
to a :class:`~sipsec.transaction.Peer`:

- UDP leaves from the listening socket of the destination's address family,
  so responses come back to it; a request over 1300 octets moves to TCP
  (§18.1.1) when there is a TCP listener to name in the Via, and is refused
  with :class:`MessageTooLarge` when there is not (sending it as a
  fragmenting datagram is what §18.1.1 exists to prevent).
- Streams: the connection named by ``peer.connection_id`` if it is alive;
  else an established one to the same address (TLS: one whose certificate
  speaks for ``peer.server_name``); else a new one. Responses follow §18.2.2.
- The ACK and the CANCEL of a request moved to TCP follow it (§17.1.1.3,
  §9.1) onto its connection, though the transaction layer addressed them to
  the UDP peer: :mod:`.tcp_moves` remembers each move by branch for the
  transaction's lifetime (``udp_followed_to_tcp``).
- Input that does not parse is answered statelessly (400, 505 …) when the
  headers a response copies can be found, otherwise dropped; both counted.
  On a stream this holds for a message whose framing is sound (answered on
  its connection, which stays open); lost framing closes the connection.
- §18.1.2: a response whose top Via sent-by is none this transport has put
  into a request is discarded (``responses_not_ours``).
  Nothing a peer sends raises out of this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import cast

from sipsec.sip import Request, Response, SipParseError, Via, parse_message
from sipsec.transaction import Peer, TransportName

from .connections import Limits, StreamConnection
from .errors import MessageTooLarge, NoListener, TransportFailure
from .pool import ConnectionPool
from .routing import (
    UDP_MTU_THRESHOLD,
    UDP_PAYLOAD_LIMIT,
    SentBys,
    error_response,
    parse_ip,
    response_destination,
    stamp_via,
    via_alias,
)
from .tcp_moves import TcpMoves
from .tls import TlsSettings
from .trace import TraceCallback, TraceRecord, WireCallback, WireRecord, emit

__all__ = ["DatagramHook", "MessageCallback", "SipTransport"]

_log = logging.getLogger("sipsec.transport")

MessageCallback = Callable[[Request | Response, Peer], None]
# A raw UDP datagram and its source, offered before anything parses it; True:
# taken (the proxy's fast relay, sipsec.proxy.relay), False: parse it as usual.
DatagramHook = Callable[[bytes, tuple[str, int]], bool]
_BLANK = (b"", b"\r", b"\n", b"\x00", b" ")


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.local: tuple[str, int] = ("", 0)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        name = transport.get_extra_info("sockname")
        self.local = (str(name[0]), int(name[1]))

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        # (host, port) over IPv4, (host, port, flowinfo, scope_id) over IPv6;
        # the IPv4 tuple is passed on as it is, no new object per datagram.
        # An annotation, not typing.cast: no call per datagram.
        source: tuple[str, int] = addr if len(addr) == 2 else addr[:2]  # type: ignore[assignment]
        self.owner.datagram_received(self, data, source)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for an earlier datagram: nothing to retry here;
        # the transaction's timers notice the silence (§17.1.1.2).
        self.owner.stats["udp_icmp_errors"] += 1


def _family(host: str) -> int:
    return 6 if ":" in host else 4


class SipTransport:
    """UDP, TCP and TLS listeners and connections for one SIP element."""

    def __init__(
        self,
        *,
        on_message: MessageCallback,
        tls: TlsSettings | None = None,
        on_trace: TraceCallback | None = None,
        on_wire: WireCallback | None = None,
        limits: Limits | None = None,
        on_datagram: DatagramHook | None = None,
    ) -> None:
        self.on_message = on_message
        self.on_datagram = on_datagram
        self.tls = tls
        self.on_trace = on_trace
        self.on_wire = on_wire
        self.limits = limits if limits is not None else Limits()
        self.stats: Counter[str] = Counter()
        self._pool = ConnectionPool(self, self.limits, self.stats, tls)
        self._udp: list[tuple[Peer, _Datagrams]] = []
        self._servers: list[tuple[Peer, asyncio.Server]] = []
        self._moved = TcpMoves(self.stats)  # §18.1.1 moves, for the ACK/CANCEL to follow
        self.sent_by = SentBys()  # §18.1.2: the responses we accept name one of these
        self._closed = False

    # -- listening ----------------------------------------------------------------------------
    async def listen(self, transport: TransportName, host: str, port: int = 0) -> Peer:
        """Listen on ``host:port`` (0: any free port); returns the bound address.
        Raises OSError when the address cannot be bound."""
        if self._closed:
            raise TransportFailure("the transport is closed")
        if transport not in ("udp", "tcp", "tls"):
            raise TransportFailure(f"unknown transport {transport!r}")
        loop = asyncio.get_running_loop()
        if transport == "udp":
            _, proto = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(host, port)
            )
            bound = Peer("udp", proto.local[0], proto.local[1])
            self._udp.append((bound, proto))
            return bound
        context = self._pool.server_context() if transport == "tls" else None

        def factory() -> StreamConnection:
            return StreamConnection(
                self, transport, limits=self.limits, tls_context=context, server_side=True
            )

        server = await loop.create_server(factory, host, port)
        name = server.sockets[0].getsockname()
        bound = Peer(transport, str(name[0]), int(name[1]))
        self._servers.append((bound, server))
        return bound

    def listening(self, transport: TransportName) -> Peer | None:
        """The first listener of ``transport``, or None."""
        if transport == "udp":
            return self._udp[0][0] if self._udp else None
        return next((peer for peer, _ in self._servers if peer.transport == transport), None)

    def listeners(self) -> list[Peer]:
        return [peer for peer, _ in self._udp] + [peer for peer, _ in self._servers]

    def connection(self, connection_id: int) -> StreamConnection | None:
        """A live connection (its ``tls_peer``, ``peer_certificate``,
        ``remote`` …), or None."""
        conn = self._pool.by_id.get(connection_id)
        return None if conn is None or conn.closed else conn

    # -- the connections' timer (idle, half-open), for a driver to fold into its own ----------
    def get_timer(self) -> float | None:
        return self._pool.get_timer()

    def handle_timer(self, now: float) -> None:
        self._pool.handle_timer(now)

    def drive_timer(self, wake: Callable[[], None]) -> None:
        """Stop arming a timer of our own; call ``wake`` when
        :meth:`get_timer` moves earlier (the endpoint's one ``call_at``)."""
        self._pool.drive_timer(wake)

    @property
    def connection_count(self) -> int:
        return len(self._pool)

    # -- sending ------------------------------------------------------------------------------
    async def send(self, message: Request | Response, peer: Peer) -> Peer:
        """Send ``message`` to ``peer``; returns the hop actually used (its
        connection_id set for streams). Raises :class:`TransportFailure`."""
        peer, data, moved_from = self._prepare(message, peer)
        if peer.transport == "udp":
            return self._send_datagram(data, peer)
        conn = self._pool.existing(peer)
        if conn is None:
            conn = await self._pool.open(peer)
        used = self._send_on(conn, data)
        if moved_from is not None and isinstance(message, Request):
            self._remember_move(message, moved_from, used)
        return used

    def try_send(self, message: Request | Response, peer: Peer) -> Peer | None:
        """:meth:`send` without waiting: None when a connection must be
        opened first (call :meth:`send` then). Raises TransportFailure."""
        peer, data, moved_from = self._prepare(message, peer)
        if peer.transport == "udp":
            return self._send_datagram(data, peer)
        conn = self._pool.existing(peer)
        if conn is None:
            return None
        used = self._send_on(conn, data)
        if moved_from is not None and isinstance(message, Request):
            self._remember_move(message, moved_from, used)
        return used

    def _prepare(self, message: Request | Response, peer: Peer) -> tuple[Peer, bytes, Peer | None]:
        """The hop, the bytes, and the UDP peer the request was moved away
        from (§18.1.1), if it was."""
        if self._closed:
            raise TransportFailure("the transport is closed")
        if not isinstance(peer, Peer):
            raise TransportFailure(f"not a Peer: {peer!r}")
        if isinstance(message, Response) and (
            not peer.reliable or self._pool.get(peer.connection_id, peer.transport) is None
        ):
            peer = response_destination(message, peer)  # §18.2.2; else the request's connection
        if peer.transport not in ("udp", "tcp", "tls"):
            raise TransportFailure(f"unknown transport {peer.transport!r}")
        if parse_ip(peer.host) is None or not 0 < peer.port < 65536:
            raise TransportFailure(f"{peer} is not an IP address and port; resolve it first")
        if isinstance(message, Request):
            via = message.top_via
            if via is not None:
                self.sent_by.add(via)
        if peer.transport == "udp" and isinstance(message, Request):
            if self._moved:
                followed = self._follow_move(message, peer)
                if followed is not None:
                    return followed, bytes(message), None
            data = bytes(message)
            if len(data) > UDP_MTU_THRESHOLD:
                moved = self._move_to_tcp(message, peer, len(data))
                self.sent_by.add(cast(Via, message.top_via))  # now our TCP listener
                return moved, bytes(message), peer
            return peer, data, None
        return peer, bytes(message), None

    def _send_on(self, conn: StreamConnection, data: bytes) -> Peer:
        conn.send(data)
        self.stats[f"{conn.transport_name}_out"] += 1
        self._trace(
            "out", conn.transport_name, conn.local, conn.remote, data, tls_peer=conn.tls_peer
        )
        return conn.as_peer()

    def _send_datagram(self, data: bytes, peer: Peer) -> Peer:
        if len(data) > UDP_PAYLOAD_LIMIT:
            raise MessageTooLarge(f"{len(data)} bytes do not fit a UDP datagram to {peer}")
        listener = next((p for p in self._udp if _family(p[0].host) == _family(peer.host)), None)
        if listener is None or listener[1].transport is None:
            raise NoListener(f"no UDP listener of IPv{_family(peer.host)} to send to {peer} from")
        sock = listener[1]
        assert sock.transport is not None
        if sock.transport.is_closing():
            raise NoListener(f"the UDP listener {listener[0]} is closed")
        address = (peer.host, peer.port)
        if self.on_wire is not None:
            self._wire("out", "udp", sock.local, address, data)
        sock.transport.sendto(data, address)
        self.stats["udp_out"] += 1
        if self.on_trace is not None:
            self._trace("out", "udp", sock.local, address, data)
        if peer.transport == "udp" and peer.connection_id is None:
            return peer  # already the hop used: no new Peer per datagram
        return Peer("udp", peer.host, peer.port, peer.server_name)

    def send_datagram(self, data: bytes, address: tuple[str, int]) -> None:
        """Send bytes that are already a SIP message (the fast relay's) over
        UDP to ``address`` from our listener of its family. Raises
        :class:`TransportFailure`."""
        if self._closed:
            raise TransportFailure("the transport is closed")
        sock = self._udp[0][1] if len(self._udp) == 1 else None
        transport = sock.transport if sock is not None else None
        if (
            sock is None
            or transport is None
            or transport.is_closing()
            or len(data) > UDP_PAYLOAD_LIMIT
            or _family(sock.local[0]) != _family(address[0])
        ):
            # Several listeners, or anything unusual: the general path and its errors.
            self._send_datagram(data, Peer("udp", address[0], address[1]))
            return
        if self.on_wire is not None:
            self._wire("out", "udp", sock.local, address, data)
        transport.sendto(data, address)
        self.stats["udp_out"] += 1
        if self.on_trace is not None:
            self._trace("out", "udp", sock.local, address, data)

    def _move_to_tcp(self, request: Request, peer: Peer, size: int) -> Peer:
        """§18.1.1: a request over 1300 octets goes by TCP, its top Via
        naming our TCP listener of the peer's address family."""
        listener = next(
            (
                p
                for p, _ in self._servers
                if p.transport == "tcp" and _family(p.host) == _family(peer.host)
            ),
            None,
        )
        return self._moved.move(request, peer, size, listener)

    def _remember_move(self, request: Request, udp: Peer, used: Peer) -> None:
        self._moved.remember(request, udp, used, asyncio.get_running_loop().time())

    def _follow_move(self, request: Request, udp: Peer) -> Peer | None:
        return self._moved.follow(request, udp, asyncio.get_running_loop().time())

    # -- receiving ----------------------------------------------------------------------------
    def datagram_received(self, sock: _Datagrams, data: bytes, source: tuple[str, int]) -> None:
        self.stats["udp_in"] += 1
        if self.on_wire is not None:
            self._wire("in", "udp", sock.local, source, data)
        if data[:1] in _BLANK and not data.strip(b"\r\n\x00 "):
            self.stats["keepalives_in"] += 1  # RFC 5626 §4.4.1 style CRLF; nothing to answer
            return
        hook = self.on_datagram
        if hook is not None:
            try:
                taken = hook(data, source)
            except Exception:
                self.stats["callback_errors"] += 1
                _log.exception("on_datagram failed for a datagram from %s", source)
                taken = False
            if taken:
                if self.on_trace is not None:
                    self._trace("in", "udp", sock.local, source, data)
                return
        try:
            message = parse_message(data)
        except SipParseError as error:
            self.stats["parse_errors"] += 1
            answer = error_response(data, error, source)
            if answer is None or sock.transport is None:
                self.stats["dropped"] += 1
                return
            self.stats["stateless_replies"] += 1
            self._wire("out", "udp", sock.local, source, answer)
            sock.transport.sendto(answer, source)
            self._trace("out", "udp", sock.local, source, answer)
            return
        if self.on_trace is not None:
            self._trace("in", "udp", sock.local, source, data)
        self._deliver(message, Peer("udp", source[0], source[1]), None)

    def stream_opened(self, conn: StreamConnection) -> bool:
        if conn.server_side and (self._closed or self._pool.full()):
            self.stats["connections_refused"] += 1
            return False
        if conn.server_side:
            self.stats[f"{conn.transport_name}_connections_accepted"] += 1
        self._pool.add(conn)
        return True

    def stream_message(self, conn: StreamConnection, message: Request | Response) -> None:
        self.stats[f"{conn.transport_name}_in"] += 1
        self._trace(
            "in",
            conn.transport_name,
            conn.local,
            conn.remote,
            bytes(message),
            tls_peer=conn.tls_peer,
        )
        if isinstance(message, Request):
            alias = via_alias(message)
            if alias is not None and (conn.transport_name == "tcp" or conn.tls_peer is not None):
                conn.aliases.add(alias)
        elif self._moved:  # an answer to a moved INVITE: its ACK may still come
            self._moved.answered(message, asyncio.get_running_loop().time())
        self._deliver(message, conn.as_peer(), conn)

    def stream_error(self, conn: StreamConnection, error: SipParseError) -> None:
        self.stats["parse_errors"] += 1
        self.stats["dropped"] += 1
        _log.debug("framing lost with %s: %s", conn.remote_text, error.reason)

    def stream_rejected(self, conn: StreamConnection, data: bytes, error: SipParseError) -> None:
        """A message on a stream that did not parse, its framing intact: a
        request is answered statelessly on the same connection with the
        parser's status (§18.3, RFC 4475 §3.1.2), as a datagram would be;
        a response, an ACK or one without the headers to copy is dropped."""
        self.stats["parse_errors"] += 1
        self.stats[f"{conn.transport_name}_rejected"] += 1
        answer = error_response(data, error, conn.remote)
        if answer is None:
            self.stats["dropped"] += 1
            _log.debug("bad message from %s: %s", conn.remote_text, error.reason)
            return
        try:
            conn.send(answer)
        except TransportFailure:  # closed meanwhile, or the peer stopped reading
            self.stats["dropped"] += 1
            return
        self.stats["stateless_replies"] += 1
        self._trace(
            "out", conn.transport_name, conn.local, conn.remote, answer, tls_peer=conn.tls_peer
        )

    def stream_closed(self, conn: StreamConnection) -> None:
        self._pool.remove(conn)

    def _deliver(
        self, message: Request | Response, peer: Peer, conn: StreamConnection | None
    ) -> None:
        if isinstance(message, Request):
            try:
                stamp_via(message, peer.address)
            except SipParseError as error:
                self.stats["dropped"] += 1
                _log.debug("request from %s dropped: %s", peer, error.reason)
                return
        elif not message.vias:
            self.stats["dropped"] += 1
            return
        elif not self.sent_by.ours(message.vias[0]):
            # §18.1.2: not an answer to anything we sent; silently discarded.
            self.stats["responses_not_ours"] += 1
            return
        try:
            self.on_message(message, peer)
        except Exception:
            self.stats["callback_errors"] += 1
            _log.exception("on_message failed for a message from %s", peer)

    # -- observers ----------------------------------------------------------------------------
    def _trace(
        self,
        direction: str,
        transport: TransportName,
        local: tuple[str, int],
        remote: tuple[str, int],
        data: bytes,
        *,
        tls_peer: str | None = None,
    ) -> None:
        if self.on_trace is not None:
            record = TraceRecord(
                time.time(),
                "in" if direction == "in" else "out",
                transport,
                local,
                remote,
                data,
                tls_peer,
            )
            emit(self.on_trace, record, self.stats)

    def _wire(
        self,
        direction: str,
        transport: TransportName,
        local: tuple[str, int],
        remote: tuple[str, int],
        data: bytes,
    ) -> None:
        if self.on_wire is not None:
            record = WireRecord(
                time.time(), "in" if direction == "in" else "out", transport, local, remote, data
            )
            emit(self.on_wire, record, self.stats)

    # -- shutdown -------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close every listener and connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        for _, proto in self._udp:
            if proto.transport is not None:
                proto.transport.close()
        for _, server in self._servers:
            server.close()
        await self._pool.close()
        for _, server in self._servers:
            await server.wait_closed()
        # Let the transports' connection_lost callbacks run (no ResourceWarning).
        for _ in range(3):
            await asyncio.sleep(0)
