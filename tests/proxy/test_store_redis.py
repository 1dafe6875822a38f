"""The Redis backends against a real redis-server (see conftest): key layout,
safety-net TTLs, corrupt data, an unreachable server, several processes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

redis = pytest.importorskip("redis")

from sipsec.proxy import (  # noqa: E402 - after the importorskip on purpose
    ContactUpdate,
    RedisCredentialStore,
    RedisLocationStore,
    RegisterUpdate,
    StoreError,
    make_credential,
)

AOR = "sip:alice@atlanta.example"
pytestmark = pytest.mark.interop  # a peer nobody here wrote: redis-server


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex}:"


def test_bindings_carry_a_safety_net_ttl(client: redis.Redis, prefix: str) -> None:
    store = RedisLocationStore(client, prefix=prefix, ttl_grace=100)
    store.register(AOR, RegisterUpdate("c", 1, (ContactUpdate("sip:a@h", 600),)), 1000.0)
    ttl = client.ttl(f"{prefix}loc:b:{AOR}")
    # Remaining lifetime (600) plus grace (100); Redis counts down in whole seconds.
    assert 600 < ttl <= 700
    assert client.zscore(f"{prefix}loc:due", AOR) == 1600.0


def test_purge_after_redis_expired_the_hash(client: redis.Redis, prefix: str) -> None:
    """If the TTL fired before any purge ran, the due entry is still cleaned up."""
    store = RedisLocationStore(client, prefix=prefix)
    store.register(AOR, RegisterUpdate("c", 1, (ContactUpdate("sip:a@h", 60),)), 0.0)
    client.delete(f"{prefix}loc:b:{AOR}")  # what the TTL would do
    assert store.purge(100.0) == 0
    assert client.zcard(f"{prefix}loc:due") == 0


def test_removing_the_last_binding_leaves_no_keys(client: redis.Redis, prefix: str) -> None:
    store = RedisLocationStore(client, prefix=prefix)
    store.register(AOR, RegisterUpdate("c", 1, (ContactUpdate("sip:a@h"),)), 0.0)
    store.register(AOR, RegisterUpdate("c", 2, expires=0, wildcard=True), 0.0)
    assert list(client.scan_iter(match=f"{prefix}*")) == []


def test_corrupt_values_are_store_errors(client: redis.Redis, prefix: str) -> None:
    store = RedisLocationStore(client, prefix=prefix)
    client.hset(f"{prefix}loc:b:{AOR}", "sip:a@h", b"{not json")
    with pytest.raises(StoreError, match="corrupt"):
        store.lookup(AOR, 0.0)
    client.zadd(f"{prefix}loc:due", {"sip:\xff@h".encode("latin-1"): 1.0})
    with pytest.raises(StoreError, match="corrupt"):
        store.purge(5.0)
    creds = RedisCredentialStore(client, prefix=prefix)
    client.sadd(f"{prefix}cred:index", b"[broken")
    with pytest.raises(StoreError, match="corrupt"):
        creds.users()
    client.hset(f'{prefix}cred:u:["r", "bob"]', "MD5", "not-hex")
    with pytest.raises(StoreError, match="corrupt"):
        creds.get("bob", "r")


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as info:
        RedisLocationStore("redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in str(info.value)
    with pytest.raises(StoreError):
        RedisCredentialStore("not a url")


def _dead_client() -> redis.Redis:
    # Nothing listens on port 1; no retries, so the test does not wait out a backoff.
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))


def test_server_gone_mid_use_is_a_store_error(prefix: str) -> None:
    store = RedisLocationStore(_dead_client(), prefix=prefix)
    with pytest.raises(StoreError):
        store.lookup(AOR, 0.0)
    with pytest.raises(StoreError):
        store.register(AOR, RegisterUpdate("c", 1, (ContactUpdate("sip:a@h"),)), 0.0)
    creds = RedisCredentialStore(_dead_client(), prefix=prefix)
    with pytest.raises(StoreError):
        creds.put(make_credential("a", "r", "pw"))


WORKER = textwrap.dedent(
    """
    import sys
    from sipsec.proxy import BindingPolicy, ContactUpdate, RedisLocationStore, RegisterUpdate
    url, prefix, n, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = RedisLocationStore(url, prefix=prefix)
    policy = BindingPolicy(max_bindings=1000)
    for i in range(count):
        update = RegisterUpdate(f"proc-{n}", i + 1, (ContactUpdate(f"sip:p{n}-{i}@h"),))
        store.register("sip:alice@atlanta.example", update, 0.0, policy)
    store.close()
    """
)


def test_several_processes_one_view(redis_url: str, prefix: str) -> None:
    """Four proxy processes register into one AOR at once: WATCH/MULTI loses nothing."""
    processes, count = 4, 25
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, redis_url, prefix, str(n), str(count)])
        for n in range(processes)
    ]
    assert [p.wait(120) for p in procs] == [0] * processes
    with RedisLocationStore(redis_url, prefix=prefix) as store:
        contacts = {b.contact for b in store.lookup(AOR, 0.0)}
    assert contacts == {f"sip:p{n}-{i}@h" for n in range(processes) for i in range(count)}
