"""The ladder diagram: Alice | atlanta proxy | biloxi proxy | Bob, in a terminal.

Pure rendering of :class:`~sipsec.cli.demo_flow.LadderRow` lists into rich
``Text`` (so tests read plain strings and the terminal gets colour).  Each
row: time since the first message, its F-label, an arrow between two lanes
with the message on it, and on the right the hop's transport, the TLS
identity checked, what the body is and any note (challenge, retransmission).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .demo_flow import NODES, LadderRow

__all__ = ["HopSummary", "hop_summaries", "render_hops", "render_ladder"]

TITLES = {
    "alice": "Alice",
    "atlanta": "atlanta.example",
    "biloxi": "biloxi.example",
    "bob": "Bob",
}
LANE_GAP = 30  # columns between two lanes
_PREFIX = 18  # "+1234.5 ms F12 " before the first lane


def _lane_x(node: str) -> int | None:
    return NODES.index(node) * LANE_GAP if node in NODES else None


def _canvas() -> list[str]:
    width = LANE_GAP * (len(NODES) - 1) + 1
    line = [" "] * width
    for i in range(len(NODES)):
        line[i * LANE_GAP] = "│"
    return line


def _style(row: LadderRow) -> str:
    if row.message is None:
        return "red"
    if row.label is None:
        return "dim"
    if row.label in ("F12", "F13", "F14"):
        return "magenta"
    return "cyan" if row.summary[:1].isalpha() else "green"


def _arrow(row: LadderRow) -> str:
    line = _canvas()
    a, b = _lane_x(row.source), _lane_x(row.target)
    if a is None or b is None or a == b:
        anchor = a if a is not None else b if b is not None else 0
        text = f" {row.summary} → {row.target}" if a is not None else f" ? → {row.summary}"
        for i, ch in enumerate(text[: len(line) - anchor - 1]):
            line[anchor + 1 + i] = ch
        return "".join(line)
    lo, hi = min(a, b), max(a, b)
    span = hi - lo - 1
    for i in range(lo + 1, hi):
        line[i] = "─"
    if b > a:
        line[hi - 1] = "►"
    else:
        line[lo + 1] = "◄"
    text = row.summary if len(row.summary) <= span - 4 else row.summary[: span - 5] + "…"
    start = lo + 1 + (span - len(text)) // 2
    for i, ch in enumerate(text):
        line[start + i] = ch
    return "".join(line)


def _annotation(row: LadderRow) -> str:
    parts = [row.transport]
    if row.transport == "TLS" and row.tls_peer:
        parts[0] = f"TLS ✓{row.tls_peer}"
    if row.received is not None:
        parts.append(f"{(row.received - row.time) * 1000:.1f} ms in flight")
    if row.body:
        parts.append(row.body)
    parts.extend(row.notes)
    return " · ".join(parts)


def render_ladder(rows: Sequence[LadderRow], *, start: float | None = None) -> Text:
    """The whole diagram; ``start`` is time zero (default: the first row)."""
    origin = start if start is not None else (rows[0].time if rows else 0.0)
    out = Text()
    header = [" "] * (LANE_GAP * (len(NODES) - 1) + 20)
    for node in NODES:
        title = TITLES[node]
        x = max(0, NODES.index(node) * LANE_GAP - len(title) // 2)
        header[x : x + len(title)] = list(title)
    out.append(" " * _PREFIX + "".join(header).rstrip() + "\n", style="bold")
    out.append(" " * _PREFIX + "".join(_canvas()) + "\n", style="dim")
    for row in rows:
        ms = (row.time - origin) * 1000
        out.append(f"{ms:9.1f} ms ", style="dim")
        out.append(f"{row.label or '':<5}", style="bold yellow")
        out.append(_arrow(row), style=_style(row))
        out.append("  " + _annotation(row) + "\n", style="dim" if row.label is None else "")
    return out


@dataclass(frozen=True, slots=True)
class HopSummary:
    """Everything seen on one pair of nodes."""

    a: str
    b: str
    transports: tuple[str, ...]
    identities: tuple[str, ...]  # TLS identities verified on this hop
    bodies: tuple[str, ...]
    messages: int


def hop_summaries(rows: Iterable[LadderRow]) -> list[HopSummary]:
    """One entry per pair of nodes that exchanged messages, in lane order."""
    found: dict[tuple[str, str], list[LadderRow]] = {}
    for row in rows:
        pair = tuple(sorted((row.source, row.target), key=_order))
        found.setdefault((pair[0], pair[1]), []).append(row)
    out = []
    for (a, b), hop in sorted(found.items(), key=lambda kv: (_order(kv[0][0]), _order(kv[0][1]))):
        out.append(
            HopSummary(
                a,
                b,
                tuple(sorted({r.transport for r in hop})),
                tuple(sorted({r.tls_peer for r in hop if r.tls_peer})),
                tuple(sorted({r.body for r in hop if r.body})),
                len(hop),
            )
        )
    return out


def _order(node: str) -> int:
    return NODES.index(node) if node in NODES else len(NODES)


def _protection(hop: HopSummary) -> str:
    if hop.transports == ("TLS",):
        ids = ", ".join(hop.identities)
        return f"TLS hop by hop ({ids} verified)" if ids else "TLS hop by hop"
    if "TLS" in hop.transports:
        return "partly TLS: " + "/".join(hop.transports)
    return "none on the hop: SIP headers in clear (" + "/".join(hop.transports) + ")"


def render_hops(hops: Sequence[HopSummary], media: str | None = None) -> Group:
    """The protection of every hop, and of the media path when given."""
    table = Table(title="Every hop and its protection", title_justify="left")
    table.add_column("hop")
    table.add_column("signalling")
    table.add_column("bodies seen")
    table.add_column("messages", justify="right")
    for hop in hops:
        table.add_row(
            f"{TITLES.get(hop.a, hop.a)} ↔ {TITLES.get(hop.b, hop.b)}",
            _protection(hop),
            "; ".join(hop.bodies) or "-",
            str(hop.messages),
        )
    if media is not None:
        table.add_row("Alice ↔ Bob (media)", media, "-", "-")
    return Group(table)
