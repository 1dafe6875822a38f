"""An in-process location store: the reference the persistent backends are tested
against, and a store for tests and one-shot tools. Its bindings die with the
process, so a domain server never uses it (DESIGN.md: "not dicts that die
with the process").
"""

from __future__ import annotations

import threading

from sipsec.errors import LocalProtocolError
from sipsec.proxy.location import (
    DEFAULT_POLICY,
    Binding,
    BindingPolicy,
    RegisterUpdate,
    normalize_aor,
)
from sipsec.proxy.location_rules import live_bindings, plan_register, prepare_register
from sipsec.proxy.store import check_finite_time

__all__ = ["MemoryLocationStore"]


class MemoryLocationStore:
    """:class:`~sipsec.proxy.location.LocationStore` in a dict, guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aors: dict[str, list[Binding]] = {}

    def register(
        self, aor: str, update: RegisterUpdate, now: float, policy: BindingPolicy = DEFAULT_POLICY
    ) -> list[Binding]:
        key, update, now, policy = prepare_register(aor, update, now, policy)
        with self._lock:
            result = plan_register(key, self._aors.get(key, ()), update, now, policy)
            if result:
                self._aors[key] = result
            else:
                self._aors.pop(key, None)
            return list(result)

    def lookup(self, aor: str, now: float) -> list[Binding]:
        key = normalize_aor(aor)
        now = check_finite_time(now, LocalProtocolError)
        with self._lock:
            return live_bindings(self._aors.get(key, ()), now)

    def purge(self, now: float) -> int:
        now = check_finite_time(now, LocalProtocolError)
        removed = 0
        with self._lock:
            for key in list(self._aors):
                kept = live_bindings(self._aors[key], now)
                removed += len(self._aors[key]) - len(kept)
                if kept:
                    self._aors[key] = kept
                else:
                    del self._aors[key]
        return removed

    def close(self) -> None:
        with self._lock:
            self._aors.clear()

    def __repr__(self) -> str:
        return f"MemoryLocationStore({len(self._aors)} AORs)"
