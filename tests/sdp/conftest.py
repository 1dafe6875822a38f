"""Shared fixtures: the RFC documents of tests/vectors/sdp (RFC 4566 §5, RFC 4568 §4.5, §7.1.5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sdp"


def vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def fragments() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((VECTORS / "index.json").read_text())
    return list(data["_fragments"])


DOCUMENTS = sorted(p.name for p in VECTORS.glob("*.sdp"))
