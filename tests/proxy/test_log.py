"""The one log line per transaction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy.log import TransactionLogged, _clip, log_line, parties

from ._e3_harness import request


def test_line_has_every_field() -> None:
    record = TransactionLogged("INVITE", "sip:a@x", "sip:b@y", 486, 0.0123, 2, "udp:1.2.3.4:5")
    assert log_line(record) == (
        "INVITE sip:a@x -> sip:b@y 486 12.3ms branches=2 from=udp:1.2.3.4:5"
    )


def test_hostile_parties_are_clipped_and_printable() -> None:
    req = request("INVITE", "sip:bob@atlanta.example", from_="sip:" + "m" * 500 + "@evil.example")
    from_, to = parties(req)
    assert len(from_) == 120 and from_.endswith("…") and to == "sip:bob@atlanta.example"
    record = TransactionLogged("X", "a\x1bb", "c", 200, 0, 0, "s", detail="d\ne")
    assert "\x1b" not in log_line(record) and "\n" not in log_line(record)


def _reference_line(record: TransactionLogged) -> str:
    """log_line as it was before its fast path: every field through _clip."""
    clip = _clip
    detail = f" ({clip(record.detail)})" if record.detail else ""
    return (
        f"{clip(record.method)} {clip(record.from_)} -> {clip(record.to)} {record.status} "
        f"{record.duration * 1000:.1f}ms branches={record.branches} "
        f"from={clip(record.source)}{detail}"
    )


_TEXT = st.text(st.sampled_from("ab:@.-\x1b\n\u00e9\u200b "), max_size=130) | st.sampled_from(
    ["sip:alice@atlanta.example", "INVITE", "udp:192.0.2.1:5060", "", "x" * 120, "x" * 121]
)


@settings(max_examples=1000)
@given(_TEXT, _TEXT, _TEXT, _TEXT, _TEXT, st.integers(100, 699), st.floats(0, 1000))
def test_the_fast_line_is_the_clipped_line(
    method: str, from_: str, to: str, source: str, detail: str, status: int, duration: float
) -> None:
    record = TransactionLogged(method, from_, to, status, duration, 1, source, detail)
    assert log_line(record) == _reference_line(record)


def test_a_record_is_immutable_and_compared_by_its_fields() -> None:
    record = TransactionLogged("BYE", "sip:a@x", "sip:b@y", 200, 0.5, 1, "udp:h:1")
    same = TransactionLogged("BYE", "sip:a@x", "sip:b@y", 200, 0.5, 1, "udp:h:1", "")
    assert record == same and hash(record) == hash(same) and record.detail == ""
    with pytest.raises(AttributeError):
        record.status = 500  # type: ignore[misc]
    assert repr(record).startswith("TransactionLogged(method='BYE', from_='sip:a@x'")
