"""The one error the SIP message layer raises for bad input."""

from __future__ import annotations

from sipsec.errors import RemoteProtocolError

__all__ = ["SipParseError"]


class SipParseError(RemoteProtocolError):
    """The bytes are not a valid SIP message (or a header value is malformed).

    ``status`` is the response a server should send (400 Bad Request unless
    something more specific applies: 413, 416, 420, 505, 513 …); ``reason`` is
    a short text for the log or the Warning header. ``unsupported`` lists the
    option tags behind a 420 (RFC 3261 §8.2.2.3), otherwise it is empty.
    """

    def __init__(
        self, reason: str, status: int = 400, *, unsupported: tuple[str, ...] = ()
    ) -> None:
        super().__init__(reason, status)
        self.unsupported = unsupported
