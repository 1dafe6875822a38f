"""RedisNonceCounts: nonce counts shared by every process on one Redis (real redis-server)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.auth import (
    Algorithm,
    Authenticated,
    DigestClient,
    DigestServer,
    ReplayedNonce,
    Retry,
    StaleNonce,
    compute_ha1,
)
from sipsec.proxy import StoreError
from sipsec.proxy.nonce_redis import RedisNonceCounts

LIFETIME = 300.0
T0 = 1_700_000_000.0  # wall clock of the tests (seconds)

Opener = Callable[..., RedisNonceCounts]


@pytest.fixture
def open_counts(redis_url: str) -> Iterator[Opener]:
    """Opens stores on one key prefix, each with its own connection (one per "process")."""
    prefix = f"test-{uuid.uuid4().hex}:"
    opened: list[RedisNonceCounts] = []

    def opener(**kwargs: object) -> RedisNonceCounts:
        store = RedisNonceCounts(redis_url, lifetime=LIFETIME, prefix=prefix, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def one_store(open_counts: Opener) -> RedisNonceCounts:
    return open_counts()


def test_a_count_accepted_by_one_process_is_a_replay_to_another(open_counts: Opener) -> None:
    a, b = open_counts(), open_counts()
    assert a.check_and_record("n1", T0, 1, T0 + 1)
    assert not b.check_and_record("n1", T0, 1, T0 + 2)
    assert not a.check_and_record("n1", T0, 1, T0 + 2)
    # A higher count is new wherever it arrives, then a replay everywhere.
    assert b.check_and_record("n1", T0, 2, T0 + 3)
    assert not a.check_and_record("n1", T0, 2, T0 + 3)
    # Another nonce starts its own counts.
    assert a.check_and_record("n2", T0, 1, T0 + 3)
    assert len(a) == len(b) == 2


def test_counts_below_one_and_expired_nonces_are_refused(open_counts: Opener) -> None:
    store = open_counts()
    assert not store.check_and_record("n", T0, 0, T0)
    assert not store.check_and_record("n", T0, -5, T0)
    assert not store.check_and_record("n", T0, 1, T0 + LIFETIME)
    assert len(store) == 0  # nothing recorded for a refused count


def test_keys_expire_with_their_nonce(open_counts: Opener, redis_url: str) -> None:
    import redis

    store = open_counts()
    # Issued LIFETIME - 0.05 s ago: the key may live 50 ms more, no longer.
    assert store.check_and_record("old", T0, 1, T0 + LIFETIME - 0.05)
    assert store.check_and_record("new", T0, 1, T0 + 1)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = {k.decode(): client.pttl(k) for k in client.scan_iter(match="test-*:nc:*")}
        new = next(v for k, v in keys.items() if k.endswith(":nc:new"))
        # Bounded: the key goes when the nonce does. On a loaded machine it may
        # already be gone (absent from the scan, or pttl -2) — never longer.
        old = [v for k, v in keys.items() if k.endswith(":nc:old")]
        assert all(v <= 50 for v in old)
        assert 0 < new <= (LIFETIME - 1) * 1000
        # Wait for Redis to expire it: bounded by tries, asserting no timing.
        old_keys = [k for k in keys if k.endswith(":nc:old")]
        for _ in range(500):
            if not old_keys or client.exists(*old_keys) == 0:
                break
            time.sleep(0.01)
        assert len(store) == 1
    finally:
        client.close()


def test_a_nonce_is_refused_once_its_count_cap_is_reached(open_counts: Opener) -> None:
    store = open_counts(per_nonce=3)
    assert all(store.check_and_record("n", T0, nc, T0) for nc in (1, 2, 3))
    assert not store.check_and_record("n", T0, 4, T0)  # the client gets a fresh nonce


def test_racing_processes_accept_each_count_exactly_once(open_counts: Opener) -> None:
    stores = [open_counts() for _ in range(4)]
    wins = [
        sum(s.check_and_record("race", T0, nc, T0) for s in stores[nc % 4 :] + stores[: nc % 4])
        for nc in range(1, 51)
    ]
    assert wins == [1] * 50


def test_an_unreachable_redis_is_a_store_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError) as caught:
        RedisNonceCounts(f"redis://user:hunter2@127.0.0.1:{port}/0", lifetime=LIFETIME)
    assert "hunter2" not in str(caught.value)


def test_bad_parameters_are_value_errors(redis_url: str) -> None:
    with pytest.raises(ValueError):
        RedisNonceCounts(redis_url, lifetime=0)
    with pytest.raises(ValueError):
        RedisNonceCounts(redis_url, lifetime=1, per_nonce=0)


def test_digest_servers_of_two_processes_refuse_a_replay_across_them(
    open_counts: Opener,
) -> None:
    secret = b"shared-secret-of-atlanta-example"

    # A real HA1 lookup: alice's password "pw" for each algorithm.
    def lookup(user: str, realm: str, algorithm: Algorithm) -> str | None:
        return compute_ha1(algorithm, user, realm, "pw") if user == "alice" else None

    a = DigestServer(
        secret, "atlanta.example", lookup, nonce_lifetime=LIFETIME, nonce_counts=open_counts()
    )
    b = DigestServer(
        secret, "atlanta.example", lookup, nonce_lifetime=LIFETIME, nonce_counts=open_counts()
    )
    step = DigestClient("alice", "pw").start("REGISTER", "sip:atlanta.example")
    retry = step.challenged(401, a.challenge(T0))
    assert isinstance(retry, Retry)
    headers = [c.value for c in retry.credentials]
    first = a.authenticate(
        headers, method="REGISTER", uri="sip:atlanta.example", now=T0 + 1, source="h"
    )
    assert isinstance(first, Authenticated) and first.username == "alice"
    again = b.authenticate(
        headers, method="REGISTER", uri="sip:atlanta.example", now=T0 + 2, source="h"
    )
    assert isinstance(again, ReplayedNonce)
    late = b.authenticate(
        headers, method="REGISTER", uri="sip:atlanta.example", now=T0 + LIFETIME + 1, source="h"
    )
    assert isinstance(late, StaleNonce)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    nonce=st.text(max_size=80),
    nc=st.integers(min_value=-(2**40), max_value=2**40),
    age=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_any_input_is_a_boolean_answer_never_another_exception(
    one_store: RedisNonceCounts, nonce: str, nc: int, age: float
) -> None:
    store = one_store
    first = store.check_and_record(nonce, T0, nc, T0 + age)
    assert isinstance(first, bool)
    # Whatever was accepted once is a replay the second time.
    assert not store.check_and_record(nonce, T0, nc, T0 + age)
