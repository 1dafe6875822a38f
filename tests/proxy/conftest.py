"""Fixtures for the store tests: a real ``redis-server`` and one factory per backend.

The Redis server is the Debian package's binary, started here on 127.0.0.1 on a
free port with persistence off, and stopped by its PID at the end of the
session. Without the binary (or without redis-py) the Redis cases are skipped
with the reason; the SQLite and in-memory cases still run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sipsec.proxy import (
    MemoryCredentialStore,
    MemoryLocationStore,
    SqliteCredentialStore,
    SqliteDatabase,
    SqliteLocationStore,
)

BACKENDS = ["memory", "sqlite", "redis"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a redis-server this session started."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.skip("redis-py not installed (pip install redis)")
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
        # Wait for readiness by polling PING (bounded by tries, not by a timer assertion).
        for _ in range(250):
            if proc.poll() is not None:
                break
            try:
                client.ping()
            except redis.ConnectionError:
                try:
                    proc.wait(0.02)
                except subprocess.TimeoutExpired:
                    pass
                continue
            client.close()
            try:
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    proc.kill()
                    proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
            return
        client.close()
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    pytest.fail("redis-server did not start")


@dataclass
class Backend:
    """Makes store instances that share one backing store, as two processes would."""

    name: str
    open_location: Callable[[], Any]
    open_credentials: Callable[[], Any]
    reset: Callable[[], None]
    opened: list[Any] = field(default_factory=list)

    def location(self) -> Any:
        store = self.open_location()
        self.opened.append(store)
        return store

    def credentials(self) -> Any:
        store = self.open_credentials()
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()
        self.opened.clear()


def make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    if name == "memory":
        location = MemoryLocationStore()
        credentials = MemoryCredentialStore()

        def reset_memory() -> None:
            location.close()
            credentials.close()

        # One object stands in for "the shared backend"; closing it would wipe it.
        return Backend(
            name, lambda: _Unclosable(location), lambda: _Unclosable(credentials), reset_memory
        )
    if name == "sqlite":
        path = tmp_path / f"store-{uuid.uuid4().hex}.db"

        def reset_sqlite() -> None:
            db = SqliteDatabase(path, durable=False)
            with db.write() as conn:
                conn.execute("DELETE FROM bindings")
                conn.execute("DELETE FROM credentials")
            db.close()

        return Backend(
            name,
            lambda: SqliteLocationStore(path),
            lambda: SqliteCredentialStore(path),
            reset_sqlite,
        )
    url: str = request.getfixturevalue("redis_url")
    from sipsec.proxy import RedisCredentialStore, RedisLocationStore

    prefix = f"test-{uuid.uuid4().hex}:"

    def reset_redis() -> None:
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()

    return Backend(
        name,
        lambda: RedisLocationStore(url, prefix=prefix),
        lambda: RedisCredentialStore(url, prefix=prefix),
        reset_redis,
    )


class _Unclosable:
    """Wraps the shared in-memory store so ``close()`` of one "instance" keeps the data."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = make_backend(request.param, tmp_path, request)
    yield made
    made.close_all()


@pytest.fixture(params=["sqlite", "redis"])
def persistent_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backends whose data outlives every store instance (and the process)."""
    made = make_backend(request.param, tmp_path, request)
    yield made
    made.close_all()
