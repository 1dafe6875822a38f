"""The DER writer agrees with asn1crypto's reader (X.690 §10) for every value."""

from __future__ import annotations

import datetime as dt

from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.smime import _der as der


@settings(max_examples=500)
@given(st.integers(min_value=-(2**200), max_value=2**200))
def test_integer(value: int) -> None:
    assert der.integer(value) == core.Integer(value).dump()


@settings(max_examples=300)
@given(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**40), max_size=8))
def test_oid(first: int, second: int, rest: list[int]) -> None:
    dotted = ".".join(map(str, [first, second, *rest]))
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=300), st.integers(0, 70000).map(bytes)))
def test_lengths(data: bytes) -> None:
    assert der.octets(data) == core.OctetString(data).dump()
    assert core.OctetString.load(der.octets(data)).native == data


def test_set_of_is_sorted_and_tags() -> None:
    assert der.set_of(der.integer(2), der.integer(1)) == b"\x31\x06\x02\x01\x01\x02\x01\x02"
    assert der.implicit(0, der.seq()) == b"\xa0\x00"
    assert der.implicit(0, der.octets(b"x")) == b"\x80\x01x"
    assert der.explicit(2, der.NULL) == b"\xa2\x02\x05\x00"
    assert der.bit_string(b"\x04") == b"\x03\x02\x00\x04"
    when = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert der.utc_time(when) == core.UTCTime(when).dump()
