"""RFC 3261 §10.3 steps 6–8 as one pure function: old bindings + REGISTER -> new bindings.

Every backend reads an AOR's bindings, calls :func:`plan_register`, and writes
the result back inside one transaction (SQLite ``BEGIN IMMEDIATE``, Redis
``WATCH``/``MULTI``), so the rules live here once and the backends only add
atomicity. Nothing here touches a clock: ``now`` is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sipsec.errors import LocalProtocolError
from sipsec.proxy.location import (
    MAX_CSEQ,
    MAX_EXPIRES,
    Binding,
    BindingPolicy,
    ContactUpdate,
    IntervalTooBrief,
    InvalidBinding,
    OutOfOrderRegister,
    RegisterUpdate,
    TooManyBindings,
    normalize_aor,
)
from sipsec.proxy.store import check_finite_time, check_text

__all__ = [
    "check_update",
    "live_bindings",
    "plan_register",
    "prepare_register",
    "sorted_bindings",
]

# RFC 3261 §7.3.1 / §20.10: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
_Q_STEP = 1000
# A Path of more hops than this is not a real deployment but a way to grow the store.
_MAX_PATH = 8


def _check_int(value: object, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise InvalidBinding(f"{what} must be an integer from 0 to {high}")
    return value


def _check_q(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidBinding("q must be a number")
    q = float(value)
    if not math.isfinite(q) or not 0.0 <= q <= 1.0:
        raise InvalidBinding("q must be between 0 and 1")
    # At most three decimals (§20.10); round so 0.7 stored and 0.7 read back
    # are the same float in every backend.
    return round(q * _Q_STEP) / _Q_STEP


def _check_contact(item: object) -> ContactUpdate:
    if not isinstance(item, ContactUpdate):
        raise InvalidBinding("contacts must be ContactUpdate values")
    check_text(item.contact, "Contact URI", InvalidBinding)
    if item.contact == "*":
        raise InvalidBinding("'*' is the wildcard flag, not a contact")
    if item.expires is not None:
        _check_int(item.expires, "Contact expires", MAX_EXPIRES)
    if not isinstance(item.path, tuple) or len(item.path) > _MAX_PATH:
        raise InvalidBinding(f"Path must be a tuple of at most {_MAX_PATH} URIs")
    for hop in item.path:
        check_text(hop, "Path entry", InvalidBinding)
    for name, value in (("received", item.received), ("+sip.instance", item.instance)):
        if value is not None:
            check_text(value, name, InvalidBinding)
    q = _check_q(item.q)
    if q != item.q:
        item = ContactUpdate(item.contact, item.expires, q, item.path, item.received, item.instance)
    return item


def check_update(update: object) -> RegisterUpdate:
    """``update`` validated and with q-values rounded; :class:`InvalidBinding` otherwise."""
    if not isinstance(update, RegisterUpdate):
        raise InvalidBinding("update must be a RegisterUpdate")
    check_text(update.call_id, "Call-ID", InvalidBinding)
    _check_int(update.cseq, "CSeq", MAX_CSEQ)
    if update.expires is not None:
        _check_int(update.expires, "Expires", MAX_EXPIRES)
    if not isinstance(update.contacts, list | tuple):
        raise InvalidBinding("contacts must be a sequence of ContactUpdate")
    contacts = tuple(_check_contact(item) for item in update.contacts)
    if update.wildcard is not False and update.wildcard is not True:
        raise InvalidBinding("wildcard must be a bool")
    if update.wildcard and (contacts or update.expires != 0):
        # §10.3 step 6: "*" only alone, and only with "Expires: 0".
        raise InvalidBinding("Contact '*' must be alone and with Expires: 0")
    return RegisterUpdate(update.call_id, update.cseq, contacts, update.expires, update.wildcard)


def sorted_bindings(bindings: Iterable[Binding]) -> list[Binding]:
    """Bindings in the one order every backend returns: highest q first."""
    return sorted(bindings, key=Binding.sort_key)


def live_bindings(bindings: Iterable[Binding], now: float) -> list[Binding]:
    """The bindings still valid at ``now`` (a binding expiring exactly now is gone)."""
    return sorted_bindings(b for b in bindings if b.expires_at > now)


def _expiry(item: ContactUpdate, update: RegisterUpdate, policy: BindingPolicy) -> int:
    """§10.3 step 7: the Contact's parameter, else the Expires header, else the default."""
    if item.expires is not None:
        requested = item.expires
    elif update.expires is not None:
        requested = update.expires
    else:
        requested = policy.default_expires
    # "If and only if the requested expiration interval is greater than zero
    # AND smaller than one hour AND less than a registrar-configured minimum,
    # the registrar MAY reject the registration with a response of 423."
    if 0 < requested < 3600 and requested < policy.min_expires:
        raise IntervalTooBrief(policy.min_expires)
    # "... the registrar MAY shorten the expiration interval" (never lengthen).
    return min(requested, policy.max_expires)


def _may_replace(stored: Binding, update: RegisterUpdate) -> None:
    """§10.3 steps 6 and 7: a binding from the same Call-ID changes only on a higher CSeq."""
    if stored.call_id == update.call_id and update.cseq <= stored.cseq:
        raise OutOfOrderRegister(
            f"CSeq {update.cseq} is not higher than {stored.cseq} stored for this Call-ID"
        )


def plan_register(
    aor: str,
    stored: Iterable[Binding],
    update: RegisterUpdate,
    now: float,
    policy: BindingPolicy,
) -> list[Binding]:
    """The AOR's bindings after ``update``, or an exception and no change (§10.3 step 8).

    ``aor`` must already be normalised and ``update`` checked
    (:func:`check_update`). Expired bindings in ``stored`` count as absent:
    they neither block a lower CSeq nor count against the limit. Each
    Contact is judged against the binding as stored *before* this request, so
    a contact listed twice in one REGISTER is not "out of order" against
    itself; the later listing wins.
    """
    now = check_finite_time(now, LocalProtocolError)
    current = {b.contact: b for b in stored if b.expires_at > now}
    if update.wildcard:
        for binding in current.values():
            _may_replace(binding, update)
        return []
    result = dict(current)
    for item in update.contacts:
        lifetime = _expiry(item, update, policy)
        existing = current.get(item.contact)
        if existing is not None:
            _may_replace(existing, update)
        if lifetime == 0:
            result.pop(item.contact, None)
            continue
        result[item.contact] = Binding(
            aor=aor,
            contact=item.contact,
            expires_at=now + lifetime,
            call_id=update.call_id,
            cseq=update.cseq,
            q=item.q,
            path=item.path,
            received=item.received,
            instance=item.instance,
        )
    if len(result) > policy.max_bindings and len(result) > len(current):
        # Refuse only growth: an AOR already over a lowered limit can still refresh.
        raise TooManyBindings(policy.max_bindings)
    return sorted_bindings(result.values())


def prepare_register(
    aor: object, update: object, now: object, policy: object
) -> tuple[str, RegisterUpdate, float, BindingPolicy]:
    """The checks every backend makes before it opens a transaction."""
    if not isinstance(policy, BindingPolicy):
        raise LocalProtocolError("policy must be a BindingPolicy")
    return (
        normalize_aor(aor),
        check_update(update),
        check_finite_time(now, LocalProtocolError),
        policy,
    )
