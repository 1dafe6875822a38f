"""How close a recording is to what was sent: alignment and signal-to-noise ratio.

Used to check a call end to end (tests, benchmark, ``sipsec`` tooling): the
recording starts wherever playout started, so it is first aligned with the
reference by cross-correlation, then compared sample by sample.
"""

from __future__ import annotations

import math
from array import array
from operator import mul

__all__ = ["align", "snr_db", "sweep_tone"]


def _samples(pcm: bytes) -> array[int]:
    return array("h", pcm[: len(pcm) - len(pcm) % 2])


def align(reference: bytes, recording: bytes, max_lag: int = 1600, window: int = 1024) -> int:
    """The lag (in samples, ``recording[lag:]`` ≈ ``reference``) that maximises the
    normalised cross-correlation of the first ``window`` reference samples."""
    ref = _samples(reference)[:window]
    rec = _samples(recording)
    if not ref or len(rec) < len(ref):
        raise ValueError("the recording is shorter than the alignment window")
    ref_list = ref.tolist()
    n = len(ref_list)
    energy = sum(map(mul, rec[:n], rec[:n]))  # of rec[lag : lag + n], kept sliding
    best, best_lag = -math.inf, 0
    for lag in range(min(max_lag, len(rec) - n) + 1):
        if lag:
            energy += rec[lag + n - 1] ** 2 - rec[lag - 1] ** 2
        if energy <= 0:
            continue
        score = sum(map(mul, ref_list, rec[lag : lag + n])) / math.sqrt(energy)
        if score > best:
            best, best_lag = score, lag
    return best_lag


def snr_db(reference: bytes, recording: bytes, lag: int = 0) -> float:
    """10·log10(signal power / error power) over the overlap of the two."""
    ref = _samples(reference)
    rec = _samples(recording)[lag:]
    n = min(len(ref), len(rec))
    if n == 0:
        raise ValueError("nothing to compare")
    ref, rec = ref[:n], rec[:n]
    signal = sum(map(mul, ref, ref))
    error = sum((a - b) ** 2 for a, b in zip(ref, rec, strict=True))
    if error == 0:
        return math.inf
    return 10 * math.log10(signal / error) if signal else -math.inf


def sweep_tone(seconds: float, amplitude: int = 12000, rate: int = 8000) -> bytes:
    """A test signal: a tone gliding from 300 to 3000 Hz (the telephone band),
    as 16-bit PCM.  Unlike a steady tone it correlates with itself at one lag
    only, so :func:`align` finds the true offset of a recording."""
    n = int(seconds * rate)
    phase = 0.0
    out = array("h")
    for i in range(n):
        phase += 2 * math.pi * (300 + 2700 * i / n) / rate
        out.append(round(amplitude * math.sin(phase)))
    return out.tobytes()
