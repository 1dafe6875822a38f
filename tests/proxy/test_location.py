"""Address-of-record canonical form (RFC 3261 §10.3 step 5, §19.1.4), the Binding
value, and bad input of every shape getting a typed error and nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.errors import LocalProtocolError, ProtocolError
from sipsec.proxy import (
    Binding,
    BindingPolicy,
    ContactUpdate,
    InvalidAor,
    MemoryLocationStore,
    RegisterUpdate,
    normalize_aor,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("sip:alice@atlanta.example", "sip:alice@atlanta.example"),
        ("SIP:alice@ATLANTA.Example", "sip:alice@atlanta.example"),
        ("sips:alice@atlanta.example", "sips:alice@atlanta.example"),
        ("alice@atlanta.example", "sip:alice@atlanta.example"),
        # §10.3 step 5: all URI parameters (including user=) and headers removed.
        ("sip:alice@atlanta.example;transport=tls;user=phone", "sip:alice@atlanta.example"),
        ("sip:alice@atlanta.example?subject=x", "sip:alice@atlanta.example"),
        # Escapes unescaped where the character may stand bare, kept (upper-case) where not.
        ("sip:%61lice@atlanta.example", "sip:alice@atlanta.example"),
        ("sip:a%2fb%20c@atlanta.example", "sip:a/b%20c@atlanta.example"),
        # ';' belongs to the user part when it comes before '@' (user-unreserved).
        (
            "sip:+1-212-555-1212;isub=1@gateway.example",
            "sip:+1-212-555-1212;isub=1@gateway.example",
        ),
        # An explicit port is part of the identity (§19.1.4); leading zeros are not.
        ("sip:alice@atlanta.example:05060", "sip:alice@atlanta.example:5060"),
        ("sip:alice@192.0.2.1", "sip:alice@192.0.2.1"),
        ("sip:alice@[2001:DB8::1]:5061", "sip:alice@[2001:db8::1]:5061"),
        ("sip:alice@atlanta.example.", "sip:alice@atlanta.example"),
    ],
)
def test_canonical_aor(text: str, canonical: str) -> None:
    assert normalize_aor(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sip:",
        "sip:atlanta.example",  # no user: not an address-of-record
        "sip:@atlanta.example",
        "tel:+15551234567",
        "mailto:alice@atlanta.example",
        "sip:alice:secret@atlanta.example",  # passwords do not belong in a registrar
        "sip:alice@",
        "sip:alice@-bad.example",
        "sip:alice@atlanta.example:0",
        "sip:alice@atlanta.example:70000",
        "sip:alice@atlanta.example:５０６０",
        "sip:alice@[::1",
        "sip:alice@999.1.1.1",
        "sip:al%zzice@atlanta.example",
        "sip:alice @atlanta.example",
        "sip:alice@atlanta.example\r\n",
        "x" * 600 + "@atlanta.example",
    ],
)
def test_invalid_aor(text: str) -> None:
    with pytest.raises(InvalidAor) as info:
        normalize_aor(text)
    assert info.value.status == 400


def test_aor_must_be_text() -> None:
    with pytest.raises(InvalidAor):
        normalize_aor(b"sip:alice@atlanta.example")


AOR_ALPHABET = st.sampled_from(
    list("sipSIP:@.%;?=-_[]0123456789abcdefAFxyz!~*'()&+$,/ \t\r\n\x00é")
)


@settings(max_examples=1000)
@given(st.one_of(st.text(AOR_ALPHABET, max_size=40), st.text(max_size=40)))
def test_normalize_aor_is_total_and_idempotent(text: str) -> None:
    """Any string: a canonical AOR that normalises to itself, or InvalidAor — nothing else."""
    try:
        canonical = normalize_aor(text)
    except InvalidAor:
        return
    assert canonical.isascii()
    assert normalize_aor(canonical) == canonical


def test_binding_helpers() -> None:
    b = Binding("sip:a@h", "sip:a@pc", expires_at=100.9, call_id="c", cseq=1)
    assert b.preference == 1.0
    assert b.expires_in(40.0) == 60
    assert b.expires_in(200.0) == 0
    assert Binding("sip:a@h", "sip:a@pc", 1.0, "c", 1, q=0.2).sort_key() == (-0.2, "sip:a@pc")


def test_policy_is_checked() -> None:
    with pytest.raises(LocalProtocolError):
        BindingPolicy(default_expires=10, min_expires=60)
    with pytest.raises(LocalProtocolError):
        BindingPolicy(max_bindings=0)


def test_q_values_are_rounded_to_three_decimals() -> None:
    store = MemoryLocationStore()
    update = RegisterUpdate("c", 1, (ContactUpdate("sip:a@h", q=0.12345),))
    (binding,) = store.register("sip:a@h", update, 0.0)
    assert binding.q == 0.123


# Anything a confused caller or a hostile peer could put in each field.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    # Bytes from a fixed list: a drawn bytes value beside a drawn str makes Hypothesis's
    # own cache compare them, which `python -bb` turns into an error.
    st.sampled_from([b"", b"sip:a@h", b"\xff\x00"]),
    st.just(()),
    st.lists(st.text(max_size=3), max_size=2).map(tuple),
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, one time in four junk: so most examples get deep into the checks."""
    return st.integers(0, 3).flatmap(lambda n: junk if n == 0 else valid)


contact_junk = st.builds(
    ContactUpdate,
    contact=maybe(st.sampled_from(["sip:a@h", "sip:b@h", "*", "sip:a@h\n", "x" * 1100])),
    expires=maybe(st.none() | st.integers(0, 2**33)),
    q=maybe(st.none() | st.floats(-1, 2)),
    path=maybe(st.lists(st.text(max_size=3), max_size=10).map(tuple)),
    received=maybe(st.none() | st.text(max_size=5)),
    instance=maybe(st.none() | st.text(max_size=5)),
)
update_junk = maybe(
    st.builds(
        RegisterUpdate,
        call_id=maybe(st.sampled_from(["c", "d"])),
        cseq=maybe(st.integers(0, 3)),
        contacts=maybe(st.lists(maybe(contact_junk), max_size=3).map(tuple)),
        expires=maybe(st.none() | st.integers(0, 2**33)),
        wildcard=maybe(st.booleans()),
    )
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(aor=maybe(st.just("sip:a@h")), update=update_junk, now=maybe(st.just(5.0)), policy=junk)
def test_bad_register_input_only_raises_typed_errors(
    aor: Any, update: Any, now: Any, policy: Any
) -> None:
    store = MemoryLocationStore()
    for chosen_policy in (policy, BindingPolicy()):
        try:
            store.register(aor, update, now, chosen_policy)
        except ProtocolError:
            pass
    for call in (lambda: store.lookup(aor, now), lambda: store.purge(now)):
        try:
            call()
        except ProtocolError:
            pass


def test_importing_the_package_does_not_import_redis() -> None:
    """redis-py is needed only by those who use the Redis backends (lazy attributes)."""
    code = "import sys, sipsec.proxy; assert 'redis' not in sys.modules, 'redis imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    import sipsec.proxy

    with pytest.raises(AttributeError):
        _ = sipsec.proxy.NoSuchStore
