"""Hypothesis: whatever the bytes, parse_message and StreamFramer.feed either
succeed or raise SipParseError — never anything else (the h11 fuzz invariant).
Inputs: random bytes, and mutations of the RFC 4475 / 5118 / 3665 messages.

SIPSEC_FUZZ_EXAMPLES scales the example counts for a long run by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.sip import (
    Message,
    Request,
    SipParseError,
    StreamFramer,
    parse_message,
    validate_request,
    validate_response,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
CORPUS = [
    p.read_bytes()
    for pattern in ("rfc4475/*.dat", "rfc5118/wire/*.dat", "rfc3665/*.sip")
    for p in sorted(VECTORS.glob(pattern))
]
SCALE = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1"))
VIEWS = (
    "vias",
    "top_via",
    "from_",
    "to",
    "call_id",
    "cseq",
    "max_forwards",
    "content_length",
    "contacts",
    "routes",
    "record_routes",
    "content_type",
    "expires",
    "require",
    "proxy_require",
    "supported",
    "unsupported",
    "www_authenticate",
    "proxy_authenticate",
    "authorization",
    "proxy_authorization",
)
SPECIAL = [
    b"\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b'"',
    b"<",
    b">",
    b"\\",
    b"@",
    b"=",
    b"%",
    b"[",
    b"]",
    b"\r\n ",
    b"\x00",
    b"\xff",
    b"SIP/2.0",
    b"9" * 30,
    b"sip:",
    b"Content-Length: ",
    b"\r\n\r\n",
]


def exercise(data: bytes) -> None:
    """The invariant, plus: a parsed message round-trips and its views behave."""
    try:
        message = parse_message(data)
    except SipParseError as error:
        assert 400 <= error.status <= 599
        return
    wire = bytes(message)
    assert wire in data
    assert bytes(parse_message(wire)) == wire
    for view in VIEWS:
        try:
            getattr(message, view)
        except SipParseError:
            pass
    check(message)


def check(message: Message) -> None:
    if isinstance(message, Request):
        result = validate_request(message)
    else:
        result = validate_response(message, uac=True)  # type: ignore[arg-type]
    assert result is None or isinstance(result, SipParseError)
    for via in message.vias:
        for attr in ("rport", "ttl", "sent_by"):
            try:
                getattr(via, attr)
            except SipParseError:
                pass
    for na in [*message.contacts, message.to, message.from_]:
        if na is not None and na.uri is not None:
            hash(na.uri)
            assert na.uri == na.uri
            str(na)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 4))
        i = draw(st.integers(0, len(data)))
        j = min(len(data), i + draw(st.integers(0, 40)))
        if op == 0:
            del data[i:j]
        elif op == 1:
            data[i:i] = draw(st.sampled_from(SPECIAL))
        elif op == 2:
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == 3:
            data[i:i] = data[i:j]
        elif data:
            data[min(i, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=500 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    exercise(data)
    exercise(b"INVITE sip:a@b SIP/2.0\r\n" + data)


@settings(max_examples=600 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_rfc_messages(data: bytes) -> None:
    exercise(data)


@settings(max_examples=120 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_framer_any_split(messages: list[bytes], rnd: object) -> None:
    stream = b"\r\n\r\n".join(messages)
    framer = StreamFramer()
    pos = 0
    while pos < len(stream):
        size = 1 if rnd.random() < 0.5 else rnd.randint(1, 200)  # type: ignore[attr-defined]
        try:
            for message in framer.feed(stream[pos : pos + size]):
                assert bytes(parse_message(bytes(message))) == bytes(message)
        except SipParseError:
            if framer.broken:
                return
        pos += size
    assert framer.buffered <= len(stream)


def test_framer_byte_by_byte_over_the_whole_corpus() -> None:
    framer = StreamFramer()
    complete = [m for m in CORPUS if b"Content-Length" in m or b"\r\nl:" in m]
    got = 0
    for message in complete:
        for i in range(len(message)):
            try:
                got += len(framer.feed(message[i : i + 1]))
            except SipParseError:
                if framer.broken:
                    framer = StreamFramer()
    assert got > 150  # the well-framed RFC 3665 and RFC 4475 messages come out
