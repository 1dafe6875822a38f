"""What a transport reports about its traffic, for ``-v`` traces and pcaps.

Two views, one callback each:

- :class:`TraceRecord`: one whole SIP message as sent or received, in clear
  text (after TLS decryption, before TLS encryption), with the verified TLS
  identity of the peer when there is one. This is the message trace.
- :class:`WireRecord`: exactly the bytes on the socket — one UDP datagram,
  one TCP chunk, TLS records still encrypted — plus ``open``/``close``
  markers for stream connections. ``sipsec demo`` writes these as a pcap,
  so they are never rewritten or merged.

``time`` is wall-clock ``time.time()`` (pcap timestamps want it); the
protocol engine itself runs on the loop's monotonic clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from sipsec.transaction import TransportName

__all__ = [
    "Direction",
    "TraceCallback",
    "TraceRecord",
    "WireCallback",
    "WireEvent",
    "WireRecord",
    "emit",
]

Direction = Literal["in", "out"]
WireEvent = Literal["data", "open", "close"]

_log = logging.getLogger("sipsec.transport")


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One SIP message, clear text, as it went out or came in."""

    time: float
    direction: Direction
    transport: TransportName
    local: tuple[str, int]
    remote: tuple[str, int]
    data: bytes
    tls_peer: str | None = None


@dataclass(frozen=True, slots=True)
class WireRecord:
    """Socket bytes exactly as sent or received (``data`` is empty for
    ``open`` and ``close``)."""

    time: float
    direction: Direction
    transport: TransportName
    local: tuple[str, int]
    remote: tuple[str, int]
    data: bytes
    event: WireEvent = "data"


R = TypeVar("R", TraceRecord, WireRecord)
TraceCallback = Callable[[TraceRecord], None]
WireCallback = Callable[[WireRecord], None]


def emit(callback: Callable[[R], None] | None, record: R, stats: dict[str, int]) -> None:
    """Call an observer; its failures are logged and counted, never raised
    into the transport (a broken trace printer must not drop calls)."""
    if callback is None:
        return
    try:
        callback(record)
    except Exception:
        stats["callback_errors"] = stats.get("callback_errors", 0) + 1
        _log.exception("trace callback failed")
