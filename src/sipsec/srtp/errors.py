"""Errors raised by the SRTP layer.

Every refusal is an :class:`SrtpError`; the subclass says why, so a media loop
can count authentication failures apart from replays or garbage.
"""

from __future__ import annotations

from sipsec.errors import SipsecError

__all__ = [
    "SrtpAuthError",
    "SrtpConfigError",
    "SrtpError",
    "SrtpKeyExhaustedError",
    "SrtpMalformedError",
    "SrtpReplayError",
    "SrtpUnknownMkiError",
]


class SrtpError(SipsecError):
    """A packet (or a configuration) was refused by the SRTP layer."""


class SrtpMalformedError(SrtpError):
    """The packet is truncated, has the wrong version, or its lengths do not add up."""


class SrtpAuthError(SrtpError):
    """The authentication tag did not verify (RFC 3711 §3.4, RFC 7714 §9.2)."""


class SrtpReplayError(SrtpError):
    """The packet index was seen before or lies behind the replay window (§3.3.2).

    ``too_old`` tells a packet left of the window apart from a true duplicate.
    """

    def __init__(self, message: str, *, too_old: bool = False) -> None:
        super().__init__(message)
        self.too_old = too_old


class SrtpUnknownMkiError(SrtpError):
    """The packet carries an MKI that names no master key of this context (§3.1)."""


class SrtpKeyExhaustedError(SrtpError):
    """The master key has protected as many packets as it may (§9.2)."""


class SrtpConfigError(SrtpError, ValueError):
    """The context was configured wrongly (unknown profile, key of the wrong length …)."""
