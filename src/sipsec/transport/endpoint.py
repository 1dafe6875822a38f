"""The asyncio driver of one SIP element: transports, one transaction user,
one timer (the shell around a sans-IO core, as aioquic's ``protocol.py`` is).

:class:`SipEndpoint` owns a :class:`SipTransport` and a :class:`Resolver`.
Once a :class:`~sipsec.transaction.TransactionUser` (a UA or proxy core) is
attached it

- feeds every received message to ``tu.layer.receive(message, peer, now)``
  (a request the layer refuses gets a stateless 400 or the status the error
  names; a refused response is dropped), then hands the layer's events to
  ``tu.handle_event``;
- sends whatever ``tu.layer.messages_to_send()`` holds; a send that fails is
  reported with ``layer.handle_transport_error`` (§17.1.4, §17.2.4);
- resolves the names ``tu.resolutions_needed()`` asks for (RFC 3263) and
  answers with ``tu.handle_resolution``;
- keeps one ``loop.call_at`` armed for min(layer timer, TU timer, the
  transport's idle/half-open connection timer).

Call :meth:`poke` after calling a TU method from outside (``ua.invite(...)``)
so its messages leave. ``now`` is ``loop.time()`` throughout. No exception
raised by the TU or an observer escapes into the event loop: each is logged
and counted in ``stats["tu_errors"]``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from sipsec.errors import RemoteProtocolError
from sipsec.sip import Request, Response, SipUri, make_response
from sipsec.transaction import Peer, TransactionUser, TransportName

from .connections import Limits
from .errors import TransportFailure
from .resolver import Resolver
from .sip import SipTransport
from .tls import TlsSettings
from .trace import TraceCallback, WireCallback

__all__ = ["SipEndpoint"]

_log = logging.getLogger("sipsec.transport")
_MAX_ROUNDS = 1000  # poke() passes before it yields, should a TU loop on itself


class SipEndpoint:
    """One SIP element on the network: listeners, a TU, its timer."""

    def __init__(
        self,
        *,
        tls: TlsSettings | None = None,
        resolver: Resolver | None = None,
        on_trace: TraceCallback | None = None,
        on_wire: WireCallback | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.transport = SipTransport(
            on_message=self._received, tls=tls, on_trace=on_trace, on_wire=on_wire, limits=limits
        )
        self.transport.drive_timer(self._arm)  # idle/half-open connections: our one timer too
        self.resolver = resolver if resolver is not None else Resolver()
        self.stats: dict[str, int] = Counter()
        self._tu: TransactionUser | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._poking = False
        self._loop: asyncio.AbstractEventLoop | None = None  # bound on first use

    # -- setup --------------------------------------------------------------------------------
    async def listen(self, transport: TransportName, host: str, port: int = 0) -> Peer:
        """Listen; returns the bound address (port 0 picks a free one)."""
        return await self.transport.listen(transport, host, port)

    def attach(self, tu: TransactionUser) -> None:
        """Drive ``tu`` from now on (one TU per endpoint)."""
        self._tu = tu
        self.poke()

    @property
    def tu(self) -> TransactionUser | None:
        return self._tu

    def now(self) -> float:
        """The clock every ``now`` argument uses: the loop's monotonic time."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    # -- the pump -----------------------------------------------------------------------------
    def poke(self) -> None:
        """Flush what the TU and its layer want done, and re-arm the timer.

        Safe to call from anywhere, any number of times; a call made while
        the endpoint is already pumping only asks for one more pass."""
        if self._tu is None or self._closed:
            return
        if self._poking:
            return
        self._poking = True
        try:
            self._pump(self._tu)
        finally:
            self._poking = False
        self._arm()

    def _pump(self, tu: TransactionUser) -> None:
        layer = tu.layer
        now = self.now
        for _ in range(_MAX_ROUNDS):
            busy = False
            while (event := layer.next_event()) is not None:
                busy = True
                try:  # _guard, inlined: this runs for every event
                    tu.handle_event(event, now())
                except Exception:
                    self.stats["tu_errors"] += 1
                    _log.exception("transaction user failed in handle_event")
            for item in layer.messages_to_send():
                busy = True
                self._send_now(item.message, item.destination, item.transaction_id)
            needed = self._guard(tu.resolutions_needed)
            for token, uri in needed or ():
                busy = True
                self._resolve(tu, token, uri)
            if not busy:
                return
        _log.error("the TU kept the endpoint busy for %d passes; yielding", _MAX_ROUNDS)
        asyncio.get_running_loop().call_soon(self.poke)

    def _guard(self, function: Any, *args: Any) -> Any:
        """Call into the TU; its exceptions are logged and counted, never raised."""
        try:
            return function(*args)
        except Exception:
            self.stats["tu_errors"] += 1
            _log.exception("transaction user failed in %s", getattr(function, "__name__", function))
            return None

    # -- receiving ----------------------------------------------------------------------------
    def _received(self, message: Request | Response, source: Peer) -> None:
        tu = self._tu
        if tu is None or self._closed:
            self.stats["dropped_no_tu"] += 1
            return
        try:
            tu.layer.receive(message, source, self.now(), reliable=source.reliable)
        except RemoteProtocolError as error:
            self.stats["refused"] += 1
            if isinstance(message, Request) and message.method != "ACK":
                self._reject(message, source, error)
        except Exception:
            self.stats["tu_errors"] += 1
            _log.exception("transaction layer failed on a message from %s", source)
        self.poke()

    def _reject(self, request: Request, source: Peer, error: RemoteProtocolError) -> None:
        """A stateless answer to a request the layer cannot take (§8.2, §16.3)."""
        status = error.status if 400 <= error.status < 700 else 400
        try:
            response = make_response(request, status)
        except Exception:  # headers too broken to copy: nothing can be answered
            self.stats["dropped"] += 1
            return
        self._send_now(response, source, None)

    # -- sending ------------------------------------------------------------------------------
    def _send_now(self, message: Request | Response, peer: Any, transaction_id: int | None) -> None:
        if type(peer) is tuple and len(peer) == 2:  # a bare (host, port): UDP
            peer = Peer("udp", str(peer[0]), int(peer[1]))
        try:
            used = self.transport.try_send(message, peer)
            if used is not None:
                self._moved(peer, used, transaction_id)
                return
        except TransportFailure as error:
            self._failed(transaction_id, error)
            return
        except Exception as exc:  # a bug below us: still a failed send, never a dead loop
            _log.exception("sending to %s failed", peer)
            self._failed(transaction_id, TransportFailure(f"internal error sending: {exc!r}"))
            return
        self._spawn(self._send_later(message, peer, transaction_id))

    async def _send_later(
        self, message: Request | Response, peer: Peer, transaction_id: int | None
    ) -> None:
        try:
            used = await self.transport.send(message, peer)
        except TransportFailure as error:
            self._failed(transaction_id, error)
        except Exception as exc:
            _log.exception("sending to %s failed", peer)
            self._failed(transaction_id, TransportFailure(f"internal error sending: {exc!r}"))
        else:
            self._moved(peer, used, transaction_id)
            self.poke()  # the timer may have changed

    def _moved(self, peer: Peer, used: Peer, transaction_id: int | None) -> None:
        """§18.1.1 sent the request over TCP, not to the UDP ``peer``: its
        transaction is reliable now, so Timer A/E stop (§17.1.1.2)."""
        tu = self._tu
        if transaction_id is None or tu is None or peer.reliable or not used.reliable:
            return
        if self._guard(tu.layer.mark_reliable, transaction_id, self.now()):
            self.stats["moved_to_reliable"] += 1

    def _failed(self, transaction_id: int | None, error: TransportFailure) -> None:
        self.stats["send_failures"] += 1
        _log.info("send failed: %s", error)
        tu = self._tu
        if tu is not None and transaction_id is not None:
            self._guard(tu.layer.handle_transport_error, transaction_id, self.now(), str(error))
        self.poke()

    # -- resolving ----------------------------------------------------------------------------
    def _resolve(self, tu: TransactionUser, token: int, uri: SipUri) -> None:
        try:
            static = self.resolver.resolve_static(uri)
        except Exception:
            static = []
            self.stats["resolve_errors"] += 1
            _log.exception("resolving %s failed", uri)
        if static is not None:
            self._guard(tu.handle_resolution, token, static, self.now())
            return
        self._spawn(self._resolve_later(tu, token, uri))

    async def _resolve_later(self, tu: TransactionUser, token: int, uri: SipUri) -> None:
        try:
            peers = await self.resolver.resolve(uri)
        except Exception:
            peers = []
            self.stats["resolve_errors"] += 1
            _log.exception("resolving %s failed", uri)
        if tu is self._tu and not self._closed:
            self._guard(tu.handle_resolution, token, peers, self.now())
            self.poke()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats["tu_errors"] += 1
            _log.error("endpoint task failed", exc_info=task.exception())

    # -- the one timer ------------------------------------------------------------------------
    def _arm(self) -> None:
        if self._closed:
            return
        due = self.transport.get_timer()
        tu = self._tu
        if tu is not None:
            for deadline in (tu.layer.get_timer(), self._guard(tu.get_timer)):
                if deadline is not None and (due is None or deadline < due):
                    due = deadline
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = due
        if due is not None:
            self._timer = asyncio.get_running_loop().call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        if self._closed:
            return
        now = self.now()
        self._guard(self.transport.handle_timer, now)
        tu = self._tu
        if tu is not None:
            self._guard(tu.layer.handle_timer, now)
            self._guard(tu.handle_timer, now)
            self.poke()
        self._arm()

    # -- shutdown -----------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop the timer, cancel pending sends and lookups, close the sockets."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.transport.close()
