"""The layer order of DESIGN.md, enforced: a module imports only from its own
layer or the ones below it.

Asyncio shells of higher layers (the UA and proxy apps, media sockets) live
in ``transport/``, which sits above every sans-IO core; ``cli/`` is on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sipsec"

# Lowest first, exactly as DESIGN.md lists them.
LAYERS = [
    "errors",
    "sip",
    "sdp",
    "rtp",
    "srtp",
    "auth",
    "ca",
    "smime",
    "transaction",
    "dialog",
    "ua",
    "proxy",
    "transport",
    "cli",
]
RANK = {name: i for i, name in enumerate(LAYERS)}
# Packages that stand alone: besides themselves they may use only these.
STANDALONE = {"srtp": {"errors"}, "sip": {"errors"}}


def _layer_of(module: str) -> str | None:
    """``sipsec.sip.uri`` -> ``sip``; the package root and ``__main__`` -> None."""
    parts = module.split(".")
    if parts[0] != "sipsec" or len(parts) < 2 or parts[1] in {"__main__", "__init__"}:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from sipsec import sip`` names a sub-package.
            if target == "sipsec":
                found.extend(
                    (node.lineno, f"sipsec.{a.name}") for a in node.names if a.name in RANK
                )
    return found


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def test_every_layer_is_known() -> None:
    for path in _sources():
        layer = _layer_of(_module_name(path))
        assert layer is None or layer in RANK, f"{path}: layer {layer!r} is not in DESIGN.md"


def _violations(source: str, module: str, is_package: bool = False) -> list[str]:
    own = _layer_of(module)
    if own is None:
        return []
    found = []
    for lineno, target in _imports(source, module, is_package):
        used = _layer_of(target)
        if used is None or used == own:
            continue
        if RANK[used] > RANK[own]:
            found.append(f"{module}:{lineno} imports {target}: {own!r} is below {used!r}")
        elif own in STANDALONE and used not in STANDALONE[own]:
            found.append(f"{module}:{lineno} imports {target}: {own!r} stands alone")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_only(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert _violations(source, _module_name(path), path.name == "__init__.py") == []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from sipsec.transaction import client\n", "sipsec.sip.message"),
        ("from ..ua import core\n", "sipsec.dialog.dialog"),
        ("import sipsec.cli.main\n", "sipsec.transport.udp"),
        ("from sipsec import proxy\n", "sipsec.auth.server"),
        ("from sipsec.sip import parse_message\n", "sipsec.srtp.context"),
    ],
)
def test_the_checker_catches_a_bad_import(source: str, module: str) -> None:
    """The rule can fail: upward imports and imports out of a standalone layer."""
    assert _violations(source, module)


def test_the_checker_allows_downward_imports() -> None:
    assert (
        _violations(
            "from sipsec.sip import parse_message\nfrom . import x\n", "sipsec.transaction.client"
        )
        == []
    )
