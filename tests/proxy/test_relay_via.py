"""The relay's top-Via reader: accepted shapes, and its skeleton memo against the pattern."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_via as rv


def test_top_via_shapes() -> None:
    assert rv.parse_top_via(b"SIP/2.0/UDP h.example;branch=z9hG4bKx") is not None
    for value in (
        b"SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKx",  # not UDP
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK",  # the cookie alone (RFC 4475 §3.2.1)
        b"SIP/2.0/UDP 192.0.2.1;branch=x",  # RFC 2543 branch
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;received=192.0.2.2",
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;rport=9",
        b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;branch=z9hG4bKy",
        b"SIP/2.0/UDP 192.0.2.1:0;branch=z9hG4bKx",
    ):
        assert rv.parse_top_via(value) is None, value


_VIA_PIECES = [
    b"SIP/2.0/UDP ", b"SIP/2.0/TCP ", b"192.0.2.10", b"h.example", b":5070", b":0", b":99999",
    b";branch=", b"z9hG4bK", b"z9hG4bKa1", b"x", b";rport", b";rport=9", b";received=1.2.3.4",
    b";maddr=h", b";ttl=1", b"=", b";", b" ", b"\xff", b"BRANCH=", b",",
]  # fmt: skip
_VIA_TRIED = [0]


@settings(max_examples=1500)
@given(
    st.lists(st.sampled_from(_VIA_PIECES), max_size=8).map(b"".join),
    st.sampled_from([b"z9hG4bKa1", b"z9hG4bK", b"z9hG4bKq.r-s", b"abc", b"", b"z9hG4bK=x"]),
)
def test_parse_top_via_through_its_skeleton_is_the_pattern(value: bytes, branch: bytes) -> None:
    """The memo on the Via without its branch reads every value as the
    pattern does (RFC 3261 §20.42, §18.2.1): same verdict, same fields."""
    for text in (value, b"SIP/2.0/UDP 192.0.2.10:5070;branch=" + branch + value):
        for _ in range(2):  # a miss, then a hit
            got, direct = rv.parse_top_via(text), rv._parse_top_via(text)
            assert (got is None) == (direct is None), text
            if got is not None and direct is not None:
                for name in rv.ViaTop.__slots__:
                    if name != "skeleton":  # how it was read, not what
                        assert getattr(got, name) == getattr(direct, name), (text, name)
                # the key of the stamp memo: the value with its branch the stand-in
                stand_in = b";branch=" + rv.STAND_IN
                assert got.skeleton == text.replace(b";branch=" + got.branch, stand_in, 1)
                _VIA_TRIED[0] += 1


def test_the_via_property_accepted_some() -> None:
    if _VIA_TRIED[0] == 0:
        return  # run alone
    assert _VIA_TRIED[0] > 50
