"""WAV in and out, format conversion, and the resampler's measured quality."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.rtp.wav import WavError, read_wav, resample, write_wav


def tone(freq: float, rate: int, seconds: float, amp: int = 10000) -> list[int]:
    return [
        round(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(rate * seconds))
    ]


def snr(ideal: list[int], got: list[int], edge: int = 40) -> float:
    n = min(len(ideal), len(got)) - edge
    signal = sum(x * x for x in ideal[edge:n])
    error = sum((a - b) ** 2 for a, b in zip(ideal[edge:n], got[edge:n], strict=True))
    return 10 * math.log10(signal / error)


def _write(path: Path, frames: bytes, rate: int, width: int, channels: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


def test_round_trip_8k(tmp_path: Path) -> None:
    pcm = struct.pack("<5h", 0, 1, -1, 32767, -32768)
    write_wav(tmp_path / "a.wav", pcm)
    assert read_wav(tmp_path / "a.wav") == pcm


def test_formats_are_converted(tmp_path: Path) -> None:
    # 8-bit unsigned: 128 is zero, 255 is just under full scale.
    _write(tmp_path / "u8.wav", bytes([128, 255, 0]), 8000, 1, 1)
    assert read_wav(tmp_path / "u8.wav") == struct.pack("<3h", 0, 127 << 8, -128 << 8)
    # 24-bit: the top 16 bits are kept.
    _write(tmp_path / "s24.wav", (0x123456).to_bytes(3, "little", signed=True), 8000, 3, 1)
    assert read_wav(tmp_path / "s24.wav") == struct.pack("<h", 0x1234)
    # 32-bit
    _write(tmp_path / "s32.wav", (-(1 << 31)).to_bytes(4, "little", signed=True), 8000, 4, 1)
    assert read_wav(tmp_path / "s32.wav") == struct.pack("<h", -32768)
    # stereo is averaged to mono
    _write(tmp_path / "st.wav", struct.pack("<4h", 100, 300, -50, -150), 8000, 2, 2)
    assert read_wav(tmp_path / "st.wav") == struct.pack("<2h", 200, -100)


@pytest.mark.parametrize("rate", [11025, 16000, 44100, 48000])
def test_resampled_tone_keeps_45_db(rate: int, tmp_path: Path) -> None:
    _write(tmp_path / "t.wav", struct.pack(f"<{rate // 4}h", *tone(1000, rate, 0.25)), rate, 2, 1)
    pcm = read_wav(tmp_path / "t.wav")
    got = list(struct.unpack(f"<{len(pcm) // 2}h", pcm))
    assert abs(len(got) - 2000) <= 1
    assert snr(tone(1000, 8000, 0.25), got) > 45


@pytest.mark.parametrize(("rate", "freq"), [(16000, 6000), (48000, 7000)])
def test_above_nyquist_is_attenuated(rate: int, freq: int) -> None:
    source = tone(freq, rate, 0.25)
    out = resample(source, rate)[40:-40]
    power_in = sum(x * x for x in source) / len(source)
    power_out = sum(x * x for x in out) / len(out)
    assert power_out < power_in * 10 ** (-35 / 10)


def test_upsampling_and_identity() -> None:
    assert resample([1, 2, 3], 8000) == [1, 2, 3]
    assert resample([], 16000) == []
    up = resample(tone(500, 4000, 0.25), 4000)
    assert len(up) == 2000 and snr(tone(500, 8000, 0.25), up) > 40
    with pytest.raises(ValueError, match="positive"):
        resample([1], 0)


def test_not_a_wav_file(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(WavError):
        read_wav(tmp_path / "bad.wav")


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_any_file_reads_or_raises_wav_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.wav"
    path.write_bytes(b"RIFF" + len(data).to_bytes(4, "little") + b"WAVE" + data)
    try:
        read_wav(path)
    except WavError:
        pass
