"""The one error the SDP layer raises.

Every malformed body, bad attribute value or failed negotiation is an
:class:`SdpError`; its ``status`` is the SIP response a UA should send:
400 for a body that does not parse, 488 (Not Acceptable Here, RFC 3261
§21.4.26) when the body parses but nothing in it can be accepted, and 500
when our own code built something that cannot be sent (a bug here, not in
the peer).
"""

from __future__ import annotations

from sipsec.errors import ProtocolError

__all__ = ["BAD_REQUEST", "NOT_ACCEPTABLE_HERE", "SdpError"]

BAD_REQUEST = 400
NOT_ACCEPTABLE_HERE = 488


class SdpError(ProtocolError):
    """An SDP body is malformed (400) or not acceptable (488)."""

    def __init__(self, reason: str, status: int = BAD_REQUEST) -> None:
        super().__init__(reason, status)
