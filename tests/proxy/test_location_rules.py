"""The §10.3 rules as a pure function, without any store: the corner cases."""

from __future__ import annotations

import pytest

from sipsec.proxy import (
    Binding,
    BindingPolicy,
    ContactUpdate,
    IntervalTooBrief,
    RegisterUpdate,
    plan_register,
)

AOR = "sip:alice@atlanta.example"
POLICY = BindingPolicy()


def test_pure_input_is_not_changed() -> None:
    stored = [Binding(AOR, "sip:a@h", 100.0, "c", 1)]
    snapshot = list(stored)
    result = plan_register(
        AOR, stored, RegisterUpdate("c", 2, (ContactUpdate("sip:a@h", 0),)), 0.0, POLICY
    )
    assert result == []
    assert stored == snapshot


def test_contact_listed_twice_last_wins() -> None:
    """Each Contact is judged against the stored binding, not against its own twin."""
    update = RegisterUpdate(
        "c", 1, (ContactUpdate("sip:a@h", 60), ContactUpdate("sip:a@h", 120, q=0.3))
    )
    (binding,) = plan_register(AOR, [], update, 0.0, POLICY)
    assert (binding.expires_at, binding.q) == (120.0, 0.3)
    update = RegisterUpdate("c", 2, (ContactUpdate("sip:a@h", 60), ContactUpdate("sip:a@h", 0)))
    assert plan_register(AOR, [binding], update, 0.0, POLICY) == []


def test_423_only_below_one_hour() -> None:
    """§10.3 step 7: 423 only if the interval is > 0, < 3600 and < the minimum."""
    strict = BindingPolicy(min_expires=7200, default_expires=7200, max_expires=86400)
    with pytest.raises(IntervalTooBrief):
        plan_register(
            AOR, [], RegisterUpdate("c", 1, (ContactUpdate("sip:a@h", 3599),)), 0.0, strict
        )
    (binding,) = plan_register(
        AOR, [], RegisterUpdate("c", 1, (ContactUpdate("sip:a@h", 3600),)), 0.0, strict
    )
    assert binding.expires_at == 3600.0
    # Zero is a removal, never "too brief".
    assert (
        plan_register(AOR, [], RegisterUpdate("c", 1, (ContactUpdate("sip:a@h", 0),)), 0.0, strict)
        == []
    )


def test_lowered_limit_still_allows_refresh() -> None:
    stored = [Binding(AOR, f"sip:{n}@h", 100.0, "c", 1) for n in "abc"]
    tight = BindingPolicy(max_bindings=2)
    result = plan_register(
        AOR, stored, RegisterUpdate("c", 2, (ContactUpdate("sip:a@h", 600),)), 0.0, tight
    )
    assert len(result) == 3  # not grown, so not refused
    result = plan_register(
        AOR, stored, RegisterUpdate("c", 2, (ContactUpdate("sip:b@h", 0),)), 0.0, tight
    )
    assert [b.contact for b in result] == ["sip:a@h", "sip:c@h"]
