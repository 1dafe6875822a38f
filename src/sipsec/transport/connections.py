"""TCP and TLS connections for SIP (RFC 3261 §18.3, RFC 5626 §3.5.1, RFC 5923).

One :class:`StreamConnection` per socket: a plain ``asyncio.Protocol``
that frames the byte stream into SIP messages with
:class:`sipsec.sip.StreamFramer`. TLS runs *inside* it through
``ssl.MemoryBIO`` and ``SSLObject`` rather than asyncio's own TLS
transport, for two reasons: the wire trace must see the encrypted records
exactly as they cross the socket (the demo writes them to a pcap), and the
handshake is ours to time out and to classify when it fails.

Which connection to use, and opening new ones, is :mod:`.pool`'s job.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol, cast

from sipsec.sip import Request, Response, SipParseError, StreamFramer
from sipsec.transaction import Peer, TransportName

from .errors import ConnectionLost, TlsVerificationError
from .tls import check_peer_domain, classify_ssl_error, peer_identities
from .trace import WireCallback, WireRecord, emit

__all__ = ["Limits", "StreamConnection", "StreamOwner"]

_log = logging.getLogger("sipsec.transport")
_ids = itertools.count(1)
_READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what peers can make us hold.

    ``max_connections`` counts both directions per transport object;
    ``idle_timeout`` closes a connection silent that long;
    ``handshake_timeout`` closes one still connecting or in its TLS
    handshake; ``max_message_size`` caps the framer's buffer (a peer that
    never ends its headers cannot grow it further); ``max_write_buffer``
    closes a connection whose peer stopped reading.
    """

    max_connections: int = 1024
    idle_timeout: float = 1800.0
    handshake_timeout: float = 10.0
    max_message_size: int = 65535
    max_write_buffer: int = 1 << 20


class StreamOwner(Protocol):
    """What a connection tells its transport."""

    stats: Counter[str]
    on_wire: WireCallback | None

    def stream_message(self, conn: StreamConnection, message: Request | Response) -> None: ...

    def stream_error(self, conn: StreamConnection, error: SipParseError) -> None:
        """The framing is lost (the connection closes next)."""
        ...

    def stream_rejected(self, conn: StreamConnection, data: bytes, error: SipParseError) -> None:
        """One message, framed soundly, did not parse: ``data`` is its bytes."""
        ...

    def stream_closed(self, conn: StreamConnection) -> None: ...

    def stream_opened(self, conn: StreamConnection) -> bool:
        """A new connection: False closes it at once (too many)."""
        ...


def _address(value: object) -> tuple[str, int]:
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), cast(int, value[1]))
    return ("", 0)


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection carrying SIP messages."""

    def __init__(
        self,
        owner: StreamOwner,
        transport_name: TransportName,
        *,
        limits: Limits,
        tls_context: ssl.SSLContext | None = None,
        server_side: bool = False,
        server_name: str | None = None,
        verify_name: bool = True,
    ) -> None:
        self.id = next(_ids)
        self.owner = owner
        self.transport_name: TransportName = transport_name
        self.limits = limits
        self.server_side = server_side
        self.server_name = server_name  # the domain we check (client) or the peer proved
        self.tls_peer: str | None = None
        self.peer_certificate: bytes | None = None
        self.local: tuple[str, int] = ("", 0)
        self.remote: tuple[str, int] = ("", 0)
        self.aliases: set[tuple[str, int]] = set()  # RFC 5923 sent-by of the far end
        self.established: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._loop = asyncio.get_running_loop()
        self.opened_at = self.last_activity = self._loop.time()  # the loop's clock, as ``now``
        self.closed = False
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(max_message_size=limits.max_message_size)
        self._context = tls_context
        self._verify_name = verify_name
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.local = _address(transport.get_extra_info("sockname"))
        self.remote = _address(transport.get_extra_info("peername"))
        self._wire("in" if self.server_side else "out", b"", "open")
        if not self.owner.stream_opened(self):
            self.abort()
            return
        if self._context is None:
            self._settle(None)
            return
        self._tls = self._context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=self.server_side,
            server_hostname=None if self.server_side else self.server_name,
        )
        if not self.server_side:
            self._handshake()

    def data_received(self, data: bytes) -> None:
        self.last_activity = self._loop.time()
        self._wire("in", data, "data")
        if self._tls is None:
            self._feed(data)
            return
        self._incoming.write(data)
        if not self.established.done():
            self._handshake()
            if not self.established.done() or self.closed:
                return
        self._read_tls()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
        self._wire("in", b"", "close")
        if not self.established.done():
            reason = "connection closed during the handshake" if self._tls else "connection lost"
            self.established.set_exception(ConnectionLost(f"{reason} ({self.remote_text})"))
            self.established.exception()  # retrieved: nobody may be waiting
        self.owner.stream_closed(self)

    # -- sending ------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue one message; raises ConnectionLost when it cannot go."""
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise ConnectionLost(f"connection to {self.remote_text} is closed")
        if transport.get_write_buffer_size() > self.limits.max_write_buffer:
            self.owner.stats["write_overflows"] += 1
            self.abort()
            raise ConnectionLost(f"{self.remote_text} is not reading; connection closed")
        self.last_activity = self._loop.time()
        if self._tls is None:
            self._write(data)
            return
        try:
            self._tls.write(data)
        except ssl.SSLError as exc:
            self.abort()
            raise ConnectionLost(f"TLS write to {self.remote_text} failed: {exc}") from None
        self._flush()

    def close(self) -> None:
        """Close politely (TLS close_notify first)."""
        if self.closed:
            return
        self.closed = True
        if self._tls is not None and self.established.done():
            try:
                self._tls.unwrap()
            except ssl.SSLError:
                pass
            self._flush()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    @property
    def remote_text(self) -> str:
        host, port = self.remote
        return (
            f"{self.transport_name}:[{host}]:{port}"
            if ":" in host
            else (f"{self.transport_name}:{host}:{port}")
        )

    def as_peer(self) -> Peer:
        host, port = self.remote
        return Peer(self.transport_name, host, port, self.server_name, self.id)

    # -- internals ------------------------------------------------------------------------
    def _wire(self, direction: str, data: bytes, event: str) -> None:
        if self.owner.on_wire is None:
            return
        record = WireRecord(
            time.time(),
            "in" if direction == "in" else "out",
            self.transport_name,
            self.local,
            self.remote,
            data,
            "open" if event == "open" else "close" if event == "close" else "data",
        )
        emit(self.owner.on_wire, record, self.owner.stats)

    def _write(self, data: bytes) -> None:
        assert self._transport is not None
        self._wire("out", data, "data")
        self._transport.write(data)

    def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending and self._transport is not None and not self._transport.is_closing():
            self._write(pending)

    def _settle(self, error: Exception | None) -> None:
        if self.established.done():
            return
        if error is None:
            self.established.set_result(None)
        else:
            self.established.set_exception(error)
            self.established.exception()  # marked retrieved; the waiter re-reads it

    def _handshake(self) -> None:
        tls = self._tls
        assert tls is not None
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._flush()  # the alert, so the peer learns why
            self._fail_handshake(classify_ssl_error(exc))
            return
        self._flush()
        try:
            self._verify_peer(tls)
        except TlsVerificationError as exc:
            self._fail_handshake(exc)
            return
        self._settle(None)

    def _verify_peer(self, tls: ssl.SSLObject) -> None:
        der = tls.getpeercert(binary_form=True)
        self.peer_certificate = der
        if self.server_side:
            identities = peer_identities(der) if der else []
            self.tls_peer = identities[0] if identities else None
            if identities and "@" not in identities[0]:
                self.server_name = identities[0]
            return
        if not self._verify_name:
            self.tls_peer = self.server_name
            return
        if not der:
            raise TlsVerificationError("the TLS server sent no certificate", "no certificate")
        assert self.server_name is not None
        check_peer_domain(der, self.server_name)
        self.tls_peer = self.server_name

    def _fail_handshake(self, error: TlsVerificationError) -> None:
        stats = self.owner.stats
        stats["tls_failures"] += 1
        _log.info("TLS with %s failed: %s", self.remote_text, error)
        self._settle(error)
        self.abort()

    def _read_tls(self) -> None:
        tls = self._tls
        assert tls is not None
        while not self.closed:
            try:
                chunk = tls.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify from the peer
                self.close()
                return
            except ssl.SSLError as exc:
                # TLS 1.3: a server refusing our certificate says so only now.
                self.owner.stats["tls_failures"] += 1
                _log.info("TLS error from %s: %s", self.remote_text, classify_ssl_error(exc))
                self.abort()
                return
            if not chunk:
                self.close()
                return
            self._feed(chunk)
        self._flush()  # TLS 1.3 key updates and the like

    def _feed(self, data: bytes) -> None:
        framer = self._framer
        pings = framer.pings
        owner = self.owner
        try:
            messages, rejected = framer.feed_with_errors(data)
        except SipParseError as error:
            # The framing is lost (RFC 4475 §3.1.2.3): deliver the messages
            # completed before it, answer what was skipped, then close.
            for message in framer.take_messages():
                if self.closed:
                    break
                owner.stream_message(self, message)
            rejected, framer.rejected = framer.rejected, []
            for chunk, bad in rejected:
                owner.stream_rejected(self, chunk, bad)
            owner.stream_error(self, error)
            self.close()
            return
        for message in messages:
            if self.closed:
                return
            owner.stream_message(self, message)
        # §18.3 with the framing intact: one bad message is answered (by the
        # owner, on this connection) and the stream goes on.
        for chunk, bad in rejected:
            if self.closed:
                return
            owner.stream_rejected(self, chunk, bad)
        # RFC 5626 §3.5.1, §4.4.1: each double-CRLF "ping" is answered by one
        # CRLF "pong"; a lone CRLF is not. The framer pairs CRLFs across reads,
        # so a ping split over two reads is counted once, when it completes.
        for _ in range(framer.pings - pings):
            if self.closed:
                return
            try:
                self.send(b"\r\n")
            except ConnectionLost:
                return  # the peer stopped reading: send() closed the connection
            owner.stats["keepalive_pongs"] += 1
