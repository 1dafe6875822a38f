"""StreamFramer: TCP/TLS framing (RFC 3261 §18.3), keep-alives (RFC 5626 §4.4.1)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import MAX_MESSAGE_SIZE, Request, SipParseError, StreamFramer
from sipsec.sip.framer import MAX_REJECTED

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FLOW = sorted((VECTORS / "rfc3665").glob("3.1-*.sip"))
MESSAGES = [p.read_bytes() for p in FLOW]


def test_whole_stream_at_once_and_byte_by_byte() -> None:
    stream = b"\r\n\r\n".join(MESSAGES)
    framer = StreamFramer()
    assert [bytes(m) for m in framer.feed(stream)] == MESSAGES
    assert framer.pings == len(MESSAGES) - 1 and framer.buffered == 0
    slow = StreamFramer()
    out = []
    for i in range(len(stream)):
        out += slow.feed(stream[i : i + 1])
    assert [bytes(m) for m in out] == MESSAGES and slow.buffered == 0


def test_partial_then_rest() -> None:
    framer = StreamFramer()
    first = MESSAGES[0]
    assert framer.feed(first[:-10]) == [] and framer.buffered == len(first) - 10
    (message,) = framer.feed(first[-10:] + MESSAGES[1][:5])
    assert isinstance(message, Request) and framer.buffered == 5


def test_keepalives() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [] and framer.pings == 1
    assert framer.feed(b"\r\n") == [] and framer.pongs == 0 and framer.crlf_pending
    assert framer.feed(b"\r") == [] and framer.buffered == 1
    # The fourth CRLF pairs with the third: a second ping, not two pongs.
    assert framer.feed(b"\n" + MESSAGES[0])[0].method == "INVITE"  # type: ignore[union-attr]
    assert (framer.pings, framer.pongs, framer.crlf_pending) == (2, 0, False)


def test_lone_crlf_is_a_pong_once_a_message_follows() -> None:
    # RFC 3261 §7.5: a CRLF before a start line is ignored; it is no ping.
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == [] and framer.crlf_pending and framer.pongs == 0
    assert len(framer.feed(MESSAGES[0] + b"\r\n\r\n\r\n" + MESSAGES[1])) == 2
    assert (framer.pings, framer.pongs, framer.crlf_pending) == (1, 2, False)


def _keepalives(chunks: list[bytes]) -> tuple[list[bytes], int, int, bool]:
    framer = StreamFramer()
    out = [bytes(m) for chunk in chunks for m in framer.feed(chunk)]
    return out, framer.pings, framer.pongs, framer.crlf_pending


# RFC 5626 §3.5.1/§4.4.1: (stream, pings, lone CRLFs ended by a message, one pending).
KEEPALIVE_STREAMS = [
    (b"\r\n\r\n", 1, 0, False),
    (b"\r\n", 0, 0, True),
    (b"\r\n\r\n\r\n", 1, 0, True),
    (b"\r\n\r\n\r\n\r\n", 2, 0, False),
    (b"\r\n\r\n\r\n" + MESSAGES[0] + b"\r\n", 1, 1, True),
    (MESSAGES[0] + b"\r\n\r\n\r\n\r\n" + MESSAGES[1] + b"\r\n\r\n", 3, 0, False),
]


@pytest.mark.parametrize(("stream", "pings", "pongs", "pending"), KEEPALIVE_STREAMS)
def test_keepalives_split_at_every_point(
    stream: bytes, pings: int, pongs: int, pending: bool
) -> None:
    # The counts depend on the bytes only: whole, byte by byte, and cut at
    # any one point (and any two, for the short streams) all agree.
    messages = [m for m in MESSAGES if m in stream]
    expected = (messages, pings, pongs, pending)
    assert _keepalives([stream]) == expected
    assert _keepalives([stream[i : i + 1] for i in range(len(stream))]) == expected
    for i in range(len(stream) + 1):
        assert _keepalives([stream[:i], stream[i:]]) == expected, i
    if len(stream) <= 12:
        for i, j in itertools.combinations(range(len(stream) + 1), 2):
            assert _keepalives([stream[:i], stream[i:j], stream[j:]]) == expected, (i, j)


KEEPALIVE_TRIED = {"examples": 0}


@settings(max_examples=int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "600")), deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from(range(len(MESSAGES)))), max_size=4),
    st.integers(0, 5),
    st.lists(st.integers(0, 3000), max_size=10),
)
def test_keepalive_counts_do_not_depend_on_the_reads(
    runs: list[tuple[int, int]], tail: int, cuts: list[int]
) -> None:
    # Runs of n CRLFs between messages: n // 2 pings each; an odd one is a
    # lone CRLF, counted once the next message starts, or still pending.
    KEEPALIVE_TRIED["examples"] += 1
    stream = b"".join(b"\r\n" * n + MESSAGES[i] for n, i in runs) + b"\r\n" * tail
    expected = (
        [MESSAGES[i] for _, i in runs],
        sum(n // 2 for n, _ in runs) + tail // 2,
        sum(n % 2 for n, _ in runs),
        tail % 2 == 1,
    )
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    assert _keepalives([stream[a:b] for a, b in itertools.pairwise(points)]) == expected
    assert _keepalives([stream[i : i + 1] for i in range(len(stream))]) == expected


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda m: m.replace(b"Content-Length: 151\r\n", b""), 400),
        (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: -1"), 400),
        (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: 151\r\nl: 151"), 400),
        (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: 999999"), 413),
        (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: 65530"), 513),
    ],
)
def test_framing_errors_break_the_stream(mutate: object, status: int) -> None:
    framer = StreamFramer()
    with pytest.raises(SipParseError) as info:
        framer.feed(mutate(MESSAGES[0]))  # type: ignore[operator]
    assert info.value.status == status and framer.broken and framer.buffered == 0
    with pytest.raises(SipParseError):
        framer.feed(MESSAGES[1])


def test_header_section_too_large_is_bounded() -> None:
    framer = StreamFramer()
    with pytest.raises(SipParseError) as info:
        for _ in range(MAX_MESSAGE_SIZE // 1000 + 2):
            framer.feed(b"X-Filler: " + b"a" * 990 + b"\r\n")
    assert info.value.status == 513 and framer.broken


def test_bad_message_with_sound_framing_is_skipped() -> None:
    bad = MESSAGES[0].replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")  # §8.2: method mismatch
    framer = StreamFramer()
    with pytest.raises(SipParseError):
        framer.feed(MESSAGES[1] + bad + MESSAGES[2])
    assert not framer.broken
    # The message before the bad one, then the one after it.
    assert [bytes(m) for m in framer.feed(b"")] == [MESSAGES[1], MESSAGES[2]]


def test_torture_messages_on_a_stream() -> None:
    # RFC 4475 §3.1.2.2 clerr over TCP: wait for the missing octets.
    clerr = (VECTORS / "rfc4475" / "clerr.dat").read_bytes()
    framer = StreamFramer()
    assert framer.feed(clerr) == [] and framer.buffered == len(clerr)
    # §3.1.2.3 ncl: a negative Content-Length is unrecoverable.
    with pytest.raises(SipParseError):
        StreamFramer().feed((VECTORS / "rfc4475" / "ncl.dat").read_bytes())


# -- rejected messages: the bytes of a bad message whose framing is sound -------------
BAD = MESSAGES[0].replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")  # §8.2: method mismatch


def test_feed_keeps_the_bad_message_for_an_answer() -> None:
    framer = StreamFramer()
    with pytest.raises(SipParseError) as info:
        framer.feed(MESSAGES[1] + BAD + MESSAGES[2])
    assert framer.rejected == [(BAD, info.value)] and info.value.status == 400
    framer.rejected.clear()
    assert [bytes(m) for m in framer.feed(b"")] == [MESSAGES[1], MESSAGES[2]]
    assert framer.rejected == []


def test_feed_with_errors_does_not_raise_for_a_bad_message() -> None:
    framer = StreamFramer()
    stream = BAD + b"\r\n\r\n" + MESSAGES[1] + BAD[:-1] + b"x" + MESSAGES[2] + MESSAGES[3][:9]
    messages, rejected = framer.feed_with_errors(stream)
    assert [bytes(m) for m in messages] == [MESSAGES[1], MESSAGES[2]]
    assert [chunk for chunk, _ in rejected] == [BAD, BAD[:-1] + b"x"]
    assert all(error.status == 400 for _, error in rejected)
    assert framer.rejected == [] and not framer.broken and framer.pings == 1
    messages, rejected = framer.feed_with_errors(MESSAGES[3][9:])
    assert [bytes(m) for m in messages] == [MESSAGES[3]] and rejected == []


def test_feed_with_errors_still_raises_for_framing() -> None:
    framer = StreamFramer()
    ncl = BAD + MESSAGES[0].replace(b"Content-Length: 151", b"Content-Length: -1")
    with pytest.raises(SipParseError):
        framer.feed_with_errors(ncl)
    assert framer.broken and [chunk for chunk, _ in framer.rejected] == [BAD]
    with pytest.raises(SipParseError):
        framer.feed_with_errors(b"")


def test_rejected_is_bounded() -> None:
    framer = StreamFramer()
    bads = [BAD.replace(b"1 BYE", b"%d BYE" % i) for i in range(MAX_REJECTED + 5)]
    for chunk in bads:
        with pytest.raises(SipParseError):
            framer.feed(chunk)
    assert [chunk for chunk, _ in framer.rejected] == bads[-MAX_REJECTED:]


FRAMER_TRIED = {"examples": 0}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(range(len(MESSAGES))), st.booleans()), max_size=6),
    st.lists(st.integers(0, 4000), max_size=6),
)
def test_feed_with_errors_splits_any_way(picks: list[tuple[int, bool]], cuts: list[int]) -> None:
    # Good and bad messages (sound framing) in any order, cut anywhere: the
    # good ones come out, the bad ones come back with their exact bytes.
    FRAMER_TRIED["examples"] += 1
    chunks = [BAD if bad else MESSAGES[i] for i, bad in picks]
    stream = b"".join(chunks)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    framer = StreamFramer()
    good: list[bytes] = []
    rejected: list[bytes] = []
    for start, stop in itertools.pairwise(points):
        messages, errors = framer.feed_with_errors(stream[start:stop])
        good += [bytes(m) for m in messages]
        rejected += [chunk for chunk, error in errors if error.status == 400]
    assert good == [c for c in chunks if c is not BAD]
    assert rejected == [c for c in chunks if c is BAD]
    assert framer.buffered == 0 and not framer.broken


# -- a framing error after good messages: they are delivered, then the error -----------
# Each breaks the framing of the message it is applied to (RFC 4475 §3.1.2.3).
BREAKS = [
    (lambda m: m.replace(b"Content-Length: 151\r\n", b""), 400),
    (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: -1"), 400),
    (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: 151\r\nl: 151"), 400),
    (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: 999999"), 413),
    (lambda m: m.replace(b"Content-Length: 151", b"Content-Length: 65530"), 513),
    (lambda m: b"X-Filler: " + b"a" * MAX_MESSAGE_SIZE, 513),  # a header block with no end
]


@pytest.mark.parametrize(("mutate", "status"), BREAKS)
def test_messages_before_a_framing_error_in_the_same_chunk_are_kept(
    mutate: object, status: int
) -> None:
    broken = mutate(MESSAGES[0])  # type: ignore[operator]
    framer = StreamFramer()
    with pytest.raises(SipParseError) as info:
        framer.feed(MESSAGES[1] + b"\r\n\r\n" + MESSAGES[2] + broken + MESSAGES[3])
    assert info.value.status == status and framer.broken and framer.buffered == 0
    assert [bytes(m) for m in framer.take_messages()] == [MESSAGES[1], MESSAGES[2]]
    assert framer.take_messages() == [] and framer.pings == 1
    with pytest.raises(SipParseError):  # the stream stays broken
        framer.feed(MESSAGES[3])


@pytest.mark.parametrize(("mutate", "status"), BREAKS)
def test_next_feed_hands_them_over_then_raises(mutate: object, status: int) -> None:
    framer = StreamFramer()
    with pytest.raises(SipParseError):
        framer.feed(MESSAGES[1] + MESSAGES[2] + mutate(MESSAGES[0]))  # type: ignore[operator]
    # What came before the break, once; the data after it is never read.
    assert [bytes(m) for m in framer.feed(MESSAGES[3])] == [MESSAGES[1], MESSAGES[2]]
    with pytest.raises(SipParseError) as info:
        framer.feed(b"")
    assert info.value.status == status


def test_feed_with_errors_keeps_good_and_bad_before_the_break() -> None:
    # The transport's path (sipsec.transport.connections): good ones to
    # deliver, skipped ones to answer with 400, then the framing error.
    framer = StreamFramer()
    ncl = MESSAGES[0].replace(b"Content-Length: 151", b"Content-Length: -1")
    with pytest.raises(SipParseError):
        framer.feed_with_errors(MESSAGES[1] + BAD + MESSAGES[2] + ncl + MESSAGES[3])
    assert [chunk for chunk, _ in framer.rejected] == [BAD]
    assert [bytes(m) for m in framer.take_messages()] == [MESSAGES[1], MESSAGES[2]]
    with pytest.raises(SipParseError):
        framer.feed_with_errors(b"")


def test_feed_with_errors_hands_over_what_was_not_taken() -> None:
    framer = StreamFramer()
    ncl = MESSAGES[0].replace(b"Content-Length: 151", b"Content-Length: -1")
    with pytest.raises(SipParseError):
        framer.feed_with_errors(BAD + MESSAGES[1] + ncl)
    messages, rejected = framer.feed_with_errors(MESSAGES[2])
    assert [bytes(m) for m in messages] == [MESSAGES[1]]
    assert [chunk for chunk, _ in rejected] == [BAD] and framer.rejected == []
    with pytest.raises(SipParseError):
        framer.feed_with_errors(MESSAGES[2])


def test_messages_from_an_earlier_chunk_survive_a_later_break() -> None:
    # feed() raised for a bad message; before anyone called feed(b"") again,
    # the next chunk breaks the framing: the earlier good message is kept.
    framer = StreamFramer()
    with pytest.raises(SipParseError):
        framer.feed(MESSAGES[1] + BAD)
    assert not framer.broken
    with pytest.raises(SipParseError):
        framer.feed(MESSAGES[2] + MESSAGES[0].replace(b"Content-Length: 151\r\n", b""))
    assert framer.broken
    assert [bytes(m) for m in framer.take_messages()] == [MESSAGES[1], MESSAGES[2]]


def test_byte_by_byte_up_to_a_framing_error() -> None:
    good = MESSAGES[1] + b"\r\n\r\n" + MESSAGES[2]
    stream = good + MESSAGES[0].replace(b"Content-Length: 151", b"Content-Length: x")
    framer = StreamFramer()
    delivered, error = _drive(framer, [stream[i : i + 1] for i in range(len(stream))])
    assert delivered == [MESSAGES[1], MESSAGES[2]] and error is not None and error.status == 400


def _drive(framer: StreamFramer, chunks: list[bytes]) -> tuple[list[bytes], SipParseError | None]:
    """What sipsec.transport.connections does with a framer, chunk by chunk:
    deliver the messages, and on a framing error first those completed before it."""
    delivered: list[bytes] = []
    for chunk in chunks:
        try:
            messages, _ = framer.feed_with_errors(chunk)
        except SipParseError as error:
            delivered += [bytes(m) for m in framer.take_messages()]
            return delivered, error
        delivered += [bytes(m) for m in messages]
    return delivered, None


def _drive_feed(
    framer: StreamFramer, chunks: list[bytes]
) -> tuple[list[bytes], SipParseError | None]:
    """The same through feed(), which raises for a bad message too."""
    delivered: list[bytes] = []
    for chunk in chunks:
        try:
            delivered += [bytes(m) for m in framer.feed(chunk)]
        except SipParseError as error:
            if framer.broken:
                delivered += [bytes(m) for m in framer.take_messages()]
                return delivered, error
            # One bad message: what came before it waits for the next call.
    delivered += [bytes(m) for m in framer.take_messages()]
    return delivered, None


# Garbage after the good messages: framing breakers, a bad message whose
# framing is sound, a partial message, and random bytes.
GARBAGE = st.one_of(
    st.sampled_from(
        [mutate(MESSAGES[0]) for mutate, _ in BREAKS[:5]]  # type: ignore[no-untyped-call]
        + [BAD, MESSAGES[0][:100], b"X" * 5000, b"\r\n\r\n\r"]
    ),
    st.binary(max_size=300),
)
SPLIT_TRIED = {"examples": 0, "broken": 0}
# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
SPLIT_EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "500"))


@settings(max_examples=SPLIT_EXAMPLES, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(range(len(MESSAGES))), st.booleans()), max_size=5),
    GARBAGE,
    st.lists(st.integers(0, 7000), max_size=8),
)
def test_good_messages_survive_any_chunking_before_garbage(
    picks: list[tuple[int, bool]], garbage: bytes, cuts: list[int]
) -> None:
    # Valid messages (some with a keep-alive after them), then garbage, cut
    # anywhere: every good message comes out, in order, whatever the chunks;
    # and the chunks change nothing (the same messages, the same outcome).
    SPLIT_TRIED["examples"] += 1
    good = [MESSAGES[i] for i, _ in picks]
    stream = b"".join(MESSAGES[i] + (b"\r\n\r\n" if ping else b"") for i, ping in picks) + garbage
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    # A small limit so that "header section too large" is reachable here.
    delivered, error = _drive(StreamFramer(max_message_size=4096), chunks)
    whole, whole_error = _drive(StreamFramer(max_message_size=4096), [stream])
    assert delivered[: len(good)] == good
    assert delivered == whole and (error is None) == (whole_error is None)
    assert _drive_feed(StreamFramer(max_message_size=4096), chunks)[0] == delivered
    SPLIT_TRIED["broken"] += error is not None


def test_chunking_fuzz_reached_framing_errors() -> None:
    if not SPLIT_TRIED["examples"]:
        pytest.skip("the chunking fuzz test did not run")
    print(SPLIT_TRIED)
    assert SPLIT_TRIED["broken"] > SPLIT_TRIED["examples"] // 10, SPLIT_TRIED
