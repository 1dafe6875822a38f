"""G.711 against an independent implementation: CPython's audioop (3.11 stdlib)."""

from __future__ import annotations

import struct
import warnings
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp import g711


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop as module
    return module


EVERY_SAMPLE = struct.pack("<65536h", *range(-32768, 32768))
EVERY_CODE = bytes(range(256))


def test_ulaw_every_sample(audioop: ModuleType) -> None:
    assert g711.ulaw_encode(EVERY_SAMPLE) == audioop.lin2ulaw(EVERY_SAMPLE, 2)


def test_alaw_every_sample(audioop: ModuleType) -> None:
    assert g711.alaw_encode(EVERY_SAMPLE) == audioop.lin2alaw(EVERY_SAMPLE, 2)


def test_ulaw_every_code(audioop: ModuleType) -> None:
    assert g711.ulaw_decode(EVERY_CODE) == audioop.ulaw2lin(EVERY_CODE, 2)


def test_alaw_every_code(audioop: ModuleType) -> None:
    assert g711.alaw_decode(EVERY_CODE) == audioop.alaw2lin(EVERY_CODE, 2)


def test_known_codes() -> None:
    """G.711 landmarks: silence is 0xFF (µ) / 0xD5 (A); full scale saturates."""
    assert g711.ulaw_encode_sample(0) == 0xFF
    assert g711.alaw_encode_sample(0) == 0xD5
    assert g711.ulaw_encode_sample(32767) == 0x80
    assert g711.ulaw_encode_sample(-32768) == 0x00
    assert g711.ulaw_decode_sample(0x80) == 32124
    assert g711.alaw_decode_sample(0xAA) == 32256


@settings(max_examples=500)
@given(st.binary(max_size=640).map(lambda b: b[: len(b) // 2 * 2]))
def test_frames_match_sample_by_sample(audioop: ModuleType, pcm: bytes) -> None:
    u = g711.ulaw_encode(pcm)
    a = g711.alaw_encode(pcm)
    assert u == audioop.lin2ulaw(pcm, 2) and a == audioop.lin2alaw(pcm, 2)
    assert g711.ulaw_decode(u) == audioop.ulaw2lin(u, 2)
    assert g711.alaw_decode(a) == audioop.alaw2lin(a, 2)
    # Decoding then encoding again is the identity on codes (G.711 is idempotent).
    assert g711.ulaw_encode(g711.ulaw_decode(u)) == u


def test_odd_length_is_refused() -> None:
    with pytest.raises(ValueError, match="even"):
        g711.ulaw_encode(b"\x00")
