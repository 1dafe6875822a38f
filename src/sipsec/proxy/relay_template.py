"""Header blocks read in one regex match, per recurring header-name sequence (RFC 3261 §7.3).

A UA writes its messages the same way every time: the same header names in
the same order. :mod:`.relay_scan` reads a header block generically — split
into lines, every name found, each value it needs cut out and stripped —
and when the same sequence of names has been seen a few times it asks this
module for a :class:`Template`: one compiled pattern for exactly that
sequence, a line per name (the name as written, a colon, anything but CR;
the block is looked up by its number of LFs, so no bare LF either), the
values the scanner reads captured already stripped of spaces and tabs
(``[ \\t]*+`` around a group that ends on a non-blank). A block the
template matches is one the generic path splits into the same lines,
names and values — so a match can stand in for it, and a miss simply falls
back to it. Each line is an atomic group with possessive blanks, so a
match or a miss is linear in the block's length whatever the bytes.

Bounded: templates are made only for shapes seen ``_SEEN_BEFORE_COMPILE``
times and at most ``_MOST`` ever, so a flood of invented header names costs
the generic path, not a compile per datagram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Generic, TypeVar

from .relay_shapes import remember

__all__ = ["Template", "Templates"]

S = TypeVar("S")

_SEEN_BEFORE_COMPILE = 3
_MOST = 256  # templates ever made by one Templates
_PER_COUNT = 4  # templates tried for one key (most recent first)
_SIGHTINGS_KEPT = 1024


class Template(Generic[S]):
    """One header-name sequence: its pattern, the shape the generic path
    computed for it, and the key of each value group."""

    __slots__ = ("hits", "keys", "regex", "shape")

    def __init__(self, names: Sequence[bytes], wanted: Sequence[tuple[bytes, int]], shape: S):
        at = {line: key for key, line in wanted}
        parts = []
        keys = []
        for i, name in enumerate(names):
            # Only the wanted values are groups: the lines are the block's own,
            # split at its CRLFs once it matched (fewer groups, a faster match).
            if i in at:
                keys.append(at[i])
                value = rb"[ \t]*+((?:[^\r]*[^ \t\r])?)[ \t]*+"
            else:
                value = rb"[^\r]*+"
            parts.append(rb"(?>\r\n" + re.escape(name) + b":" + value + b")")
        self.regex = re.compile(b"".join(parts))
        self.shape = shape
        self.keys = keys  # the key of each group, in order
        self.hits = 0  # matches so far: the most matched is tried first


class Templates(Generic[S]):
    """The templates of one scanner, looked up by the block's number of lines
    and its first line's first two bytes (the first name's, or a one-letter
    name and its colon)."""

    def __init__(self) -> None:
        # by (number of lines, the first two bytes of the first line)
        self._by_count: dict[tuple[int, bytes], list[Template[S]]] = {}
        self._sightings: dict[tuple[bytes, ...], int] = {}
        self._made = 0

    def match(self, block: bytes, at: int = 0) -> tuple[S, list[bytes], dict[bytes, bytes]] | None:
        """(shape, header lines, the wanted values by key) of ``block[at:]`` —
        the header lines after the start line, each led by CRLF — or None
        (``at`` saves the scanner a copy of the block)."""
        # Looked up by the LFs: a template has a CRLF per line and no other CR,
        # so it matches only a block whose every LF ends a line.
        candidates = self._by_count.get((block.count(b"\n", at), block[at + 2 : at + 4]))
        if candidates is None:
            return None
        for i, template in enumerate(candidates):
            m = template.regex.fullmatch(block, at)
            if m is not None:
                # A UA's INVITE and its ACK and BYE share a key: the one matched
                # more often goes first, so a call costs one miss, not two.
                template.hits = hits = template.hits + 1
                while i and hits > candidates[i - 1].hits:
                    candidates[i - 1], candidates[i] = template, candidates[i - 1]
                    i -= 1
                # A line per CRLF and no other CR or LF (the key counted the
                # LFs; a line is [^\r]), so the split is the template's lines.
                lines = block[at + 2 :].split(b"\r\n")
                values = dict(zip(template.keys, m.groups()))  # noqa: B905 - a group per key
                return template.shape, lines, values
        return None

    def seen(self, names: tuple[bytes, ...], wanted: Sequence[tuple[bytes, int]], shape: S) -> None:
        """The generic path read a block of these names (a shape it accepts)."""
        if self._made >= _MOST:
            return
        count = self._sightings.get(names, 0) + 1
        if count < _SEEN_BEFORE_COMPILE:
            remember(self._sightings, names, count, _SIGHTINGS_KEPT)
            return
        self._sightings.pop(names, None)
        self._made += 1
        candidates = self._by_count.setdefault((len(names), (names[0] + b":")[:2]), [])
        candidates.insert(0, Template(names, wanted, shape))
        del candidates[_PER_COUNT:]
