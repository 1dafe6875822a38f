"""The registrar (RFC 3261 §10.3), given an authenticated request.

:func:`process_register` runs steps 4–8 against the location store: who may
touch which address-of-record, the Contact list turned into a
:class:`RegisterUpdate` (the rules of steps 6–7 are
:func:`~sipsec.proxy.location_rules.plan_register`, applied atomically by the
store), and the answer. Steps 1–3 (is the Request-URI ours, Require,
authentication) are the core's, which runs them before calling here.

AORs are kept under the ``sip:`` scheme whatever the To says: ``sips:`` is
a requirement on how requests reach the user (RFC 5630 §3.1.2), not a
second user, and the proxy enforces it when it forwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipsec.errors import RemoteProtocolError
from sipsec.proxy.location import (
    Binding,
    BindingPolicy,
    ContactUpdate,
    IntervalTooBrief,
    InvalidAor,
    LocationStore,
    RegisterUpdate,
    normalize_aor,
)
from sipsec.proxy.store import StoreError
from sipsec.sip import Request, SipParseError, SipUri, unescape
from sipsec.transaction import Peer

__all__ = ["RegisterOutcome", "aor_of", "flow_of", "flow_text", "process_register"]


def flow_text(peer: Peer) -> str:
    """Where a REGISTER came from, as the binding's ``received`` text:
    ``tls:192.0.2.10:40312#7`` (``#`` and the connection id for streams)."""
    host = f"[{peer.host}]" if ":" in peer.host else peer.host
    text = f"{peer.transport}:{host}:{peer.port}"
    return text if peer.connection_id is None else f"{text}#{peer.connection_id}"


def flow_of(received: str | None) -> Peer | None:
    """The stream connection a binding registered on, or None (UDP, absent,
    unreadable: then the contact alone is used)."""
    if not received:
        return None
    text, _, connection = received.partition("#")
    transport, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    digits = port + connection
    if transport not in ("tcp", "tls") or not port or not connection:
        return None
    if not (digits.isascii() and digits.isdigit()):
        return None
    if not 0 < int(port) < 65536:
        return None
    return Peer(transport, host.strip("[]"), int(port), None, int(connection))  # type: ignore[arg-type]


@dataclass(frozen=True)
class RegisterOutcome:
    """The status, reason and extra headers of the registrar's answer."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    bindings: tuple[Binding, ...] = field(default=(), repr=False)
    aor: str = ""


def aor_of(uri: object, domain: str) -> str | None:
    """The canonical ``sip:user@domain`` for a URI of our domain, else None."""
    if not isinstance(uri, SipUri) or uri.user is None:
        return None
    if uri.host.lower().rstrip(".") != domain or uri.port is not None:
        return None
    try:
        aor = normalize_aor(f"sip:{uri.user}@{uri.host}")
    except InvalidAor:
        return None
    return aor


def _update(request: Request, source: Peer | None) -> RegisterUpdate:
    """The Contact, Expires, Call-ID and CSeq of a REGISTER as a store update."""
    cseq, call_id = request.cseq, request.call_id
    assert cseq is not None and call_id is not None  # §16.3 validation ran first
    contacts = request.contacts
    if any(c.is_star for c in contacts):
        return RegisterUpdate(call_id, cseq.seq, (), request.expires, wildcard=len(contacts) == 1)
    received = None if source is None else flow_text(source)
    items = []
    for contact in contacts:
        items.append(
            ContactUpdate(
                str(contact.uri), contact.expires, contact.q, received=received, instance=None
            )
        )
    return RegisterUpdate(call_id, cseq.seq, tuple(items), request.expires)


def _contact_line(binding: Binding, wall: float) -> str:
    value = f"<{binding.contact}>;expires={binding.expires_in(wall)}"
    if binding.q is not None:
        value += f";q={binding.q:g}"
    return value


def process_register(
    request: Request,
    *,
    domain: str,
    username: str | None,
    store: LocationStore,
    policy: BindingPolicy,
    wall: float,
    source: Peer | None = None,
) -> RegisterOutcome:
    """§10.3 steps 4–8. ``username`` is who authenticated (None: auth is
    off); ``wall`` the wall clock the store's expiry times use."""
    to = request.to
    aor = aor_of(to.uri if to is not None else None, domain)
    if aor is None:
        # Step 5: "not valid for the domain in the Request-URI" → 404.
        return RegisterOutcome(404, "Not Found (address-of-record not in this domain)")
    user = aor[4 : aor.rindex("@")]
    if username is not None and unescape(user) != username:
        # Step 4: the authenticated user may only change its own bindings.
        return RegisterOutcome(403, "Forbidden (not your address-of-record)", aor=aor)
    try:
        update = _update(request, source)
        bindings = store.register(aor, update, wall, policy)
    except IntervalTooBrief as exc:
        return RegisterOutcome(423, "Interval Too Brief", (("Min-Expires", str(exc.min_expires)),))
    except SipParseError as exc:
        return RegisterOutcome(400, f"Bad Request ({exc.reason[:80]})", aor=aor)
    except RemoteProtocolError as exc:
        status = exc.status if 400 <= exc.status < 700 else 400
        return RegisterOutcome(status, exc.reason[:100] or "Bad Request", aor=aor)
    except StoreError:
        # Step 8 ends "... or 500 (Server Error) if the update fails".
        return RegisterOutcome(500, "Server Internal Error (location store)", aor=aor)
    headers = tuple(("Contact", _contact_line(b, wall)) for b in bindings)
    return RegisterOutcome(200, "OK", headers, tuple(bindings), aor)
