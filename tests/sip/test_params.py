"""Header parameters and quoted strings (RFC 3261 §7.3.1, §25.1)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import parse_params, quote, unquote
from sipsec.sip.params import format_params

NAMES = st.text("abcxyz019-.!%*_+`'~", min_size=1, max_size=8)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_quote_round_trips(text: str) -> None:
    assert unquote(quote(text)) == text


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(
        NAMES,
        st.one_of(
            st.none(),
            st.text(max_size=12),
            st.sampled_from(["[2001:db8::1]", "[::1]", "[a b]", "[", "]"]),
        ),
        max_size=4,
    )
)
def test_formatted_parameters_parse_back(params: dict[str, str | None]) -> None:
    assert parse_params(format_params(params)) == params


def test_only_an_ipv6_reference_goes_bare() -> None:
    assert format_params({"received": "[2001:db8::1]"}) == ";received=[2001:db8::1]"
    assert format_params({"x": "[a b]"}) == ';x="[a b]"'
