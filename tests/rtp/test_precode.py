"""Audio coded once, up front: the same octets as coding frame by frame."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp import g711, precode
from sipsec.rtp.quality import sweep_tone

TONE = sweep_tone(0.5)


@settings(max_examples=300)
@given(st.integers(1, 40), st.sampled_from([(0, g711.ulaw_encode), (8, g711.alaw_encode)]))
def test_slices_of_the_whole_are_the_frames(frames: int, codec: tuple[int, object]) -> None:
    payload_type, encode = codec
    audio = TONE[: 320 * frames]
    coded = precode.precoded(payload_type, audio, encode)  # type: ignore[arg-type]
    assert coded is not None
    for i in range(frames):
        frame = audio[320 * i : 320 * (i + 1)]
        assert coded[160 * i : 160 * (i + 1)] == encode(frame)  # type: ignore[operator]


def test_too_long_odd_or_empty_audio_is_not_precoded() -> None:
    assert precode.precoded(0, TONE, g711.ulaw_encode, limit=len(TONE) - 2) is None
    assert precode.precoded(0, TONE[:321], g711.ulaw_encode) is None
    assert precode.precoded(0, b"", g711.ulaw_encode) is None


def test_one_prompt_is_coded_once() -> None:
    first = precode.precoded(0, TONE[:640], g711.ulaw_encode)
    assert precode.precoded(0, bytearray(TONE[:640]), g711.ulaw_encode) is first


@settings(max_examples=300)
@given(st.lists(st.integers(-32768, 32767), max_size=160))
def test_peak_is_the_largest_magnitude(samples: list[int]) -> None:
    pcm = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
    assert precode.peak(pcm) == max((abs(s) for s in samples), default=0)
