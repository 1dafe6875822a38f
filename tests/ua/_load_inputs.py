"""Inputs shared by the load generator's wire and scanner tests: the RFC
3665 call-flow messages, a plain 180, and mutations of them (Hypothesis)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

from sipsec.sip import SipParseError, parse_message

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1500"))

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc3665"
ALL_FLOWS = {path.name: path.read_bytes() for path in sorted(VECTORS.glob("*.sip"))}


def _parses(data: bytes) -> bool:
    try:
        parse_message(data)
    except SipParseError:
        return False
    return True


# The README names the RFC's printing flaws kept in the corpus (§3.10 F4: an
# unfolded Record-Route continuation); those are inputs for the fuzz test only.
FLOWS = {name: data for name, data in ALL_FLOWS.items() if _parses(data)}

RINGING = (
    b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKa1;rport\r\n"
    b"From: <sip:load@127.0.0.1>;tag=a\r\nTo: <sip:uas@127.0.0.1>;tag=b\r\n"
    b"Call-ID: abc@host\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


def _mutate(base: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at %= len(base) + 1
    return base[:at] + insert + base[at + cut :]


MUTATED = st.one_of(
    st.binary(max_size=400),
    st.builds(
        _mutate,
        st.sampled_from([*sorted(ALL_FLOWS.values()), RINGING]),
        st.integers(0, 2000),
        st.integers(0, 8),
        st.sampled_from(
            [b"", b" ", b"\t", b"\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b"=", b"tag=",
             b";branch=", b"\x00", b"\xff", b"i: x\r\n", b"T", b"v: SIP/2.0/UDP h\r\n"]
        )
        | st.binary(max_size=6),
    ),
)  # fmt: skip
