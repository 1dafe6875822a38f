"""Every RFC 3665 call-flow message (§2–§3 "Message Details") parses, reads
its mandatory headers and serializes back byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sipsec.sip import Request, Response, SipParseError, parse_message, validate_request

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc3665"
INDEX = {
    k: v
    for k, v in json.loads((VECTORS / "index.json").read_text()).items()
    if k[0] != "_" and v.get("file")  # 12 are printed only as "Same as Message Fn"
}
# RFC 3665 §3.10 F4 prints a Record-Route continuation without leading
# whitespace: as printed that is not a fold but a header line without a
# colon, so it is refused; with the fold restored it parses (tested below).
BROKEN_FOLD = "3.10-unsuccessful-no-response-from-user-agent-F4"
NAMES = sorted(name for name in INDEX if name != BROKEN_FOLD)


def test_count() -> None:
    assert len(INDEX) == 181


@pytest.mark.parametrize("name", NAMES)
def test_call_flow_message(name: str) -> None:
    data = (VECTORS / INDEX[name]["file"]).read_bytes()
    message = parse_message(data)
    assert bytes(message) == data
    assert message.top_via is not None and message.top_via.branch is not None
    assert message.top_via.branch.startswith("z9hG4bK")
    assert message.from_ is not None and message.from_.tag is not None
    assert message.to is not None and message.call_id
    assert message.cseq is not None
    assert message.content_length in (None, len(message.body))
    message.record_routes, message.routes, message.content_type  # noqa: B018
    message.www_authenticate, message.proxy_authenticate  # noqa: B018
    message.authorization, message.proxy_authorization  # noqa: B018
    if isinstance(message, Request):
        assert message.method == message.cseq.method == INDEX[name]["title"].split()[0]
        assert validate_request(message) is None
    else:
        assert isinstance(message, Response)
        # Titles read "401 Unauthorized SIP Server -> Bob" (one says "Unauthorized").
        title = INDEX[name]["title"]
        assert str(message.status) in title or message.reason in title


def test_broken_fold_as_printed_and_repaired() -> None:
    data = (VECTORS / INDEX[BROKEN_FOLD]["file"]).read_bytes()
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.status == 400
    repaired = data.replace(b"\r\n<sip:ss1.atlanta", b"\r\n <sip:ss1.atlanta")
    message = parse_message(repaired)
    assert [str(r.uri) for r in message.record_routes] == [
        "sip:ss2.biloxi.example.com;lr",
        "sip:ss1.atlanta.example.com;lr",
    ]
    assert bytes(message) == repaired


def test_digest_headers_of_3_3() -> None:
    data = (VECTORS / "3.3-session-with-multiple-proxy-authentication-F4.sip").read_bytes()
    (credentials,) = parse_message(data).proxy_authorization
    assert credentials.scheme == "Digest"
    assert credentials.params["username"] == "alice"
    assert credentials.params["uri"] == "sip:bob@biloxi.example.com"
