"""The sans-IO media stream, two of them on an in-memory network and a fake clock."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.rtp import g711
from sipsec.rtp.jitter import JitterBuffer
from sipsec.rtp.packet import RtpPacket, build_rtp
from sipsec.rtp.quality import sweep_tone
from sipsec.rtp.rtcp import Bye, ReceiverReport, SenderReport, is_rtcp, parse_compound
from sipsec.rtp.stream import (
    ByeReceived,
    Latching,
    MediaConfig,
    MediaStream,
    RoundTripMeasured,
    SourceLatched,
)

A = ("192.0.2.1", 40000)
B = ("192.0.2.2", 50000)
TONE = sweep_tone(2.0)
SHORT = TONE[:1600]


def pair(
    audio_a: bytes = TONE, audio_b: bytes = TONE, **config: Any
) -> tuple[MediaStream, MediaStream]:
    cfg = MediaConfig(**config)
    a = MediaStream(cfg, now=0.0, remote_rtp=B, audio=audio_a, rng=random.Random(1))
    b = MediaStream(cfg, now=0.0, remote_rtp=A, audio=audio_b, rng=random.Random(2))
    return a, b


@pytest.mark.parametrize(("pt", "codec"), [(0, g711.ulaw_encode), (8, g711.alaw_encode)])
def test_clean_channel_plays_exactly_what_g711_carries(network: Any, pt: int, codec: Any) -> None:
    a, b = pair(payload_type=pt)
    net = network(a, b)
    net.run_until(3.0)
    decode = g711.ulaw_decode if pt == 0 else g711.alaw_decode
    expected = decode(codec(TONE))
    assert net.recording("b") == expected
    assert net.recording("a") == expected
    assert b.stats is not None
    assert (b.stats.received, b.stats.lost, b.stats.duplicates) == (100, 0, 0)
    assert b.stats.jitter == 0  # constant delay
    assert b.jitter.late == 0 and b.jitter.concealed_samples == 0


def lossy(drop: set[int], dup: set[int], late: set[int], swap: set[int]) -> Any:
    """RTP packet n: dropped, sent twice, held 300 ms, or held 25 ms (so that it
    arrives after n+1).  RTCP passes with 5 ms."""

    def channel(n: int, _data: bytes, rtcp: bool) -> list[float]:
        if rtcp:
            return [0.005]
        if n in drop:
            return []
        if n in dup:
            return [0.005, 0.007]
        if n in late:
            return [0.3]
        if n in swap:
            return [0.030]
        return [0.005]

    return channel


def test_lossy_reordering_channel_gives_the_right_statistics(network: Any) -> None:
    audio = sweep_tone(6.0)  # 300 packets
    a, b = pair(audio_a=audio, audio_b=b"")
    drop = {10, 50, 51, 52, 200, 299}
    dup = {3, 77, 150}
    late = {120, 250}
    swap = {20, 21 + 10, 180}
    net = network(a, b, a_to_b=lossy(drop, dup, late, swap))
    net.run_until(8.0)
    stats = b.stats
    assert stats is not None
    # 299 (the last) is lost without a trace: nothing after it says it was sent.
    assert stats.expected == 299
    assert stats.received == 300 - len(drop)
    assert stats.lost == len(drop) - 1
    assert stats.duplicates == len(dup)
    assert b.jitter.late == len(late)
    assert b.jitter.duplicates == 0  # the window catches them first
    # Every dropped or late frame is replaced by exactly one frame of silence.
    assert b.jitter.concealed_samples == 160 * (len(drop) - 1 + len(late))
    assert stats.jitter > 0
    recording = net.recording("b")
    assert len(recording) == 2 * 160 * 299
    # A reordered packet plays in its place: frame 21 is where it belongs.
    sent = g711.ulaw_decode(g711.ulaw_encode(audio))
    assert recording[21 * 320 : 22 * 320] == sent[21 * 320 : 22 * 320]
    assert recording[10 * 320 : 11 * 320] == bytes(320)  # lost → silence
    # A's view through B's reports: RTT from LSR/DLSR, loss seen by B.
    assert a.rtt == pytest.approx(0.010, abs=0.002)
    summary = b.summary()
    assert (summary.received, summary.lost, summary.duplicates, summary.late) == (294, 5, 3, 2)
    assert summary.concealed_ms == 20 * 7
    assert a.summary().rtt_ms == pytest.approx(10, abs=2)


def test_rtcp_every_five_seconds_sr_while_sending_rr_otherwise(network: Any) -> None:
    a, b = pair(audio_a=sweep_tone(40.0), audio_b=b"")
    seen: list[tuple[float, str, type]] = []

    def tap(name: str) -> Any:
        def channel(_n: int, data: bytes, rtcp: bool) -> list[float]:
            if rtcp:
                first = parse_compound(data)[0]
                seen.append((net.now, name, type(first)))
            return [0.005]

        return channel

    net = network(a, b, a_to_b=tap("a"), b_to_a=tap("b"))
    net.run_until(40.0)
    for name, kind in (("a", SenderReport), ("b", ReceiverReport)):
        times = [t for t, who, k in seen if who == name]
        assert all(k is kind for _, who, k in seen if who == name)
        assert 1.25 <= times[0] <= 3.75  # §6.2: the first after half the interval
        gaps = [y - x for x, y in itertools.pairwise(times)]
        assert all(2.5 <= g <= 7.5 for g in gaps)
        assert 5 <= len(times) <= 16
    assert a.rtt == pytest.approx(0.010, abs=0.002)


def test_bye_on_close(network: Any) -> None:
    a, b = pair()
    net = network(a, b)
    net.run_until(0.5)
    a.close(net.now, "done")
    net.run_until(1.0)
    assert b.bye_received
    b.close(net.now)
    # B's recording holds all A sent before leaving (0.5 s), the buffer flushed.
    assert len(net.recording("b") + b.take_audio()) == 2 * 160 * 26
    events = []
    while (event := b.next_event()) is not None:
        events.append(event)
    assert ByeReceived(a.sender.ssrc, "done") in events
    assert a.get_timer() is None and a.datagrams_to_send() == []


def rtp(seq: int, ssrc: int = 0x1234, pt: int = 0, ts: int | None = None) -> bytes:
    return build_rtp(pt, seq, seq * 160 if ts is None else ts, ssrc, bytes(160), False)


def receiver(latching: Latching = Latching.SYMMETRIC, remote: tuple[str, int] = A) -> MediaStream:
    return MediaStream(
        MediaConfig(latching=latching), now=0.0, remote_rtp=remote, rng=random.Random(3)
    )


def test_bad_input_is_dropped_and_counted() -> None:
    s = receiver()
    s.receive(rtp(1), A, 0.0)
    s.receive(b"\x80\x00", A, 0.01)  # truncated
    s.receive(b"\x40" + rtp(2)[1:], A, 0.02)  # version 1
    s.receive(rtp(2, pt=18), A, 0.03)  # G.729: not negotiated
    s.receive(rtp(3, ssrc=0x9999), A, 0.04)  # a second SSRC mid-call
    s.receive(rtp(4), ("203.0.113.9", 666), 0.05)  # another address mid-call
    s.receive(b"\x80\xc9\x00\x05", A, 0.06)  # RTCP with a bad length
    d = s.drops
    assert (d.malformed, d.unknown_payload_type, d.foreign_ssrc, d.foreign_address) == (3, 1, 1, 1)
    assert s.stats is not None and s.stats.received == 1


def test_symmetric_latching_follows_the_first_valid_packet() -> None:
    s = MediaStream(
        MediaConfig(), now=0.0, remote_rtp=A, audio=sweep_tone(0.1), rng=random.Random(4)
    )
    nat = ("198.51.100.7", 61000)
    s.receive(b"garbage", nat, 0.0)  # not valid: does not latch
    s.receive(rtp(1), nat, 0.001)
    assert s.next_event() == SourceLatched(nat, False)
    assert s.next_event() == SourceLatched(nat, True)  # rtcp-mux: RTCP follows
    s.handle_timer(0.02)
    assert {addr for _, addr, _ in s.datagrams_to_send()} == {nat}
    s.receive(rtp(2), A, 0.03)  # the signalled address, now too late
    assert s.drops.foreign_address == 1


def test_strict_accepts_only_the_signalled_address() -> None:
    s = receiver(Latching.STRICT)
    s.receive(rtp(1), ("198.51.100.7", 61000), 0.0)
    assert s.drops.foreign_address == 1 and s.stats is None
    s.receive(rtp(1), A, 0.0)
    assert s.stats is not None and s.next_event() is None


def test_silence_is_suppressed_and_the_next_talkspurt_marked() -> None:
    audio = sweep_tone(0.04) + bytes(3 * 320) + sweep_tone(0.04)
    s = MediaStream(
        MediaConfig(silence_threshold=50), now=0.0, remote_rtp=A, audio=audio, rng=random.Random(5)
    )
    s.handle_timer(1.0)
    packets = [RtpPacket.parse(d) for d, _, rtcp in s.datagrams_to_send() if not rtcp]
    assert [p.marker for p in packets] == [True, False, True, False]
    assert packets[2].timestamp - packets[1].timestamp == 4 * 160


def test_without_rtcp_mux_rtcp_goes_to_the_next_port() -> None:
    s = MediaStream(
        MediaConfig(rtcp_mux=False), now=0.0, remote_rtp=A, audio=TONE, rng=random.Random(6)
    )
    s.handle_timer(10.0)
    rtcp = [addr for data, addr, is_r in s.datagrams_to_send() if is_r]
    assert rtcp == [(A[0], A[1] + 1)]


def test_config_must_be_g711() -> None:
    with pytest.raises(ValueError, match=r"G\.711"):
        MediaStream(MediaConfig(payload_type=9), now=0.0)


datagrams = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda seq, ssrc, pt, body: build_rtp(pt, seq, seq * 160, ssrc, body, False),
        st.integers(0, 0xFFFF),
        st.sampled_from([0x1234, 0x5678]),
        st.sampled_from([0, 8, 96]),
        st.binary(max_size=200),
    ),
    st.binary(max_size=60).map(lambda b: b"\x81\xc9" + b),
)


@settings(max_examples=500)
@given(st.lists(st.tuples(datagrams, st.sampled_from([A, B]), st.booleans()), max_size=20))
def test_no_input_makes_it_raise(items: list[tuple[bytes, tuple[str, int], bool]]) -> None:
    s = MediaStream(MediaConfig(), now=0.0, remote_rtp=A, audio=SHORT, rng=random.Random(7))
    now = 0.0
    for data, addr, rtcp in items:
        now += 0.007
        s.receive(data, addr, now, rtcp if is_rtcp(data) == rtcp else None)
        s.handle_timer(now)
    s.take_audio()
    s.datagrams_to_send()


def test_round_trip_time_from_lsr_and_dlsr() -> None:
    """§6.4.1: A sends an SR, B answers 0.4 s later, A hears it 0.05 s after that."""
    a, b = pair(audio_b=b"")
    a.handle_timer(4.0)  # A's first report is due by 3.75 s
    out = a.datagrams_to_send()
    for data, _, rtcp in out:
        b.receive(data, A, 4.02, rtcp)
    assert any(isinstance(parse_compound(d)[0], SenderReport) for d, _, r in out if r)
    b.handle_timer(4.42)
    b.close(4.42)
    answer = [d for d, _, r in b.datagrams_to_send() if r]
    assert isinstance(parse_compound(answer[-1])[0], ReceiverReport)
    assert any(isinstance(p, Bye) for p in parse_compound(answer[-1]))
    for data in answer:
        a.receive(data, B, 4.45, True)
    events = []
    while (event := a.next_event()) is not None:
        events.append(event)
    rtts = [e.seconds for e in events if isinstance(e, RoundTripMeasured)]
    assert rtts and rtts[-1] == pytest.approx(0.05, abs=1e-3)
    assert ByeReceived(b.sender.ssrc, "") in events


def _payloads(stream: MediaStream, until: float) -> list[bytes]:
    out = []
    t = 0.0
    while t <= until:
        stream.handle_timer(t)
        out += [RtpPacket.parse(d).payload for d, _, rtcp in stream.datagrams_to_send() if not rtcp]
        t += 0.02
    return out


@pytest.mark.parametrize("pt", [0, 8])
@pytest.mark.parametrize("length", [1600, 1601 * 2, 1599, 2 * 8000 * 30 + 320])
@pytest.mark.parametrize("threshold", [0, 1000])
def test_precoded_audio_sends_what_frame_by_frame_coding_sends(
    monkeypatch: pytest.MonkeyPatch, pt: int, length: int, threshold: int
) -> None:
    """Whole-audio coding (and its cache) against coding each frame as it goes,
    for audio with a partial last frame, an odd length and one over the limit,
    with and without silence suppression."""
    from sipsec.rtp import stream as stream_module

    audio = (TONE * (length // len(TONE) + 1))[:length]
    if threshold:  # quiet stretches, suppressed
        audio = bytes(640) + audio[640:1600] + bytes(960) + audio[3200:]
    until = min(length / 16000, 1.0) + 0.05
    cfg = MediaConfig(payload_type=pt, silence_threshold=threshold)
    coded = _payloads(MediaStream(cfg, now=0.0, remote_rtp=B, audio=audio), until)
    again = _payloads(MediaStream(cfg, now=0.0, remote_rtp=B, audio=audio), until)  # cached
    monkeypatch.setattr(stream_module, "PRECODE_LIMIT", 0)
    plain_stream = MediaStream(cfg, now=0.0, remote_rtp=B, audio=audio)
    assert plain_stream._coded is None
    framewise = _payloads(plain_stream, until)
    assert coded == again == framewise
    frames = -(-(length // 2) // 160)
    if threshold:
        assert len(coded) < frames  # some frames were suppressed
    else:
        assert len(coded) == frames if length < 2 * 8000 else len(coded) >= 50
    assert all(len(p) == 160 for p in coded)


def test_precoded_cache_is_bounded() -> None:
    from sipsec.rtp import precode

    for i in range(precode._PRECODED_KEEP + 3):
        MediaStream(MediaConfig(), now=0.0, remote_rtp=B, audio=TONE[: 320 * (i + 1)])
    assert len(precode._PRECODED) == precode._PRECODED_KEEP


class _Shadowed(JitterBuffer):
    """A playout buffer with a twin that gets every push and every pop as well:
    the twin, popped with pop() and decoded frame by frame, gives what the
    stream's batched playout (pop_payloads, decoded in runs by take_audio)
    must reproduce."""

    def __init__(self, decode: Any) -> None:
        super().__init__()
        self.twin = JitterBuffer()
        self.decode = decode
        self.expected: list[bytes] = []

    def push(self, timestamp: int, payload: bytes, now: float, samples: int = 0) -> bool:
        accepted = super().push(timestamp, payload, now, samples)
        assert self.twin.push(timestamp, payload, now, samples) == accepted
        return accepted

    def pop_payloads(self, now: float) -> list[bytes | int]:
        self.expected += [
            bytes(2 * f.samples) if f.payload is None else self.decode(f.payload)
            for f in self.twin.pop(now)
        ]
        return super().pop_payloads(now)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sets(st.integers(0, 59), max_size=12),
    st.sets(st.integers(0, 59), max_size=4),
    st.sets(st.integers(0, 59), max_size=4),
    st.sets(st.integers(0, 59), max_size=6),
    st.sampled_from([0, 8]),
)
def test_batched_playout_plays_what_frame_by_frame_decoding_plays(
    network: Any, drop: set[int], dup: set[int], late: set[int], swap: set[int], pt: int
) -> None:
    a, b = pair(audio_a=TONE[: 60 * 320], audio_b=b"", payload_type=pt)
    shadow = b.jitter = _Shadowed(g711.ulaw_decode if pt == 0 else g711.alaw_decode)
    net = network(a, b, a_to_b=lossy(drop, dup, late, swap))
    net.run_until(1.8)
    b.close(net.now)
    played = net.recording("b") + b.take_audio()
    assert played == b"".join(shadow.expected)
    assert len(played) > 0 and shadow.twin.played_frames == shadow.played_frames


@settings(max_examples=300, deadline=None)
@given(
    st.sets(st.integers(0, 79), max_size=80),
    st.sets(st.integers(0, 79), max_size=10),
    st.sampled_from([0, 8]),
)
def test_the_audio_taken_does_not_depend_on_when_it_is_taken(
    takes: set[int], drop: set[int], pt: int
) -> None:
    """MediaSession takes the played-out audio every few frames while sending
    (transport.media.PLAYOUT_PERIOD), not every tick: whatever the schedule,
    the PCM is the same octets a take after every tick gives, and pending_audio
    counts what waits."""
    a = MediaStream(MediaConfig(payload_type=pt), now=0.0, remote_rtp=B, audio=TONE[: 60 * 320])
    every, sometimes = (
        MediaStream(MediaConfig(payload_type=pt), now=0.0, remote_rtp=A, rng=random.Random(2))
        for _ in range(2)
    )
    taken_every: list[bytes] = []
    taken_sometimes: list[bytes] = []
    for step in range(80):
        now = step * 0.02
        a.handle_timer(now)
        for data, _, rtcp in a.datagrams_to_send():
            if not rtcp and step in drop:
                continue
            for b in (every, sometimes):
                b.receive(data, A, now + 0.001, rtcp)
        for b in (every, sometimes):
            b.handle_timer(now + 0.001)
        taken_every.append(every.take_audio())
        assert every.pending_audio == 0
        if step in takes:
            taken_sometimes.append(sometimes.take_audio())
            assert sometimes.pending_audio == 0
    sometimes.close(2.0)
    every.close(2.0)
    taken_every.append(every.take_audio())
    taken_sometimes.append(sometimes.take_audio())
    assert b"".join(taken_sometimes) == b"".join(taken_every)
    assert len(b"".join(taken_every)) >= 2 * 160 * (60 - len(drop))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0.02, 0.02, 0.02, 0.0, 0.013, 0.047, 0.1, 0.31]), max_size=60),
    st.integers(1, 40),
    st.sampled_from([0, 0, 500]),
)
def test_each_tick_sends_what_one_late_tick_sends(
    gaps: list[float], frames: int, threshold: int
) -> None:
    """Ticks at every frame (the one-frame send handle_timer does inline) and
    ticks now and then, late (the _send_due loop), put the very same packets
    on the wire; ``sending`` says what the offset and close() say."""
    audio = TONE[: 320 * frames + 100]  # a padded last frame too
    config = MediaConfig(silence_threshold=threshold)
    every = MediaStream(config, now=0.0, remote_rtp=B, audio=audio, rng=random.Random(5))
    some = MediaStream(config, now=0.0, remote_rtp=B, audio=audio, rng=random.Random(5))
    now = 0.0
    for gap in gaps:
        now += gap
        for stream in (every, some):
            stream.handle_timer(now if stream is some else every.sender.next_time)
            while stream is every and every.sending and every.sender.next_time <= now:
                every.handle_timer(every.sender.next_time)
            assert stream.sending == (
                not stream._closed and stream._audio_offset < stream._audio_len
            )
    end = now + 0.02 * (frames + 2)
    every.handle_timer(end)
    some.handle_timer(end)
    sent = [[d for d, _, rtcp in s.datagrams_to_send() if not rtcp] for s in (every, some)]
    assert sent[0] == sent[1] and len(sent[0]) == every.sender.packets_sent
    assert not every.sending and not some.sending
    every.close(end)
    assert not every.sending
