"""SRTP and SRTCP (RFC 3711, RFC 6188, RFC 7714), bit-exact with libsrtp.

Sans-IO: packets in, packets out. Imports nothing of sipsec but
:mod:`sipsec.errors`.
"""

from __future__ import annotations

from sipsec.srtp.context import SrtpContext
from sipsec.srtp.errors import (
    SrtpAuthError,
    SrtpConfigError,
    SrtpError,
    SrtpKeyExhaustedError,
    SrtpMalformedError,
    SrtpReplayError,
    SrtpUnknownMkiError,
)
from sipsec.srtp.profiles import PROFILES

__all__ = [
    "PROFILES",
    "SrtpAuthError",
    "SrtpConfigError",
    "SrtpContext",
    "SrtpError",
    "SrtpKeyExhaustedError",
    "SrtpMalformedError",
    "SrtpReplayError",
    "SrtpUnknownMkiError",
]
