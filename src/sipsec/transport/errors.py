"""Why a SIP transport could not send (RFC 3261 §18, §17.1.4, §17.2.4).

Every failure of :meth:`SipTransport.send` is a :class:`TransportFailure`
with a message that says what went wrong and where; the endpoint hands the
text to ``TransactionLayer.handle_transport_error`` so a UA or proxy can
treat it as the 503 of §8.1.3.1. Subclasses let callers react to one kind
(a TLS verification failure is worth a louder log line than a refused
connection).
"""

from __future__ import annotations

from sipsec.errors import SipsecError

__all__ = [
    "ConnectFailed",
    "ConnectionLimitReached",
    "ConnectionLost",
    "MessageTooLarge",
    "NoListener",
    "TlsNameMissing",
    "TlsVerificationError",
    "TransportFailure",
]


class TransportFailure(SipsecError):
    """A message could not be sent (or a connection could not be used)."""


class ConnectFailed(TransportFailure):
    """No connection could be opened to the peer (refused, unreachable,
    timed out during connect or the TLS handshake)."""


class ConnectionLost(TransportFailure):
    """The connection closed before (or while) the message went out."""


class ConnectionLimitReached(TransportFailure):
    """Opening one more connection would exceed ``max_connections``."""


class MessageTooLarge(TransportFailure):
    """The message cannot travel on the chosen transport: above the UDP
    payload limit, or a request over the §18.1.1 threshold with no TCP
    listener to move it to."""


class NoListener(TransportFailure):
    """Sending over UDP needs a listening UDP socket of that address family
    (UDP requests leave from it so responses come back to it, §18.1.1)."""


class TlsNameMissing(TransportFailure):
    """A TLS hop without ``server_name``: RFC 5922 §4 checks the peer
    against a domain and SNI carries it, never an IP address."""


class TlsVerificationError(TransportFailure):
    """The TLS peer failed verification.

    ``reason`` is one of ``"untrusted"``, ``"expired"``, ``"not yet valid"``,
    ``"name mismatch"``, ``"no certificate"``, ``"wildcard"``,
    ``"handshake"`` or ``"invalid"``; the message adds the details.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason
