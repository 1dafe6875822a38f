"""The full parser's header lines (RFC 3261 §7.3), unit by unit.

``_parse_full`` is called directly so that the fast path cannot answer first.
"""

from __future__ import annotations

import pytest

from sipsec.sip import SipParseError
from sipsec.sip.parser import _parse_full, start_line_at

HEAD = (
    b"OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
    b"Call-ID: c\r\nCSeq: 1 OPTIONS\r\n"
)


@pytest.mark.parametrize(
    "line",
    [
        b"Subject",  # a known name: once read as an empty Subject
        b"s",  # its compact form
        b"Max-Forwards",
        b"X-Unknown",  # an unknown name alike
        b"Subject \t",
    ],
)
@pytest.mark.parametrize("datagram", [True, False])
def test_a_header_line_without_a_colon_is_a_400(line: bytes, datagram: bool) -> None:
    data = HEAD + line + b"\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(SipParseError) as caught:
        _parse_full(data, datagram=datagram)
    assert caught.value.status == 400
    assert caught.value.reason.startswith("header line without a colon")
    assert line.decode().strip() in caught.value.reason


def test_an_empty_value_after_a_colon_is_still_a_header() -> None:
    # "Subject:" with nothing after it is a valid empty value (§25.1 allows it).
    message = _parse_full(HEAD + b"Subject:\r\nContent-Length: 0\r\n\r\n", datagram=True)
    assert message.headers.get("Subject") == ""


def test_a_fold_after_a_line_without_a_colon_does_not_rescue_it() -> None:
    # HCOLON is *( SP / HTAB ) ":" SWS (§25.1): no line break before the colon.
    data = HEAD + b"Subject\r\n : hi\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(SipParseError) as caught:
        _parse_full(data, datagram=True)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("data", "at"),
    [
        (b"INVITE", 0),
        (b"\r\nINVITE", 2),
        (b"\r\n\r\n\r\nSIP/2.0 200 OK", 6),
        (b"\r\n\rSIP", 2),  # half a CRLF is not skipped: the start line is refused there
        (b"\n\r\nSIP", 0),  # a bare LF is not a CRLF
        (b"\r\n", 2),
        (b"", 0),
    ],
)
def test_the_start_line_begins_after_the_crlfs_before_it(data: bytes, at: int) -> None:
    """§7.5: the CRLF pairs before a start line, and nothing else, are skipped."""
    assert start_line_at(data) == at
