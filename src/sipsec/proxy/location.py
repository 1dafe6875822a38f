"""The location service (RFC 3261 §10.2, §10.3): values, errors, and its interface.

A *binding* maps an address-of-record (``sip:alice@atlanta.example``) to a
contact address where that user can be reached, until ``expires_at``. The
registrar writes bindings, the proxy reads them (§16.5, "Determining Request
Targets").

Time is always an argument. ``now`` and ``expires_at`` are seconds since the
Unix epoch (a wall clock, not ``loop.time()``): bindings outlive the process
and are shared between machines through the Redis backend, so a monotonic
clock local to one process would be meaningless to the others.

The rules that turn a REGISTER into a new set of bindings are in
:mod:`sipsec.proxy.location_rules`; the backends in ``location_memory``,
``location_sqlite`` and ``location_redis`` all apply those same rules inside
one atomic update each.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sipsec.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DEFAULT_POLICY",
    "MAX_CSEQ",
    "MAX_EXPIRES",
    "Binding",
    "BindingPolicy",
    "ContactUpdate",
    "IntervalTooBrief",
    "InvalidAor",
    "InvalidBinding",
    "LocationStore",
    "OutOfOrderRegister",
    "RegisterUpdate",
    "TooManyBindings",
    "normalize_aor",
]

# RFC 3261 §8.1.1.5: the CSeq sequence number "MUST be expressible as a 32-bit
# unsigned integer" and, for a new request, "MUST be less than 2**31".
MAX_CSEQ = 2**32 - 1
# RFC 3261 §20.19 / §25: delta-seconds, at most 2**32-1.
MAX_EXPIRES = 2**32 - 1


class InvalidAor(RemoteProtocolError):
    """The address-of-record is not a ``sip:``/``sips:`` URI with a user and a host."""


class InvalidBinding(RemoteProtocolError):
    """A Contact, Call-ID, CSeq, q-value or expiry the registrar cannot store (400)."""


class OutOfOrderRegister(RemoteProtocolError):
    """RFC 3261 §10.3 steps 6 and 7: same Call-ID, CSeq not higher than the stored one.

    The RFC says only that "the update MUST be aborted and the request
    fails"; we answer 400 with this reason, and nothing is changed.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 400)


class IntervalTooBrief(RemoteProtocolError):
    """RFC 3261 §10.3 step 7: 423, with the registrar's ``Min-Expires``."""

    def __init__(self, min_expires: int) -> None:
        super().__init__("Interval Too Brief", 423)
        self.min_expires = min_expires


class TooManyBindings(RemoteProtocolError):
    """The AOR would hold more bindings than the policy allows (503, as Kamailio answers)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Too many registered contacts (limit {limit})", 503)
        self.limit = limit


# --- address-of-record canonical form (RFC 3261 §10.3 step 5, §19.1.4) -----

# §25.1: user = 1*( unreserved / escaped / user-unreserved ). Everything else
# is percent-escaped in the canonical form; these are left as they are.
_USER_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/"
)
# §25.1 hostname: domainlabels, then a toplabel that starts with a letter.
_HOSTNAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\.?"
)
_IPV4 = re.compile(
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
)
_IPV6 = re.compile(r"\[[0-9a-f:.]{2,45}\]")
_HEX = frozenset("0123456789abcdefABCDEF")


def _canonical_user(user: str) -> str:
    """Unescape every ``%XX``, then escape exactly what §25.1 does not allow bare.

    Two spellings of one user (``%61lice`` and ``alice``) then compare equal,
    as §19.1.4 requires, and the result is itself canonical.
    """
    raw = bytearray()
    i = 0
    while i < len(user):
        ch = user[i]
        if ch == "%":
            pair = user[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise InvalidAor("bad percent-escape in the user part")
            raw.append(int(pair, 16))
            i += 3
            continue
        raw.extend(ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(chr(b) if b in _USER_SAFE else f"%{b:02X}" for b in raw)


def normalize_aor(text: object) -> str:
    """The canonical address-of-record for ``text`` (RFC 3261 §10.3 step 5).

    Accepts ``sip:``/``sips:`` URIs and, for the command line, a bare
    ``user@host`` (taken as ``sip:``). URI parameters and headers are removed
    (§10.3 step 5: "all URI parameters MUST be removed (including the
    user-param)"), escapes in the user part are canonicalised, the scheme and
    host are lowercased (§19.1.4: host is case-insensitive, user is not), and
    an explicit port is kept (``sip:a@h`` and ``sip:a@h:5060`` differ, §19.1.4).
    Raises :class:`InvalidAor` for anything else.
    """
    if not isinstance(text, str):
        raise InvalidAor("address-of-record must be a string")
    if not text or len(text) > 512 or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise InvalidAor("address-of-record is empty, too long, or has spaces/controls")
    scheme, sep, rest = text.partition(":")
    if sep and scheme.lower() in {"sip", "sips"} and "@" in rest:
        scheme = scheme.lower()
    elif "@" in text and not text.lower().startswith(("sip:", "sips:")):
        scheme, rest = "sip", text
    else:
        raise InvalidAor("address-of-record must be sip:user@host or sips:user@host")
    # The user part may contain ';' and '?' (user-unreserved) but never a bare
    # '@', so the last '@' ends it; parameters start after the host.
    user, _, hostport = rest.rpartition("@")
    hostport = re.split(r"[;?]", hostport, maxsplit=1)[0].lower()
    if ":" in user:
        raise InvalidAor("a password in the address-of-record is not allowed")
    if not user:
        raise InvalidAor("address-of-record has no user part")
    canonical_user = _canonical_user(user)
    host, port = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, port = hostport[: end + 1], hostport[end + 1 :]
        if end < 0 or (port and not port.startswith(":")):
            raise InvalidAor("bad IPv6 reference in the address-of-record")
    elif ":" in hostport:
        host, _, rest_port = hostport.partition(":")
        port = ":" + rest_port
    if not (
        _IPV4.fullmatch(host)
        or _IPV6.fullmatch(host)
        or (_HOSTNAME.fullmatch(host) and len(host) <= 253)
    ):
        raise InvalidAor("bad host in the address-of-record")
    host = host.rstrip(".") if not host.startswith("[") else host
    if port:
        digits = port[1:]
        if not digits.isascii() or not digits.isdigit() or not 0 < int(digits) <= 65535:
            raise InvalidAor("bad port in the address-of-record")
        port = f":{int(digits)}"
    return f"{scheme}:{canonical_user}@{host}{port}"


# --- values -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Binding:
    """One contact of one AOR (RFC 3261 §10.2.1), as the location service keeps it.

    ``q`` is ``None`` when the Contact carried no q-value; it then sorts as
    1.0 (the highest preference) but is echoed back without a ``q`` in the 200.
    ``path`` is the RFC 3327 Path the REGISTER came through, ``received`` the
    source address the registrar saw (for NATed clients), ``instance`` the
    RFC 5626 ``+sip.instance``.
    """

    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    q: float | None = None
    path: tuple[str, ...] = ()
    received: str | None = None
    instance: str | None = None

    @property
    def preference(self) -> float:
        """The q-value used for ordering targets (§16.6: absent q counts as 1.0)."""
        return 1.0 if self.q is None else self.q

    def expires_in(self, now: float) -> int:
        """Whole seconds left, for the ``expires`` parameter of the 200 OK (§10.3 step 8)."""
        return max(0, math.floor(self.expires_at - now))

    def sort_key(self) -> tuple[float, str]:
        """Highest q first; ties by contact, so every backend lists the same order."""
        return (-self.preference, self.contact)


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """One Contact of a REGISTER, as the registrar has parsed it.

    ``expires`` is the Contact's ``expires`` parameter (``None`` when absent:
    the REGISTER's Expires header or the registrar default applies).
    """

    contact: str
    expires: int | None = None
    q: float | None = None
    path: tuple[str, ...] = ()
    received: str | None = None
    instance: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterUpdate:
    """What one REGISTER asks of the location service (§10.3 steps 6–7).

    ``wildcard`` is ``Contact: *`` (remove all bindings), which is only valid
    alone and with ``Expires: 0`` (§10.2.2, §10.3 step 6).
    ``contacts`` empty and no wildcard is a fetch: nothing changes.
    """

    call_id: str
    cseq: int
    contacts: Sequence[ContactUpdate] = ()
    expires: int | None = None
    wildcard: bool = False


@dataclass(frozen=True, slots=True)
class BindingPolicy:
    """The registrar's local choices that §10.3 step 7 leaves open.

    ``default_expires`` applies when neither the Contact nor the request says
    (§10.2.1.1 suggests 3600); longer requests are shortened to
    ``max_expires``; shorter non-zero ones below ``min_expires`` get 423.
    ``max_bindings`` bounds one AOR, so a flood of REGISTERs with fresh
    contacts cannot grow the store without bound.
    """

    default_expires: int = 3600
    min_expires: int = 60
    max_expires: int = 86400
    max_bindings: int = field(default=16)

    def __post_init__(self) -> None:
        if not 0 <= self.min_expires <= self.default_expires <= self.max_expires <= MAX_EXPIRES:
            raise LocalProtocolError("need 0 <= min_expires <= default_expires <= max_expires")
        if self.max_bindings < 1:
            raise LocalProtocolError("max_bindings must be at least 1")


DEFAULT_POLICY = BindingPolicy()


# --- the interface ------------------------------------------------------------


@runtime_checkable
class LocationStore(Protocol):
    """Where bindings live. Every method is atomic with respect to other callers,
    including other processes sharing the same backend.
    """

    def register(
        self, aor: str, update: RegisterUpdate, now: float, policy: BindingPolicy = ...
    ) -> list[Binding]:
        """Apply one REGISTER to ``aor`` all-or-nothing (§10.3 steps 6–8).

        Returns the AOR's current bindings afterwards, sorted by
        :meth:`Binding.sort_key` — the Contact list of the 200 OK. Raises a
        :class:`~sipsec.errors.RemoteProtocolError` subclass (nothing changed)
        or :class:`~sipsec.proxy.store.StoreError`.
        """
        ...

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """The AOR's unexpired bindings, highest q first (§16.5 targets)."""
        ...

    def purge(self, now: float) -> int:
        """Remove every binding whose ``expires_at`` is not after ``now``; how many."""
        ...

    def close(self) -> None:
        """Release the backend connection."""
        ...
