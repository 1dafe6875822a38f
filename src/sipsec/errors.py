"""Base errors shared by every layer.

Like h11's ``ProtocolError``, a protocol error carries the status a server
should answer with, and is split into *Local* (we misused the API) and
*Remote* (the peer sent something invalid).
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError", "SipsecError"]


class SipsecError(Exception):
    """Root of every error sipsec raises on purpose."""


class ProtocolError(SipsecError):
    """A protocol rule was broken.

    ``status`` is the SIP status code a server should answer with (400 when
    nothing more specific applies); ``reason`` is a short human-readable text.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status={self.status})"


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol forbids (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""
