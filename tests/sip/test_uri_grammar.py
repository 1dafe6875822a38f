"""%HH escaping (RFC 3261 §19.1.2) and the URI patterns (§25.1)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import escape, unescape
from sipsec.sip.uri_grammar import (
    _SAFE_HEADER,
    _SAFE_PARAM,
    _SAFE_PASSWORD,
    _SAFE_USER,
    SIP_URI_RE,
)

SAFE = [_SAFE_USER, _SAFE_PASSWORD, _SAFE_PARAM, _SAFE_HEADER]


@pytest.mark.parametrize("safe", SAFE, ids=["user", "password", "param", "header"])
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=20))
def test_escape_round_trips_and_leaves_only_safe_characters(
    safe: frozenset[str], text: str
) -> None:
    escaped = escape(text, safe)
    assert unescape(escaped) == text
    assert set(re.sub(r"%[0-9A-F]{2}", "", escaped)) <= safe


def test_sip_uri_pattern_groups() -> None:
    m = re.fullmatch(SIP_URI_RE, "sips:a%40b:pw@[2001:db8::1]:5061;lr;x=y?h=v&k=w")
    assert m is not None
    assert m.groups() == ("sips", "a%40b", "pw", "[2001:db8::1]", "5061", ";lr;x=y", "h=v&k=w")
