"""The LocationStore contract, run against every backend (memory, SQLite, Redis).

RFC 3261 §10.3: add, refresh and remove bindings, q-value order, the Call-ID /
CSeq ordering rule, ``*`` removal, expiry, limits; plus what a domain server
needs of a store: two instances see one view, a restart loses nothing, and
concurrent registrations lose no update.
"""

from __future__ import annotations

import threading

import pytest

from sipsec.errors import LocalProtocolError
from sipsec.proxy import (
    Binding,
    BindingPolicy,
    ContactUpdate,
    IntervalTooBrief,
    InvalidAor,
    InvalidBinding,
    LocationStore,
    OutOfOrderRegister,
    RegisterUpdate,
    TooManyBindings,
)

AOR = "sip:alice@atlanta.example"
T0 = 1_800_000_000.0  # an arbitrary wall-clock "now"; nothing here reads a clock


def reg(
    call_id: str, cseq: int, *contacts: ContactUpdate, expires: int | None = None
) -> RegisterUpdate:
    return RegisterUpdate(call_id=call_id, cseq=cseq, contacts=contacts, expires=expires)


def contacts_of(bindings: list[Binding]) -> list[str]:
    return [b.contact for b in bindings]


def test_every_backend_satisfies_the_protocol(backend):
    assert isinstance(backend.location(), LocationStore)


def test_add_then_lookup(backend):
    store = backend.location()
    result = store.register(AOR, reg("c1", 1, ContactUpdate("sip:alice@192.0.2.4", 3600)), T0)
    assert contacts_of(result) == ["sip:alice@192.0.2.4"]
    (binding,) = store.lookup(AOR, T0 + 1)
    assert binding.aor == AOR
    assert binding.expires_at == T0 + 3600
    assert (binding.call_id, binding.cseq) == ("c1", 1)
    assert binding.expires_in(T0 + 1) == 3599


def test_lookup_normalises_the_aor(backend):
    store = backend.location()
    store.register(
        "SIP:alice@ATLANTA.example;transport=tls", reg("c1", 1, ContactUpdate("sip:a@h")), T0
    )
    assert contacts_of(store.lookup("sip:%61lice@atlanta.EXAMPLE", T0)) == ["sip:a@h"]
    assert store.lookup("sip:Alice@atlanta.example", T0) == []  # user part is case-sensitive


def test_all_fields_round_trip(backend):
    store = backend.location()
    update = ContactUpdate(
        "<sip:alice@pc33.atlanta.example;transport=tls>",
        600,
        q=0.7,
        path=("<sip:edge1.atlanta.example;lr>", "<sip:edge2.atlanta.example;lr>"),
        received="sip:198.51.100.7:5061;transport=tls",
        instance='"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"',
    )
    stored = store.register(AOR, reg("a84b4c76e66710@pc33", 314159, update), T0)
    assert store.lookup(AOR, T0) == stored
    (binding,) = stored
    assert binding.q == 0.7
    assert binding.path == update.path
    assert binding.received == update.received
    assert binding.instance == update.instance


def test_refresh_extends_expiry_and_replaces_fields(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h", 60, q=0.5)), T0)
    store.register(AOR, reg("c1", 2, ContactUpdate("sip:a@h", 120, q=0.9)), T0 + 30)
    (binding,) = store.lookup(AOR, T0 + 100)
    assert binding.expires_at == T0 + 150
    assert (binding.q, binding.cseq) == (0.9, 2)


def test_remove_with_expires_zero(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h"), ContactUpdate("sip:b@h")), T0)
    result = store.register(AOR, reg("c1", 2, ContactUpdate("sip:a@h", 0)), T0 + 1)
    assert contacts_of(result) == ["sip:b@h"]
    assert contacts_of(store.lookup(AOR, T0 + 1)) == ["sip:b@h"]


def test_expires_header_applies_when_contact_has_none(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h"), expires=300), T0)
    store.register(AOR, reg("c1", 2, ContactUpdate("sip:b@h", 900), expires=300), T0)
    expiries = {b.contact: b.expires_at for b in store.lookup(AOR, T0)}
    assert expiries == {"sip:a@h": T0 + 300, "sip:b@h": T0 + 900}
    store.register(AOR, reg("c1", 3, ContactUpdate("sip:a@h"), expires=0), T0 + 1)
    assert contacts_of(store.lookup(AOR, T0 + 1)) == ["sip:b@h"]


def test_sorted_by_q_highest_first(backend):
    store = backend.location()
    store.register(
        AOR,
        reg(
            "c1",
            1,
            ContactUpdate("sip:low@h", q=0.1),
            ContactUpdate("sip:none@h"),
            ContactUpdate("sip:mid@h", q=0.5),
            ContactUpdate("sip:also-mid@h", q=0.5),
            ContactUpdate("sip:zero@h", q=0.0),
        ),
        T0,
    )
    # Absent q ranks as 1.0 (§16.6); equal q ties break by contact.
    assert contacts_of(store.lookup(AOR, T0)) == [
        "sip:none@h",
        "sip:also-mid@h",
        "sip:mid@h",
        "sip:low@h",
        "sip:zero@h",
    ]


def test_same_call_id_needs_higher_cseq(backend):
    """§10.3 step 7: same Call-ID, CSeq not higher: the whole request fails, nothing changes."""
    store = backend.location()
    store.register(AOR, reg("c1", 5, ContactUpdate("sip:a@h", 60)), T0)
    before = store.lookup(AOR, T0)
    for cseq in (5, 4, 0):
        with pytest.raises(OutOfOrderRegister) as info:
            store.register(
                AOR, reg("c1", cseq, ContactUpdate("sip:new@h"), ContactUpdate("sip:a@h", 0)), T0
            )
        assert info.value.status == 400
    assert store.lookup(AOR, T0) == before


def test_other_call_id_may_use_any_cseq(backend):
    """A rebooted UA (new Call-ID) replaces its binding whatever CSeq it starts from."""
    store = backend.location()
    store.register(AOR, reg("c1", 50, ContactUpdate("sip:a@h", 60)), T0)
    store.register(AOR, reg("c2", 1, ContactUpdate("sip:a@h", 120)), T0)
    (binding,) = store.lookup(AOR, T0)
    assert (binding.call_id, binding.cseq, binding.expires_at) == ("c2", 1, T0 + 120)


def test_expired_binding_does_not_block_a_lower_cseq(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 9, ContactUpdate("sip:a@h", 60)), T0)
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h", 60)), T0 + 60)
    assert [b.cseq for b in store.lookup(AOR, T0 + 60)] == [1]


def test_wildcard_removes_all(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h"), ContactUpdate("sip:b@h")), T0)
    store.register(AOR, reg("c2", 1, ContactUpdate("sip:c@h")), T0)
    wildcard = RegisterUpdate(call_id="c3", cseq=1, expires=0, wildcard=True)
    assert store.register(AOR, wildcard, T0 + 1) == []
    assert store.lookup(AOR, T0 + 1) == []


def test_wildcard_obeys_the_cseq_rule(backend):
    """§10.3 step 6: a binding from the same Call-ID with CSeq >= the request's aborts it."""
    store = backend.location()
    store.register(AOR, reg("c1", 7, ContactUpdate("sip:a@h")), T0)
    store.register(AOR, reg("c2", 1, ContactUpdate("sip:b@h")), T0)
    with pytest.raises(OutOfOrderRegister):
        store.register(AOR, RegisterUpdate("c1", 7, expires=0, wildcard=True), T0)
    assert len(store.lookup(AOR, T0)) == 2
    store.register(AOR, RegisterUpdate("c1", 8, expires=0, wildcard=True), T0)
    assert store.lookup(AOR, T0) == []


@pytest.mark.parametrize(
    "update",
    [
        RegisterUpdate("c", 1, (ContactUpdate("sip:a@h"),), expires=0, wildcard=True),
        RegisterUpdate("c", 1, (), expires=None, wildcard=True),
        RegisterUpdate("c", 1, (), expires=60, wildcard=True),
    ],
)
def test_wildcard_misuse_is_400(backend, update):
    with pytest.raises(InvalidBinding) as info:
        backend.location().register(AOR, update, T0)
    assert info.value.status == 400


def test_empty_register_is_a_fetch(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h")), T0)
    assert contacts_of(store.register(AOR, reg("c1", 1), T0)) == ["sip:a@h"]


def test_expiry_on_time(backend):
    store = backend.location()
    store.register(
        AOR, reg("c1", 1, ContactUpdate("sip:a@h", 60), ContactUpdate("sip:b@h", 120)), T0
    )
    assert contacts_of(store.lookup(AOR, T0 + 59.999)) == ["sip:a@h", "sip:b@h"]
    assert contacts_of(store.lookup(AOR, T0 + 60)) == ["sip:b@h"]  # gone exactly at expires_at
    assert store.lookup(AOR, T0 + 120) == []


def test_purge_removes_only_expired(backend):
    store = backend.location()
    store.register(
        AOR, reg("c1", 1, ContactUpdate("sip:a@h", 60), ContactUpdate("sip:b@h", 120)), T0
    )
    store.register("sip:bob@biloxi.example", reg("c9", 1, ContactUpdate("sip:bob@h", 60)), T0)
    assert store.purge(T0 + 59) == 0
    assert store.purge(T0 + 60) == 2
    assert store.purge(T0 + 60) == 0
    assert contacts_of(store.lookup(AOR, T0 + 61)) == ["sip:b@h"]
    assert store.purge(T0 + 10_000) == 1


def test_expiry_policy(backend):
    store = backend.location()
    policy = BindingPolicy(default_expires=600, min_expires=60, max_expires=3600, max_bindings=4)
    with pytest.raises(IntervalTooBrief) as info:
        store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h", 30)), T0, policy)
    assert (info.value.status, info.value.min_expires) == (423, 60)
    store.register(
        AOR, reg("c1", 2, ContactUpdate("sip:a@h", 99999), ContactUpdate("sip:b@h")), T0, policy
    )
    expiries = {b.contact: b.expires_at for b in store.lookup(AOR, T0)}
    assert expiries == {"sip:a@h": T0 + 3600, "sip:b@h": T0 + 600}  # shortened; default


def test_max_bindings(backend):
    store = backend.location()
    policy = BindingPolicy(max_bindings=2)
    store.register(
        AOR, reg("c1", 1, ContactUpdate("sip:a@h"), ContactUpdate("sip:b@h")), T0, policy
    )
    with pytest.raises(TooManyBindings) as info:
        store.register(AOR, reg("c1", 2, ContactUpdate("sip:c@h")), T0, policy)
    assert info.value.status == 503
    # Nothing changed, and refreshing or swapping within the limit still works.
    assert contacts_of(store.lookup(AOR, T0)) == ["sip:a@h", "sip:b@h"]
    store.register(
        AOR, reg("c1", 3, ContactUpdate("sip:a@h", 0), ContactUpdate("sip:c@h")), T0, policy
    )
    assert contacts_of(store.lookup(AOR, T0)) == ["sip:b@h", "sip:c@h"]
    # Expired bindings do not count against the limit.
    store.register(
        AOR, reg("c2", 1, ContactUpdate("sip:d@h"), ContactUpdate("sip:e@h")), T0 + 7200, policy
    )


def test_aors_are_independent(backend):
    store = backend.location()
    store.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h")), T0)
    store.register("sip:bob@biloxi.example", reg("c1", 1, ContactUpdate("sip:b@h")), T0)
    assert contacts_of(store.lookup(AOR, T0)) == ["sip:a@h"]
    assert contacts_of(store.lookup("sip:bob@biloxi.example", T0)) == ["sip:b@h"]
    assert store.lookup("sip:carol@chicago.example", T0) == []


def test_bad_input_is_typed(backend):
    store = backend.location()
    with pytest.raises(InvalidAor):
        store.register("tel:+15551234", reg("c1", 1, ContactUpdate("sip:a@h")), T0)
    with pytest.raises(InvalidAor):
        store.lookup("not an aor", T0)
    for bad in (
        reg("", 1, ContactUpdate("sip:a@h")),
        reg("c1", -1, ContactUpdate("sip:a@h")),
        reg("c1", 2**32, ContactUpdate("sip:a@h")),
        reg("c1", 1, ContactUpdate("sip:a@h", -5)),
        reg("c1", 1, ContactUpdate("sip:a@h", q=1.5)),
        reg("c1", 1, ContactUpdate("sip:a@h\r\nVia: evil")),
        reg("c1", 1, ContactUpdate("*")),
        reg("c1", 1, ContactUpdate("x" * 2000)),
    ):
        with pytest.raises(InvalidBinding):
            store.register(AOR, bad, T0)
    for now in (float("nan"), float("inf"), "now"):
        with pytest.raises(LocalProtocolError):
            store.lookup(AOR, now)
        with pytest.raises(LocalProtocolError):
            store.purge(now)
    assert store.lookup(AOR, T0) == []


def test_two_instances_one_view(backend):
    """Two proxy processes on one backend: what one registers, the other finds."""
    first, second = backend.location(), backend.location()
    first.register(AOR, reg("c1", 1, ContactUpdate("sip:a@h")), T0)
    assert contacts_of(second.lookup(AOR, T0)) == ["sip:a@h"]
    second.register(AOR, reg("c1", 2, ContactUpdate("sip:b@h")), T0)
    assert contacts_of(first.lookup(AOR, T0)) == ["sip:a@h", "sip:b@h"]
    with pytest.raises(OutOfOrderRegister):  # the CSeq rule holds across instances
        first.register(AOR, reg("c1", 2, ContactUpdate("sip:b@h", 0)), T0)
    assert second.purge(T0 + 3600) == 2
    assert first.lookup(AOR, T0) == []


def test_concurrent_registrations_lose_nothing(backend):
    """Threads on two instances add contacts to one AOR at once; every one is kept."""
    stores = [backend.location(), backend.location()]
    per_thread, threads = 10, 4
    policy = BindingPolicy(max_bindings=per_thread * threads)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(per_thread):
                update = reg(f"call-{n}", i + 1, ContactUpdate(f"sip:t{n}-{i}@h"))
                stores[n % 2].register(AOR, update, T0, policy)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    assert len(stores[0].lookup(AOR, T0)) == per_thread * threads


def test_restart_loses_nothing(persistent_backend):
    """Write, close, open a new instance, read: everything is there."""
    store = persistent_backend.location()
    written = store.register(
        AOR, reg("c1", 3, ContactUpdate("sip:a@h", 600, q=0.25, path=("<sip:p;lr>",))), T0
    )
    store.register("sip:bob@biloxi.example", reg("c2", 1, ContactUpdate("sip:b@h")), T0)
    store.close()
    reopened = persistent_backend.location()
    assert reopened.lookup(AOR, T0) == written
    assert contacts_of(reopened.lookup("sip:bob@biloxi.example", T0)) == ["sip:b@h"]
    with pytest.raises(OutOfOrderRegister):  # the stored CSeq survived too
        reopened.register(AOR, reg("c1", 3, ContactUpdate("sip:a@h")), T0)
