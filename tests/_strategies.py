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
