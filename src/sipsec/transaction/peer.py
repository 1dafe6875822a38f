"""Where a message comes from or goes to: the one ``NetworkAddress`` every
layer above the transaction layer uses (cores, transports, the demo).

It lives here, below the UA and proxy cores, so that sans-IO code can name a
destination without importing the asyncio transports that sit on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Peer", "TransportName"]

TransportName = Literal["udp", "tcp", "tls"]


@dataclass(frozen=True, slots=True)
class Peer:
    """A SIP hop (RFC 3261 §18, RFC 3263 §4).

    ``host`` is an IP literal (IPv6 without brackets); names are resolved
    before a Peer exists. ``server_name`` is the domain a TLS peer must prove
    (RFC 5922 §4: SNI and certificate matching use it, never the IP).
    ``connection_id`` names the stream connection a message arrived on, so
    the answer reuses it (§18.2.2); None means "any, or open one".
    """

    transport: TransportName
    host: str
    port: int
    server_name: str | None = None
    connection_id: int | None = None

    @property
    def reliable(self) -> bool:
        """TCP and TLS are reliable (§17.1.1.2: no retransmission timers)."""
        return self.transport != "udp"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def without_connection(self) -> Peer:
        """The same hop, any connection (a key for connection reuse)."""
        return Peer(self.transport, self.host, self.port, self.server_name)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"
