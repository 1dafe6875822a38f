"""The one log line per transaction."""

from __future__ import annotations

from sipsec.proxy.log import TransactionLogged, log_line, parties

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
