"""Domain servers: RFC 3261 §16 proxy, §10 registrar, and the stores behind them.

The core (sans-IO, a :class:`~sipsec.transaction.TransactionUser`)::

    biloxi = Peer("tls", "192.0.2.2", 5061, "biloxi.example")
    config = ProxyConfig("atlanta.example", local={"udp": ("192.0.2.1", 5060)},
                         hosts={"biloxi.example": [biloxi]})
    core = ProxyCore(config, location_store, credential_store, secret=os.urandom(32),
                     wall=lambda now: now + offset)   # monotonic -> wall clock
    # the driver: core.handle_event(...), core.resolutions_needed() /
    # core.handle_resolution(...), core.get_timer() / core.handle_timer(now)

``ProxyCore`` is the registrar for ``config.domain`` (Digest 401, bindings via
:func:`plan_register`, expiry on a timer) and a stateful proxy (§16.3
validation, 407 for the domain's own users unless the source is trusted,
§16.5 targets from the location service or the hosts map / RFC 3263, q-value
forking, Record-Route with RFC 5658 double entries, §16.7 best response,
CANCEL, timer C, ``sips:`` only over TLS). ``core.log`` keeps the last
:class:`TransactionLogged` records (one per transaction, also logged as
``sipsec.proxy``); ``core.stats`` counts. The asyncio server is
:func:`sipsec.transport.proxy_app.run_proxy`; the command ``sipsec proxy``.

Modules: ``config``, ``core`` (front door), ``validate`` (§16.3, loop key),
``authenticate`` (Digest answers), ``registrar`` (§10.3), ``routing``
(§16.4, Record-Route, Via), ``forking`` (response context, best response),
``forwarder`` (§16.6–§16.10 over the transaction layer), ``log``.

The location service and the credential store each sit behind one small
interface (:class:`LocationStore`, :class:`CredentialStore`) with three
backends: in memory (tests), SQLite (the embedded default, survives
restarts) and Redis (scale-out: several proxy processes share one view;
:class:`RedisNonceCounts` shares Digest nonce counts too, so a replay to a
sibling process is caught — the processes must share the nonce secret).
The Redis backends are imported on first use, so ``redis`` is needed only by
those who use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sipsec.proxy.config import ProxyConfig
from sipsec.proxy.core import ProxyCore
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
from sipsec.proxy.log import TransactionLogged
from sipsec.proxy.store import StoreError
from sipsec.proxy.store_sqlite import SqliteDatabase

if TYPE_CHECKING:
    from sipsec.proxy.credentials_redis import RedisCredentialStore
    from sipsec.proxy.location_redis import RedisLocationStore
    from sipsec.proxy.nonce_redis import RedisNonceCounts

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
    "ProxyConfig",
    "ProxyCore",
    "RedisCredentialStore",
    "RedisLocationStore",
    "RedisNonceCounts",
    "RegisterUpdate",
    "SqliteCredentialStore",
    "SqliteDatabase",
    "SqliteLocationStore",
    "StoreError",
    "TooManyBindings",
    "TransactionLogged",
    "ha1_lookup",
    "make_credential",
    "normalize_aor",
    "plan_register",
]

_LAZY = {
    "RedisCredentialStore": "sipsec.proxy.credentials_redis",
    "RedisLocationStore": "sipsec.proxy.location_redis",
    "RedisNonceCounts": "sipsec.proxy.nonce_redis",
}


def __getattr__(name: str) -> Any:
    # Import the Redis backends (and redis-py) only when someone asks for them.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sipsec.proxy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
