"""The shared part of the load engines: the SIPp-style datagram scanner."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import SipParseError
from sipsec.ua.load_engine import scan

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1500"))

RINGING = (
    b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKa1\r\n"
    b"From: <sip:load@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>;tag=b\r\n"
    b"i: abc@host\r\nCSeq:  1   INVITE\r\nContent-Length: 0\r\n\r\n"
)
ACK = RINGING.replace(b"SIP/2.0 180 Ringing", b"ACK sip:uas@127.0.0.1 SIP/2.0").replace(
    b"INVITE", b"ACK"
)


def test_scan_reads_start_line_call_id_and_cseq_method() -> None:
    assert scan(RINGING) == (180, "abc@host", "INVITE")  # compact form i = Call-ID
    assert scan(ACK) == ("ACK", "abc@host", "ACK")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"SIP/2.0 180 Ringing\r\n",  # no end of headers
        RINGING.replace(b"180", b"18x"),
        RINGING.replace(b"SIP/2.0 180", b"SIP/2.0 1800"),
        RINGING.replace(b"i: abc@host\r\n", b""),
        RINGING.replace(b"CSeq:  1   INVITE", b"CSeq: one INVITE"),
        RINGING.replace(b"abc@host", "ab\u00e9".encode()),
        ACK.replace(b" SIP/2.0\r\n", b" HTTP/1.1\r\n", 1),
    ],
)
def test_scan_refuses_what_it_cannot_match(data: bytes) -> None:
    with pytest.raises(SipParseError):
        scan(data)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(st.sampled_from([RINGING, ACK]), st.integers(0, 260), st.binary(max_size=6)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]
        ),
    )
)
def test_scan_returns_or_raises_sip_parse_error(data: bytes) -> None:
    try:
        kind, call_id, method = scan(data)
    except SipParseError:
        return
    assert isinstance(kind, (int, str)) and call_id and method.isalpha()
