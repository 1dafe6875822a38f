"""relay_flow's byte checks against the scanner's patterns (RFC 3261 §8.2.6.2)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_shapes as sh
from sipsec.proxy.relay_flow import echoes
from sipsec.proxy.relay_txn import RelayTxn

_TO = b"<sip:b@h>"
_ECHOED = [0]


@settings(max_examples=1000)
@given(
    tail=st.one_of(
        st.binary(max_size=12),
        st.text(alphabet=sh.TOKEN_CHARS.decode() + ";= @\t", max_size=12).map(str.encode),
    ),
    tagged=st.booleans(),
)
def test_a_response_echoes_the_to_of_its_request_with_a_token_tag_at_most(
    tail: bytes, tagged: bool
) -> None:
    """The To of a response: the request's as sent, or it and ``;tag=`` and
    a token (the tag check is the token pattern's verdict, on bytes)."""
    txn = RelayTxn((b"z9hG4bKb", b"h:5060", b"INVITE"), "INVITE", ("192.0.2.1", 5060), None, 0.0)
    txn.echo = (b"<sip:a@h>;tag=1", _TO, b"c@h")
    to = _TO + (b";tag=" if tagged else b"") + tail
    vals = {b"from": b"<sip:a@h>;tag=1", b"to": to, b"call-id": b"c@h"}
    expected = to == _TO or (to.startswith(_TO + b";tag=") and sh.is_token(to[len(_TO) + 5 :]))
    assert echoes(vals, txn) is expected
    assert not echoes({**vals, b"call-id": b"d@h"}, txn)
    _ECHOED[0] += expected


def test_the_echo_property_met_both_verdicts() -> None:
    if _ECHOED[0] == 0:
        return  # run alone
    assert 10 < _ECHOED[0] < 1000
