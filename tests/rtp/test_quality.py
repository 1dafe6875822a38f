"""Alignment and SNR, the yardsticks of the end-to-end tests."""

from __future__ import annotations

import math

import pytest

from sipsec.rtp import g711
from sipsec.rtp.quality import align, snr_db, sweep_tone


@pytest.mark.parametrize("lag", [0, 1, 37, 160, 1203])
def test_align_finds_the_offset(lag: int) -> None:
    tone = sweep_tone(0.5)
    recording = bytes(2 * lag) + tone
    assert align(tone, recording) == lag
    assert snr_db(tone, recording, lag) == math.inf


def test_g711_gives_its_textbook_snr() -> None:
    """µ-law keeps ~38 dB over a wide range of levels; that is the 35 dB bar."""
    for amplitude in (2000, 12000, 30000):
        tone = sweep_tone(0.5, amplitude=amplitude)
        assert 35 <= snr_db(tone, g711.ulaw_decode(g711.ulaw_encode(tone))) <= 40
        assert 35 <= snr_db(tone, g711.alaw_decode(g711.alaw_encode(tone))) <= 40


def test_noise_lowers_the_snr() -> None:
    tone = sweep_tone(0.2)
    # A large error on every tenth sample (a bit flipped in its high octet).
    noisy = bytes(b ^ 0x40 if i % 20 == 1 else b for i, b in enumerate(tone))
    assert snr_db(tone, noisy) < 10


def test_nothing_to_compare() -> None:
    with pytest.raises(ValueError, match="shorter"):
        align(sweep_tone(0.2), b"")
    with pytest.raises(ValueError, match="nothing"):
        snr_db(b"", b"")
