"""Every backend agrees with a simple model over random operation sequences.

The model below restates RFC 3261 §10.3 steps 6–8 as plainly as possible on
dicts; Hypothesis drives sequences of register (add / refresh / remove /
``*``), time steps, lookups and purges through the model and through the
in-memory, SQLite and Redis stores at once, and requires identical answers —
results, error types and purge counts — after every step.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sipsec.proxy import (
    BindingPolicy,
    ContactUpdate,
    IntervalTooBrief,
    InvalidBinding,
    MemoryLocationStore,
    OutOfOrderRegister,
    RegisterUpdate,
    SqliteDatabase,
    SqliteLocationStore,
    TooManyBindings,
)

POLICY = BindingPolicy(default_expires=100, min_expires=10, max_expires=1000, max_bindings=3)
# Two spellings of one AOR and a second AOR: normalisation must merge the first two.
AORS = [
    "sip:alice@atlanta.example",
    "sip:alice@ATLANTA.example;transport=tls",
    "sip:bob@biloxi.example",
]
CANONICAL = {0: "a", 1: "a", 2: "b"}
CONTACTS = ["sip:a@h", "sip:b@h", "sip:c@h", "sip:d@h", "sip:e@h"]
EXPIRES = st.sampled_from([None, 0, 5, 10, 60, 100, 5000])
# A long run by hand: SIPSEC_MODEL_EXAMPLES=5000 tools/test tests/proxy/test_location_model.py -s
EXAMPLES = int(os.environ.get("SIPSEC_MODEL_EXAMPLES", "300"))


@dataclass
class Row:
    expires_at: float
    call_id: str
    cseq: int
    q: float | None


class Model:
    """The location service on plain dicts: aor -> contact -> Row."""

    def __init__(self) -> None:
        self.aors: dict[str, dict[str, Row]] = {}

    def register(self, aor: str, update: RegisterUpdate, now: float) -> list[tuple[Any, ...]]:
        live = {c: r for c, r in self.aors.get(aor, {}).items() if r.expires_at > now}
        if update.wildcard:
            if update.contacts or update.expires != 0:
                raise InvalidBinding("bad wildcard")
            if any(r.call_id == update.call_id and update.cseq <= r.cseq for r in live.values()):
                raise OutOfOrderRegister("stale")
            self.aors[aor] = {}
            return []
        new = dict(live)
        for item in update.contacts:
            if item.expires is not None:
                life = item.expires
            elif update.expires is not None:
                life = update.expires
            else:
                life = POLICY.default_expires
            if 0 < life < 3600 and life < POLICY.min_expires:
                raise IntervalTooBrief(POLICY.min_expires)
            life = min(life, POLICY.max_expires)
            old = live.get(item.contact)
            if old is not None and old.call_id == update.call_id and update.cseq <= old.cseq:
                raise OutOfOrderRegister("stale")
            if life == 0:
                new.pop(item.contact, None)
            else:
                new[item.contact] = Row(now + life, update.call_id, update.cseq, item.q)
        if len(new) > POLICY.max_bindings and len(new) > len(live):
            raise TooManyBindings(POLICY.max_bindings)
        self.aors[aor] = new
        return self.view(aor, now)

    def view(self, aor: str, now: float) -> list[tuple[Any, ...]]:
        rows = [(c, r) for c, r in self.aors.get(aor, {}).items() if r.expires_at > now]
        rows.sort(key=lambda cr: (-(1.0 if cr[1].q is None else cr[1].q), cr[0]))
        return [(c, r.expires_at, r.call_id, r.cseq, r.q) for c, r in rows]

    def purge(self, now: float) -> int:
        removed = 0
        for rows in self.aors.values():
            dead = [c for c, r in rows.items() if r.expires_at <= now]
            removed += len(dead)
            for c in dead:
                del rows[c]
        return removed


def as_tuples(bindings: list[Any]) -> list[tuple[Any, ...]]:
    return [(b.contact, b.expires_at, b.call_id, b.cseq, b.q) for b in bindings]


contact_updates = st.builds(
    ContactUpdate,
    contact=st.sampled_from(CONTACTS),
    expires=EXPIRES,
    q=st.sampled_from([None, 0.0, 0.5, 1.0]),
)
registers = st.tuples(
    st.just("register"),
    st.integers(0, 2),
    st.builds(
        RegisterUpdate,
        call_id=st.sampled_from(["x", "y"]),
        cseq=st.integers(0, 4),
        contacts=st.lists(contact_updates, max_size=4).map(tuple),
        expires=EXPIRES,
    ),
)
# "Contact: *" — mostly well-formed (alone, Expires: 0), sometimes not.
wildcards = st.tuples(
    st.just("register"),
    st.integers(0, 2),
    st.builds(
        RegisterUpdate,
        call_id=st.sampled_from(["x", "y"]),
        cseq=st.integers(0, 4),
        contacts=st.lists(contact_updates, max_size=1).map(tuple) | st.just(()),
        expires=st.sampled_from([0, 0, None, 60]),
        wildcard=st.just(True),
    ),
)
operations = st.lists(
    st.one_of(
        registers,
        registers,
        registers,
        wildcards,
        st.tuples(st.just("tick"), st.sampled_from([0, 1, 9, 50, 100, 999])),
        st.tuples(st.just("purge")),
    ),
    max_size=25,
)


def _update(cseq: int, *contacts: str, expires: int | None = 60, wildcard: bool = False) -> Any:
    return RegisterUpdate(
        "x", cseq, tuple(ContactUpdate(c) for c in contacts), expires, wildcard=wildcard
    )


# One sequence that reaches every rule the test asserts it reached, run on
# every seed: random sequences reach TooManyBindings in only a few per cent
# of them, so 300 of them sometimes missed it and the final check failed
# (seen as a flake; reproduced with --hypothesis-seed=2 and =4).
EVERY_RULE = [
    ("register", 0, _update(1, *CONTACTS[:4])),  # 4 > max_bindings: TooManyBindings
    ("register", 0, _update(1, CONTACTS[0])),  # accepted
    ("register", 1, _update(1, CONTACTS[0])),  # the same binding, same CSeq: OutOfOrder
    ("register", 0, _update(2, CONTACTS[1], expires=5)),  # IntervalTooBrief
    ("register", 2, _update(1, expires=60, wildcard=True)),  # "*" needs Expires 0: Invalid
    ("tick", 100),
    ("purge",),  # the binding of 60 s is gone: purge removed
]


def _outcome(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except (InvalidBinding, OutOfOrderRegister, IntervalTooBrief, TooManyBindings) as exc:
        return type(exc)


def test_backends_agree_with_the_model(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db_path = tmp_path / "model.db"
    stores: dict[str, Any] = {
        "memory": MemoryLocationStore(),
        # Not durable: this test is about rules, and fsync per step would only cost time.
        "sqlite": SqliteLocationStore(SqliteDatabase(db_path, durable=False)),
    }
    redis_client = None
    prefix = f"model-{uuid.uuid4().hex}:"
    try:
        url = request.getfixturevalue("redis_url")
    except pytest.skip.Exception:
        url = None  # the SQLite and memory backends are still checked
    if url is not None:
        import redis

        from sipsec.proxy import RedisLocationStore

        redis_client = redis.Redis.from_url(url)
        # A prefix of its own: a redis-server shared with another run cannot mix in.
        stores["redis"] = RedisLocationStore(redis_client, prefix=prefix)
    examples = 0
    # How often each outcome occurred, so the test proves it reached every rule.
    seen: dict[str, int] = {}

    def reset() -> None:
        stores["memory"] = MemoryLocationStore()
        db = SqliteDatabase(db_path, durable=False)
        with db.write() as conn:
            conn.execute("DELETE FROM bindings")
        db.close()
        if redis_client is not None:
            keys = list(redis_client.scan_iter(match=f"{prefix}*"))
            if keys:
                redis_client.delete(*keys)

    # too_slow is a wall-clock health check on data generation: on a loaded
    # machine it failed runs for no fault of the code under test.
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=operations)
    @example(ops=EVERY_RULE)
    def run(ops: list[tuple[Any, ...]]) -> None:
        nonlocal examples
        examples += 1
        reset()
        model = Model()
        now = 1_000_000.0
        for op in ops:
            if op[0] == "tick":
                now += op[1]
            elif op[0] == "purge":
                expected = model.purge(now)
                seen["purge removed"] = seen.get("purge removed", 0) + (expected > 0)
                for name, store in stores.items():
                    assert store.purge(now) == expected, name
            else:
                _, which, update = op
                expected = _outcome(model.register, CANONICAL[which], update, now)
                label = expected.__name__ if isinstance(expected, type) else "accepted"
                seen[label] = seen.get(label, 0) + 1
                for name, store in stores.items():
                    got = _outcome(store.register, AORS[which], update, now, POLICY)
                    if not isinstance(got, type):
                        got = as_tuples(got)
                    assert got == expected, (name, op)
            for which, aor in enumerate(AORS):
                expected_view = model.view(CANONICAL[which], now)
                for name, store in stores.items():
                    assert as_tuples(store.lookup(aor, now)) == expected_view, (name, aor)

    try:
        run()
    finally:
        for store in stores.values():
            store.close()
        if redis_client is not None:
            redis_client.close()
    assert examples >= EXAMPLES
    print(f"\nlocation model: {examples} sequences, outcomes {sorted(seen.items())}")
    for label in ("accepted", "OutOfOrderRegister", "IntervalTooBrief", "TooManyBindings"):
        assert seen.get(label, 0) > 0, label
    assert seen["InvalidBinding"] > 0 and seen["purge removed"] > 0
