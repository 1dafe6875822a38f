"""The full parser's header lines (RFC 3261 §7.3), unit by unit.

``_parse_full`` is called directly so that the fast path cannot answer first.
"""

from __future__ import annotations

import pytest

from sipsec.sip import SipParseError
from sipsec.sip.parser import _parse_full

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
