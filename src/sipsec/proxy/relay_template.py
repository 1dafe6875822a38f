"""Header blocks read in one regex match, per recurring header-name sequence (RFC 3261 §7.3).

A UA writes its messages the same way every time: the same header names in
the same order. :mod:`.relay_scan` reads a header block generically — split
into lines, every name found, each value it needs cut out and stripped —
and when the same sequence of names has been seen a few times it asks this
module for a :class:`Template`: one compiled pattern for exactly that
sequence, a line per name (the name as written, a colon, anything but CR;
the block is looked up by its number of LFs, so no bare LF either), the
values the scanner reads captured without their leading spaces and tabs
(a value that ends in one is left to the generic path, which strips it). A
block the template matches is one the generic path splits into the same
lines, names and values — so a match can stand in for it, and a miss
simply falls back to it. Every repeat is possessive, so a match or a miss
is linear in the block's length whatever the bytes.

Bounded, and it recovers: templates are made only for shapes seen
``_SEEN_BEFORE_COMPILE`` times, at most ``_PER_GENERATION`` in a generation
(``_GENERATION`` blocks read the generic way), and at most ``_MOST`` live at
once — a new one evicts the least matched of those made before its
generation, and every generation halves the match counts, so the shapes
in use now outrank a flood's. A flood of invented header names therefore
costs the generic path and a compile per ``_GENERATION //
_PER_GENERATION`` of its datagrams at most, never unbounded memory; and
a legitimate shape seen again after it gets its template back within a
generation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Generic, TypeVar

from .relay_shapes import remember

__all__ = ["Template", "Templates"]

S = TypeVar("S")
_Key = tuple[int, bytes, bytes]  # (LFs, first two bytes of the first line, of the start line)

_SEEN_BEFORE_COMPILE = 3
_MOST = 256  # live templates of one Templates
_GENERATION = 4096  # blocks read the generic way (seen) per generation
_PER_GENERATION = 64  # templates made per generation, a quarter of _MOST
_PER_COUNT = 4  # templates tried for one key (most recent first)
_SIGHTINGS_KEPT = 1024


class Template(Generic[S]):
    """One header-name sequence: its pattern, the shape the generic path
    computed for it, and the key of each value group."""

    __slots__ = ("born", "hits", "keys", "names", "plan", "regex", "shape")

    def __init__(
        self,
        names: Sequence[bytes],
        wanted: Sequence[tuple[bytes, int]],
        shape: S,
        born: int = 0,
    ):
        at = {line: key for key, line in wanted}
        parts = []
        keys = []
        for i, name in enumerate(names):
            # Only the wanted values are groups: the lines are the block's own,
            # split at its CRLFs once it matched (fewer groups, a faster match).
            if i in at:
                keys.append(at[i])
                # Stripped of blanks: the leading ones here, and a value that
                # ends in one is not this template's (the generic path strips
                # it) — a capture with no backtracking, a third of the
                # instructions of one that strips the end as well.
                value = rb"[ \t]*+([^\r]*+)(?<![ \t])"
            else:
                value = rb"[^\r]*+"
            # every repeat possessive: no backtracking, a match or a miss is
            # linear in the block whatever the bytes
            parts.append(rb"\r\n" + re.escape(name) + b":" + value)
        self.regex = re.compile(b"".join(parts))
        self.names = tuple(names)
        self.shape = shape
        self.keys = keys  # the key of each group, in order
        self.hits = 0  # matches so far: the most matched is tried first
        # the group number of each value a caller reads, worked out by the
        # caller on its first hit (relay_scan.reply_fields)
        self.plan: tuple[int, ...] | None = None
        self.born = born  # the generation it was made in: not evicted during it


class Templates(Generic[S]):
    """The templates of one scanner, looked up by the block's number of lines
    and its first line's first two bytes (the first name's, or a one-letter
    name and its colon)."""

    def __init__(self) -> None:
        # by (number of lines, the first two bytes of the first line, the
        # first four of the start line)
        self._by_count: dict[_Key, list[Template[S]]] = {}
        self._sightings: dict[tuple[tuple[bytes, ...], bytes], int] = {}
        # every live template by (names, start), with its _by_count key: at most _MOST
        self._live: dict[tuple[tuple[bytes, ...], bytes], tuple[_Key, Template[S]]] = {}
        self._generation = 0
        self._read = 0  # blocks seen this generation
        self._made = 0  # templates made this generation

    def __len__(self) -> int:
        """The live templates."""
        return len(self._live)

    def clear(self) -> None:
        """Forget every template and sighting, and start a fresh generation
        (a test that needs a shape's template made from cold)."""
        self._by_count.clear()
        self._sightings.clear()
        self._live.clear()
        self._generation += 1
        self._read = self._made = 0

    def match(self, block: bytes, at: int = 0) -> tuple[S, list[bytes], dict[bytes, bytes]] | None:
        """(shape, header lines, the wanted values by key) of ``block[at:]`` —
        the header lines after the start line, each led by CRLF — or None
        (``at`` saves the scanner a copy of the block)."""
        hit = self.find(block, at)
        if hit is None:
            return None
        template, m = hit
        # A line per CRLF and no other CR or LF (the key counted the LFs; a
        # line is [^\r]), so the split is the template's lines.
        lines = block[at + 2 :].split(b"\r\n")
        return template.shape, lines, dict(zip(template.keys, m.groups()))  # noqa: B905

    def find(self, block: bytes, at: int = 0) -> tuple[Template[S], re.Match[bytes]] | None:
        """The template that matches ``block[at:]`` and its match, or None:
        what :meth:`match` reads, left to the caller to take apart (the
        relay's response path needs two lines of it, not all)."""
        # Looked up by the LFs: a template has a CRLF per line and no other CR,
        # so it matches only a block whose every LF ends a line. The start
        # line's first bytes tell an INVITE from its ACK and BYE (the same
        # names, often): each finds its own template first.
        key = (block.count(b"\n", at), block[at + 2 : at + 4], block[:4] if at >= 4 else block[:at])
        candidates = self._by_count.get(key)
        if candidates is None:
            return None
        template = candidates[0]
        m = template.regex.fullmatch(block, at)
        if m is not None:  # the common case: the first one (the most matched stays first)
            template.hits += 1
            return template, m
        for i in range(1, len(candidates)):
            template = candidates[i]
            m = template.regex.fullmatch(block, at)
            if m is not None:
                # Blocks that share a key: the one matched more often goes first.
                template.hits = hits = template.hits + 1
                while i and hits > candidates[i - 1].hits:
                    candidates[i - 1], candidates[i] = template, candidates[i - 1]
                    i -= 1
                return template, m
        return None

    def seen(
        self,
        names: tuple[bytes, ...],
        wanted: Sequence[tuple[bytes, int]],
        shape: S,
        start: bytes = b"",
    ) -> None:
        """The generic path read a block of these names (a shape it accepts)
        after a start line that begins with ``start`` (its first four bytes
        are part of the template's key)."""
        start = start[:4]
        self._read += 1
        if self._read >= _GENERATION:
            self._next_generation()
        if (names, start) in self._live:
            return  # a block its template left to the generic path (a blank-ended value)
        count = self._sightings.get((names, start), 0) + 1
        if count < _SEEN_BEFORE_COMPILE or self._made >= _PER_GENERATION:
            # Kept counting when the generation's budget is spent: a shape
            # seen often is made first when the next generation starts.
            remember(self._sightings, (names, start), count, _SIGHTINGS_KEPT)
            return
        if len(self._live) >= _MOST and not self._evict():
            return
        self._sightings.pop((names, start), None)
        self._made += 1
        key = (len(names), (names[0] + b":")[:2], start)
        candidates = self._by_count.setdefault(key, [])
        candidates.insert(0, Template(names, wanted, shape, self._generation))
        self._live[(names, start)] = (key, candidates[0])
        for evicted in candidates[_PER_COUNT:]:
            del self._live[(evicted.names, start)]
        del candidates[_PER_COUNT:]

    def _next_generation(self) -> None:
        """A new budget of templates, and every match count halved: what was
        matched long ago (a flood's shapes, a finished call's) ages out."""
        self._generation += 1
        self._read = self._made = 0
        for _, template in self._live.values():
            template.hits >>= 1

    def _evict(self) -> bool:
        """Drop the least matched (then oldest) template made before this
        generation (the ones made in it have had no time to be matched);
        False when there is none (never, while _PER_GENERATION < _MOST)."""
        old = [
            (template.hits, template.born, at)  # the least matched, the oldest of them
            for at, (_, template) in self._live.items()
            if template.born != self._generation
        ]
        if not old:
            return False
        at = min(old)[2]
        key, template = self._live.pop(at)
        candidates = self._by_count[key]
        candidates.remove(template)
        if not candidates:
            del self._by_count[key]
        return True
