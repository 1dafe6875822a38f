"""Request validation (RFC 3261 §16.3) and the loop-detecting branch (§16.6 step 8).

:func:`check_request` returns the response status (and reason) a proxy owes
a request it must refuse, or None. :func:`loop_key` is the hash step 8
names; the branch of every Via this proxy adds is ``z9hG4bK`` + that key +
``.`` + the branch number, so a request that comes back with one of our
Vias either carries the same key (a loop, 482) or a different one (a
spiral: retargeted, a new Request-URI — legitimate, §16.3 step 4).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass, field

from sipsec.sip import BRANCH_MAGIC_COOKIE, Request, SipParseError, validate_request

__all__ = ["Refusal", "branch_for", "check_request", "loop_key", "own_vias"]

# Option tags a proxy must understand when a request lists them in
# Proxy-Require (§16.3 step 5). We implement no proxy extension.
SUPPORTED: tuple[str, ...] = ()
_KEY_LENGTH = 20  # hex characters of the HMAC: 80 bits, plenty against accidental equality


@dataclass(frozen=True)
class Refusal:
    """A response the proxy sends instead of forwarding (§16.3)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = field(default=())


def loop_key(request: Request, secret: bytes, ours: Collection[str]) -> str:
    """§16.6 step 8: a hash of what identifies this request at this hop.

    To tag, From tag, Call-ID, the Request-URI as received, the CSeq number,
    Proxy-Require and Proxy-Authorization — and the Vias *below* our own
    (§16.3 step 4: "specifically excluding" what was added after ours), so
    the same request arriving a second time hashes the same. Keyed with the
    proxy's secret so nobody else can forge our branches.
    """
    to, from_ = request.to, request.from_
    cseq = request.cseq
    vias = request.headers.get_all("via")
    below = vias
    for index, via in enumerate(request.vias):
        if via.sent_by.lower() in ours:
            below = vias[index + 1 :]
            break
    parts = [
        to.tag if to is not None and to.tag else "",
        from_.tag if from_ is not None and from_.tag else "",
        request.call_id or "",
        str(request.uri),
        str(cseq.seq) if cseq is not None else "",
        ",".join(request.headers.get_all("proxy-require")),
        ",".join(request.headers.get_all("proxy-authorization")),
        "|".join(below),
    ]
    data = "\x00".join(parts).encode("utf-8", "surrogateescape")
    # Keyed BLAKE2b is a MAC (RFC 7693 §2.5) and cheaper than HMAC-SHA256 per request.
    mac = hashlib.blake2b(data, key=secret[:64], digest_size=_KEY_LENGTH // 2)
    return mac.hexdigest()


def branch_for(key: str, index: int | str) -> str:
    """The Via branch of branch number ``index`` of a request with ``key``."""
    return f"{BRANCH_MAGIC_COOKIE}{key}.{index}"


def own_vias(request: Request, ours: Collection[str]) -> list[str]:
    """The branches of the Vias this proxy put on ``request`` earlier."""
    return [
        via.branch or ""
        for via in request.vias
        if via.sent_by.lower() in ours or f"{via.host.lower()}:{via.port}" in ours
    ]


def check_request(
    request: Request, secret: bytes, ours: Collection[str]
) -> tuple[Refusal | None, str]:
    """§16.3 steps 1–5 for one request; returns (refusal or None, loop key).

    ``ours`` holds the ``host:port`` values this proxy writes as Via sent-by.
    """
    error = validate_request(request, supported=SUPPORTED, proxy=True)  # steps 1, 2, 5
    if error is not None:
        headers: tuple[tuple[str, str], ...] = ()
        if error.status == 420 and error.unsupported:
            headers = (("Unsupported", ", ".join(error.unsupported)),)
        return Refusal(error.status, error.reason, headers), ""
    try:
        max_forwards = request.max_forwards
    except SipParseError as exc:
        return Refusal(400, exc.reason), ""
    if max_forwards == 0:  # §16.3 step 3
        return Refusal(483, "Too Many Hops"), ""
    key = loop_key(request, secret, ours)
    for branch in own_vias(request, ours):  # §16.3 step 4
        stem = branch.removeprefix(BRANCH_MAGIC_COOKIE).partition(".")[0]
        if hmac.compare_digest(stem, key):
            return Refusal(482, "Loop Detected"), key
    return None, key
