"""One log line per transaction the proxy or registrar answered.

:class:`TransactionLogged` is the record (kept in a bounded deque on the
core, ``ProxyCore.log``, for tests and tools) and :func:`log_line` its
text, written through :mod:`logging` as ``sipsec.proxy``. Credentials never
appear: only method, parties, status, duration and how many branches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sipsec.sip import Request, SipParseError

__all__ = ["TransactionLogged", "log_line", "logger", "parties"]

logger = logging.getLogger("sipsec.proxy")
_MAX_FIELD = 120  # a hostile From cannot make a log line unbounded


@dataclass(frozen=True, slots=True)
class TransactionLogged:
    """What one finished server transaction looked like."""

    method: str
    from_: str
    to: str
    status: int
    duration: float  # seconds from the request to the final response
    branches: int  # client transactions started (0: answered locally)
    source: str
    detail: str = ""


def _clip(text: str) -> str:
    clean = text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= _MAX_FIELD else clean[: _MAX_FIELD - 1] + "…"


def parties(request: Request) -> tuple[str, str]:
    """The From and To URIs as text, or ``-`` when unreadable."""
    try:
        from_, to = request.from_, request.to
    except SipParseError:
        return "-", "-"
    return (
        _clip(str(from_.uri)) if from_ is not None else "-",
        _clip(str(to.uri)) if to is not None else "-",
    )


def log_line(record: TransactionLogged) -> str:
    detail = f" ({_clip(record.detail)})" if record.detail else ""
    return (
        f"{_clip(record.method)} {_clip(record.from_)} -> {_clip(record.to)} {record.status} "
        f"{record.duration * 1000:.1f}ms branches={record.branches} "
        f"from={_clip(record.source)}{detail}"
    )
