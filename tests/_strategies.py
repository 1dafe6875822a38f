"""Hypothesis strategies that more than one test package uses."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


@st.composite
def mutated(draw: st.DrawFn, original: bytes, *, junk_lines: Sequence[bytes] = ()) -> bytes:
    """``original`` (non-empty) damaged one of four ways: truncated; one to
    four octets flipped; up to 40 octets replaced by up to 40 random ones;
    and, with ``junk_lines``, one CRLF-separated line replaced by one of
    them (a text body: SDP), else the whole thing replaced by up to 200
    random octets (a binary body: DER)."""
    data = bytearray(original)
    how = draw(st.sampled_from(["truncate", "flip", "splice", "lines" if junk_lines else "random"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        return bytes(data)
    if how == "splice":
        i = draw(st.integers(0, len(data)))
        j = draw(st.integers(i, min(len(data), i + 40)))
        return bytes(data[:i] + draw(st.binary(max_size=40)) + data[j:])
    if how == "random":
        return draw(st.binary(max_size=200))
    lines = bytes(data).split(b"\r\n")
    lines[draw(st.integers(0, len(lines) - 1))] = draw(st.sampled_from(list(junk_lines)))
    return b"\r\n".join(lines)


@st.composite
def edited(draw: st.DrawFn, seeds: Sequence[bytes], *, edits: int = 3) -> bytes:
    """One of ``seeds`` with up to ``edits`` small edits: at a random place,
    up to three octets replaced by up to three random ones. Near misses of a
    well-formed message, which is where a fast path and its general path
    could part."""
    seed = draw(st.sampled_from(list(seeds)))
    for _ in range(draw(st.integers(0, edits))):
        at = draw(st.integers(0, len(seed)))
        seed = seed[:at] + draw(st.binary(max_size=3)) + seed[at + draw(st.integers(0, 3)) :]
    return seed
