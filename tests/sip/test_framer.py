"""StreamFramer: TCP/TLS framing (RFC 3261 §18.3), keep-alives (RFC 5626 §4.4.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipsec.sip import MAX_MESSAGE_SIZE, Request, SipParseError, StreamFramer

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
    assert framer.feed(b"\r\n") == [] and framer.pongs == 1
    assert framer.feed(b"\r") == [] and framer.buffered == 1
    assert framer.feed(b"\n" + MESSAGES[0])[0].method == "INVITE"  # type: ignore[union-attr]
    assert framer.pongs == 2


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
