"""Domain servers: RFC 3261 §16 proxy, §10 registrar, and the stores behind them.

The location service and the credential store each sit behind one small
interface (:class:`LocationStore`, :class:`CredentialStore`) with three
backends: in memory (tests), SQLite (the embedded default, survives
restarts) and Redis (scale-out: several proxy processes share one view).
The Redis backends are imported on first use, so ``redis`` is needed only by
those who use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sipsec.proxy.credentials import (
    ALGORITHMS,
    Credential,
    CredentialStore,
    InvalidCredential,
    MemoryCredentialStore,
    ha1_lookup,
    make_credential,
)
from sipsec.proxy.credentials_sqlite import SqliteCredentialStore
from sipsec.proxy.location import (
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
    normalize_aor,
)
from sipsec.proxy.location_memory import MemoryLocationStore
from sipsec.proxy.location_rules import plan_register
from sipsec.proxy.location_sqlite import SqliteLocationStore
from sipsec.proxy.store import StoreError
from sipsec.proxy.store_sqlite import SqliteDatabase

if TYPE_CHECKING:
    from sipsec.proxy.credentials_redis import RedisCredentialStore
    from sipsec.proxy.location_redis import RedisLocationStore

__all__ = [
    "ALGORITHMS",
    "Binding",
    "BindingPolicy",
    "ContactUpdate",
    "Credential",
    "CredentialStore",
    "IntervalTooBrief",
    "InvalidAor",
    "InvalidBinding",
    "InvalidCredential",
    "LocationStore",
    "MemoryCredentialStore",
    "MemoryLocationStore",
    "OutOfOrderRegister",
    "RedisCredentialStore",
    "RedisLocationStore",
    "RegisterUpdate",
    "SqliteCredentialStore",
    "SqliteDatabase",
    "SqliteLocationStore",
    "StoreError",
    "TooManyBindings",
    "ha1_lookup",
    "make_credential",
    "normalize_aor",
    "plan_register",
]

_LAZY = {
    "RedisCredentialStore": "sipsec.proxy.credentials_redis",
    "RedisLocationStore": "sipsec.proxy.location_redis",
}


def __getattr__(name: str) -> Any:
    # Import the Redis backends (and redis-py) only when someone asks for them.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sipsec.proxy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
