"""The asyncio media session on loopback: WAV in, SRTP both ways, WAV out."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sipsec.rtp import MediaConfig, read_wav, write_wav
from sipsec.rtp.packet import build_rtp
from sipsec.rtp.quality import align, snr_db, sweep_tone
from sipsec.rtp.stream import ByeReceived
from sipsec.transport.media import MediaDriver, MediaSession
from sipsec.transport.media_crypto import MediaCrypto

SUITE = "AES_CM_128_HMAC_SHA1_80"


async def call(
    tmp_path: Path, seconds: float, config: MediaConfig, secure: bool = True
) -> tuple[MediaSession, MediaSession, bytes, bytes]:
    """Two sessions exchange ``seconds`` of audio; returns them and both recordings."""
    write_wav(tmp_path / "a.wav", sweep_tone(seconds))
    write_wav(tmp_path / "b.wav", sweep_tone(seconds, amplitude=8000))
    a = await MediaSession.bind(config)
    b = await MediaSession.bind(config)
    k1, k2 = os.urandom(30), os.urandom(30)
    crypto_a = MediaCrypto.srtp(SUITE, k1, k2) if secure else MediaCrypto.plain()
    crypto_b = MediaCrypto.srtp(SUITE, k2, k1) if secure else MediaCrypto.plain()
    a.start(b.local_rtp, crypto_a, audio=tmp_path / "a.wav", record=tmp_path / "ra.wav")
    b.start(a.local_rtp, crypto_b, audio=read_wav(tmp_path / "b.wav"), record=tmp_path / "rb.wav")
    async with asyncio.timeout(seconds + 5):
        await asyncio.gather(a.wait_drained(), b.wait_drained())
    a.close("bye")
    async with asyncio.timeout(2):
        while not isinstance(await b.next_event(), ByeReceived):
            pass
    b.close()
    return a, b, read_wav(tmp_path / "ra.wav"), read_wav(tmp_path / "rb.wav")


async def test_five_seconds_both_ways_over_srtp(tmp_path: Path) -> None:
    a, b, rec_a, rec_b = await call(tmp_path, 5.0, MediaConfig())
    for sent, recording in (
        (read_wav(tmp_path / "a.wav"), rec_b),
        (read_wav(tmp_path / "b.wav"), rec_a),
    ):
        lag = align(sent, recording)
        assert snr_db(sent, recording, lag) >= 35
        assert len(recording) - 2 * lag >= len(sent) - 2 * 160  # at most a frame short
    for session in (a, b):
        assert session.stream is not None and session.stream.stats is not None
        assert session.stream.stats.received >= 249
        assert session.crypto is not None and session.crypto.counters.auth_failed == 0
        assert session.crypto.secure
    # SRTCP works both ways: A's last report (with its BYE) echoes B's SR.
    assert b.stream is not None and b.stream.rtt is not None and b.stream.rtt < 0.5


async def test_plain_rtp_without_rtcp_mux(tmp_path: Path) -> None:
    config = MediaConfig(rtcp_mux=False, payload_type=8)
    a, b, _, rec_b = await call(tmp_path, 0.6, config, secure=False)
    assert a.local_rtcp[1] == a.local_rtp[1] + 1
    sent = read_wav(tmp_path / "a.wav")
    assert snr_db(sent, rec_b, align(sent, rec_b)) >= 35
    assert b.stream is not None and b.stream.bye_received


async def test_datagrams_before_start_and_garbage_are_ignored(tmp_path: Path) -> None:
    a = await MediaSession.bind(MediaConfig())
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=a.local_rtp
    )
    sender.sendto(b"early")
    await asyncio.sleep(0.05)
    a.start(None, MediaCrypto.srtp(SUITE, bytes(30), bytes(30)), record=tmp_path / "r.wav")
    for junk in (b"\x00", b"\x80", b"\x80\x00" + bytes(40), b"\x81\xc9" + bytes(30)):
        sender.sendto(junk)
    await asyncio.sleep(0.05)
    assert a.crypto is not None
    c = a.crypto.counters
    assert c.auth_failed + c.other + c.replayed == 4
    assert a.unstarted_drops == 1  # the datagram that came before start()
    sender.close()
    a.close()


@pytest.mark.parametrize("port", [-1])
async def test_bind_errors_surface(port: int) -> None:
    with pytest.raises(OverflowError):
        await MediaSession.bind(MediaConfig(), port=port)


async def test_a_stranger_mid_call_is_dropped_and_counted() -> None:
    """Latching over real sockets: once the peer is latched, RTP from another
    address is counted and ignored (plain RTP here, so only latching stops it)."""
    a = await MediaSession.bind(MediaConfig())
    b = await MediaSession.bind(MediaConfig())
    loop = asyncio.get_running_loop()
    stranger, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=a.local_rtp
    )
    a.start(b.local_rtp, MediaCrypto.plain())
    b.start(a.local_rtp, MediaCrypto.plain(), audio=sweep_tone(0.4))
    async with asyncio.timeout(5):
        await b.wait_sent()
        while a.stream is None or a.stream.stats is None or a.stream.stats.received < 20:
            await asyncio.sleep(0.01)
    stranger.sendto(build_rtp(0, 1, 160, 0x5555, bytes(160), False))
    async with asyncio.timeout(5):
        while a.stream.drops.foreign_address == 0:
            await asyncio.sleep(0.01)
    assert a.stream.stats.ssrc != 0x5555
    stranger.close()
    a.close()
    b.close()


async def test_sessions_sharing_a_driver(tmp_path: Path) -> None:
    """One timer for many sessions: four calls, every recording intact, and far
    fewer wake-ups than the 50 per second per session separate timers take."""
    driver = MediaDriver(resolution=0.002)
    sessions = [await MediaSession.bind(MediaConfig(), driver=driver) for _ in range(8)]
    tone = sweep_tone(0.6)
    pairs = list(zip(sessions[::2], sessions[1::2], strict=True))
    for i, (a, b) in enumerate(pairs):
        key_ab, key_ba = bytes([i]) * 30, bytes([i + 100]) * 30
        a.start(b.local_rtp, MediaCrypto.srtp(SUITE, key_ab, key_ba), audio=tone)
        b.start(a.local_rtp, MediaCrypto.srtp(SUITE, key_ba, key_ab), record=tmp_path / f"{i}.wav")
    async with asyncio.timeout(10):
        await asyncio.gather(*(a.wait_sent() for a, _ in pairs))
        for a, _ in pairs:
            a.close()
        for _, b in pairs:  # the BYE comes after the last RTP packet
            while not isinstance(await b.next_event(), ByeReceived):
                pass
            b.close()
    for i in range(len(pairs)):
        recording = read_wav(tmp_path / f"{i}.wav")
        assert snr_db(tone, recording, align(tone, recording)) >= 35
    assert driver.wakeups < 8 * 0.6 * 50


def test_a_call_on_uvloop(tmp_path: Path) -> None:
    """The same session code over uvloop's native datagram transport."""
    uvloop = pytest.importorskip("uvloop")

    async def run() -> None:
        a, _, _, rec_b = await call(tmp_path, 0.6, MediaConfig())
        sent = read_wav(tmp_path / "a.wav")
        assert snr_db(sent, rec_b, align(sent, rec_b)) >= 35
        assert a._rtp is not None and a._rtp._transport is not None

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
