"""Via values (RFC 3261 §20.42, §18.2.1; RFC 3581 rport)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import SipParseError, Via, parse_via
from sipsec.sip.params import _PARAM, _split_simple, unquote
from sipsec.sip.via import _VIA_FAST


def test_via_fields() -> None:
    (via,) = parse_via(
        "SIP/2.0/udp pc33.atlanta.com:5066;branch=z9hG4bK776;received=192.0.2.1;rport=5066"
        ";maddr=239.1.1.1;ttl=16"
    )
    assert (via.transport, via.host, via.port, via.sent_by) == (
        "UDP",
        "pc33.atlanta.com",
        5066,
        "pc33.atlanta.com:5066",
    )
    assert via.branch == "z9hG4bK776" and via.received == "192.0.2.1" and via.rport == 5066
    assert via.maddr == "239.1.1.1" and via.ttl == 16
    (flag,) = parse_via("SIP/2.0/UDP h;rport;branch=z9hG4bKx")
    assert flag.rport is True and flag.port is None
    (none,) = parse_via("SIP/2.0/UDP h")
    assert none.rport is None and none.branch is None and none.ttl is None


def test_via_lists_and_lws() -> None:
    vias = parse_via(
        'SIP / 2.0 / TCP a.example ; branch = z9hG4bK1 , SIP/2.0/UDP [2001:db8::1]:5060;x="q;,"'
    )
    assert [v.sent_by for v in vias] == ["a.example", "[2001:db8::1]:5060"]
    assert vias[0].branch == "z9hG4bK1" and vias[1].params["x"] == "q;,"
    assert str(vias[0]) == "SIP / 2.0 / TCP a.example ; branch = z9hG4bK1"


def test_via_built() -> None:
    via = Via("tls", "proxy.example", 5061, {"branch": "z9hG4bKa", "rport": None})
    assert str(via) == "SIP/2.0/TLS proxy.example:5061;branch=z9hG4bKa;rport"
    assert parse_via(str(via))[0].params == via.params


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SIP/2.0/UDP",
        "SIP/2.0 UDP h",
        "SIP/2.0/UDP h;;",
        "SIP/2.0/UDP h,",
        "SIP/2.0/UDP h:70000",
        "SIP/2.0/UDP 192.0.2.15;;,;,,",
        "SIP/2.0/UDP h junk",
    ],
)
def test_bad_via(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_via(text)


def test_bad_rport_ttl_raise_on_access() -> None:
    (via,) = parse_via("SIP/2.0/UDP h;rport=x;ttl=300")
    with pytest.raises(SipParseError):
        via.rport  # noqa: B018
    with pytest.raises(SipParseError):
        via.ttl  # noqa: B018


# _split_simple drops every SP and HT of a parameter run _VIA_FAST matched
# (LWS may stand only before ";" there): the pairs must be what the general
# parameter pattern reads one by one.
NAME = st.text("abcXYZ019-.!%*_+`'~", min_size=1, max_size=6)
VALUE = st.text("abcXYZ019-.!%*_+`'~[]:", min_size=1, max_size=8)
LWS = st.sampled_from(["", "", " ", "\t", "  ", " \t"])
PARAM = st.tuples(LWS, NAME, st.one_of(st.none(), VALUE)).map(
    lambda p: f"{p[0]};{p[1]}" + ("" if p[2] is None else f"={p[2]}")
)


def _one_by_one(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    pos = 0
    while pos < len(text):
        m = _PARAM.match(text, pos)
        assert m is not None
        value = m.group(2)
        params[m.group(1).lower()] = None if value is None else unquote(value)
        pos = m.end()
    return params


@settings(max_examples=500, deadline=None)
@given(st.lists(PARAM, min_size=1, max_size=4).map("".join))
def test_simple_parameter_runs_split_like_the_general_pattern(ptext: str) -> None:
    via = f"SIP/2.0/UDP h.example{ptext}"
    m = _VIA_FAST.fullmatch(via)
    assert m is not None and m.group(6) == ptext
    assert _split_simple(ptext) == _one_by_one(ptext)
    assert parse_via(via)[0].params == _one_by_one(ptext)
