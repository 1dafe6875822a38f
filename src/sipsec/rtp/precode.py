"""Audio coded once, up front, for the sending side of a media stream.

G.711 (ITU-T G.711) codes each sample alone, so coding a whole prompt when
the stream starts gives the very octets frame-by-frame coding gives, and
each 20 ms frame is then a slice: no table look-up per sample on every
tick.  A small cache keyed by payload type and content lets many calls that
play one prompt (a demo, a load test, an announcement) code it once.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["PRECODE_LIMIT", "peak", "precoded"]

# Audio up to this many octets of PCM (30 s at 8 kHz) is coded once, whole,
# when the stream starts; longer audio frame by frame as it is sent.
PRECODE_LIMIT = 2 * 8000 * 30
# The last few audio buffers coded whole, by payload type and content.
_PRECODED: dict[tuple[int, bytes], bytes] = {}
_PRECODED_KEEP = 4


def precoded(
    payload_type: int, audio: bytes, encode: Callable[[bytes], bytes], limit: int = PRECODE_LIMIT
) -> bytes | None:
    """All of ``audio`` coded (whole frames only matter), or None when too long."""
    if not audio or len(audio) > limit or len(audio) % 2:
        return None
    key = (payload_type, bytes(audio))
    coded = _PRECODED.get(key)
    if coded is None:
        coded = encode(key[1])
        if len(_PRECODED) >= _PRECODED_KEEP:
            del _PRECODED[next(iter(_PRECODED))]  # the oldest
        _PRECODED[key] = coded
    return coded


def peak(frame: memoryview | bytes) -> int:
    """Largest magnitude in a frame (native order: little-endian hosts)."""
    samples = memoryview(frame).cast("B").cast("h")
    return max(max(samples), -min(samples)) if len(samples) else 0  # noqa: PLW3301
