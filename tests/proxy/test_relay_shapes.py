"""The fast relay's memoised value checks against their regular expressions:
a memo is only a cache, so a miss, a hit and the bare pattern answer the same."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_shapes as sh

_PARTS = [
    b"<sip:bob@atlanta.example>", b"Alice <sip:alice@192.0.2.1:5070>", b'"A B" <sip:a@h>',
    b"sip:bob@h.example", b"<sip:a@h;tag=1>", b";tag=", b";tag=x", b";tag=a.b-c", b";foo=1",
    b";lr", b"<", b">", b";", b"=", b" ", b"\t", b"x", b"@", b":", b"tel:+1", b"\xc3\xa9", b"",
]  # fmt: skip


def _values() -> st.SearchStrategy[bytes]:
    pieces = st.lists(st.sampled_from(_PARTS), max_size=5).map(b"".join)
    return pieces | st.binary(max_size=40)


def _party_by_pattern(value: bytes) -> tuple[bytes, list[bytes]] | None:
    m = sh._NAME_ADDR.fullmatch(value) or sh._ADDR_SPEC.fullmatch(value)
    return None if m is None else (m.group(1), sh._TAG.findall(value))


def _cseq_by_pattern(value: bytes) -> tuple[int, bytes] | None:
    m = sh._CSEQ.fullmatch(value)
    if m is None or int(m.group(1)) >= 2**31:
        return None
    return int(m.group(1)), m.group(2)


def _start_by_pattern(start: bytes) -> sh.StartLine | None:
    m = sh._STATUS.fullmatch(start)
    if start.startswith(b"SIP/2.0 "):
        if m is None:
            return None
        return None, b"", int(m.group(1)), sh._REASON.fullmatch(start) is not None
    parts = start.split(b" ")
    if len(parts) != 3 or parts[2] != b"SIP/2.0" or sh._METHOD.fullmatch(parts[0]) is None:
        return None
    return parts[0], parts[1], 0, False


_DIGITS = re.compile(rb"[0-9]{1,10}")  # what digits() stands for
_TRIED = [0]


@settings(max_examples=1500)
@given(_values(), _values())
def test_party_memo_is_the_pattern(base: bytes, tag: bytes) -> None:
    """§20.20/§20.39: From and To, with and without a tag; the tagged form
    is read through its untagged base."""
    for value in (base, base + b";tag=" + tag):
        for _ in range(2):  # a miss, then (when kept) a hit
            assert sh.party(value) == _party_by_pattern(value), value
    _TRIED[0] += 1


@settings(max_examples=800)
@given(st.sampled_from([b"1 INVITE", b"2147483647 BYE", b"2147483648 BYE", b"01 ACK"]) | _values())
def test_cseq_call_id_content_type_memos_are_the_patterns(value: bytes) -> None:
    for _ in range(2):
        assert sh.cseq(value) == _cseq_by_pattern(value)
        assert sh.call_id_ok(value) == (sh._CALL_ID.fullmatch(value) is not None)
        assert sh.content_type_ok(value) == (sh._CONTENT_TYPE.fullmatch(value) is not None)
        assert sh.digits(value) == (_DIGITS.fullmatch(value) is not None)
        route = sh._NAME_ADDR.fullmatch(value)
        assert sh.name_addr_uri(value) == (None if route is None else route.group(1))


_STARTS = [
    b"SIP/2.0 180 Ringing", b"SIP/2.0 200 OK ", b"SIP/2.0 699 x\ny", b"SIP/2.0 100",
    b"INVITE sip:bob@h SIP/2.0", b"BYE sip:b\rob@h SIP/2.0", b"invite sip:b SIP/2.0",
    b"ACK sip:b SIP/2.1", b"INFO  sip:b SIP/2.0",
]  # fmt: skip


@settings(max_examples=800)
@given(st.sampled_from(_STARTS) | st.binary(max_size=30))
def test_start_line_memo_is_the_pattern(start: bytes) -> None:
    """A status line (clean reason or not) or a request line; never a bare CR or LF."""
    expected = None if b"\r" in start or b"\n" in start else _start_by_pattern(start)
    for _ in range(2):
        assert sh.start_line(start) == expected
        assert sh.clean_reason(start) == (expected is not None and expected[3])


def test_a_memo_stays_bounded() -> None:
    for i in range(sh._KEPT + 10):
        sh.cseq(b"%d INVITE" % i)
    assert len(sh.CSEQS) <= sh._KEPT
    sh.cseq(b"x" * (sh._LONGEST + 1))
    assert b"x" * (sh._LONGEST + 1) not in sh.CSEQS


def test_the_party_property_ran() -> None:
    if _TRIED[0] == 0:
        return  # run alone
    assert _TRIED[0] >= 100


@settings(max_examples=500)
@given(st.binary(max_size=60) | _values())
def test_a_one_byte_needle_as_an_int_finds_what_the_bytes_needle_finds(value: bytes) -> None:
    """The relay looks for a comma or a NUL as an int (relay_shapes.COMMA):
    exactly the bytes test it replaces, for any bytes."""
    assert (sh.COMMA in value) == (b"," in value)
    assert (sh.NUL in value) == (b"\x00" in value)
