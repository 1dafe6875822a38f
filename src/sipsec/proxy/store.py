"""What every store backend shares: its error, and the checks on text it keeps.

A backend failure (a locked or corrupt SQLite file, an unreachable Redis) is a
:class:`StoreError`; the registrar turns it into the 500 that RFC 3261 §10.3
step 8 asks for, with nothing half-committed.
"""

from __future__ import annotations

import math

from sipsec.errors import SipsecError

__all__ = ["StoreError", "check_finite_time", "check_text"]

# Longest text a store accepts in one field. SIP itself sets no limit, but a
# store that keeps whatever a peer sends is a memory-growth lever (issue 7,
# "floods ... do not grow memory without bound"); 1 KiB holds any real URI.
MAX_TEXT = 1024


class StoreError(SipsecError):
    """The backend failed (I/O, lock timeout, corrupt data, newer schema).

    Never carries a credential: messages name keys, not values.
    """


def check_text(value: object, what: str, error: type[Exception], *, limit: int = MAX_TEXT) -> str:
    """``value`` as a non-empty, bounded string without control characters.

    Control characters are refused because stores join keys with them (the
    Redis backends use ``\\x00`` and ``\\n`` as separators) and because a CR/LF
    in a stored Contact would be echoed into a 200 OK header.
    """
    if not isinstance(value, str):
        raise error(f"{what} must be a string")
    if not value:
        raise error(f"{what} is empty")
    if len(value) > limit:
        raise error(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise error(f"{what} contains a control character")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        # Lone surrogates cannot be encoded as UTF-8, which both backends use.
        raise error(f"{what} is not valid Unicode")
    return value


def check_finite_time(now: object, error: type[Exception]) -> float:
    """``now`` (seconds since the epoch, injected by the caller) as a finite float."""
    if isinstance(now, bool) or not isinstance(now, int | float):
        raise error("now must be a number of seconds")
    value = float(now)
    if not math.isfinite(value):
        raise error("now must be finite")
    return value
