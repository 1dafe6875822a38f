"""make_response (RFC 3261 §8.2.6)."""

from __future__ import annotations

from sipsec.sip import Request, make_response, parse_message

INVITE = (
    b"INVITE sip:bob@biloxi.example SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS ss1.atlanta.example;branch=z9hG4bK2d4790.1;received=192.0.2.111\r\n"
    b"Via: SIP/2.0/TLS client.atlanta.example:5061;branch=z9hG4bK74bf9\r\n"
    b"Max-Forwards: 69\r\n"
    b"Record-Route: <sip:ss1.atlanta.example;lr>\r\n"
    b"From: Alice <sip:alice@atlanta.example>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Timestamp: 54\r\n"
    b"Contact: <sips:alice@client.atlanta.example>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def request() -> Request:
    m = parse_message(INVITE)
    assert isinstance(m, Request)
    return m


def test_final_response_copies_and_tags() -> None:
    resp = make_response(request(), 486, to_tag="314159")
    assert (resp.status, resp.reason) == (486, "Busy Here")
    assert [v.branch for v in resp.vias] == ["z9hG4bK2d4790.1", "z9hG4bK74bf9"]
    assert resp.vias[0].received == "192.0.2.111"
    assert resp.from_ is not None and resp.from_.tag == "9fxced76sl"
    assert resp.to is not None and resp.to.tag == "314159" and resp.to.display_name == "Bob"
    assert resp.call_id == "3848276298220188511@atlanta.example"
    assert resp.cseq is not None and (resp.cseq.seq, resp.cseq.method) == (1, "INVITE")
    assert "Timestamp" not in resp.headers and "Record-Route" not in resp.headers
    assert "Contact" not in resp.headers and resp.content_length == 0
    wire = bytes(resp)
    assert wire.startswith(b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TLS ss1.atlanta.example;")
    assert bytes(parse_message(wire)) == wire


def test_generated_tag_and_existing_tag() -> None:
    a, b = make_response(request(), 180), make_response(request(), 180)
    assert a.to is not None and b.to is not None and a.to.tag and b.to.tag and a.to.tag != b.to.tag
    tagged = parse_message(
        INVITE.replace(b"To: Bob <sip:bob@biloxi.example>", b"To: <sip:bob@biloxi.example>;tag=x")
    )
    assert isinstance(tagged, Request)
    resp = make_response(tagged, 200, "Fine", to_tag="ignored")
    assert resp.reason == "Fine" and resp.to is not None and resp.to.tag == "x"


def test_100_trying() -> None:
    trying = make_response(request(), 100)
    assert trying.to is not None and trying.to.tag is None  # §8.2.6.1
    assert trying.headers.get("Timestamp") == "54"


def test_copied_lines_keep_their_views_and_share_nothing() -> None:
    req = request()
    resp = make_response(req, 180, to_tag="1")
    cache = resp.headers._cache
    assert {"via", "from", "call-id", "cseq"} <= cache.keys() and "to" not in cache
    reparsed = parse_message(bytes(resp))
    for name in ("vias", "from_", "to", "call_id", "cseq"):
        assert repr(getattr(resp, name)) == repr(getattr(reparsed, name)), name
    assert [v.params for v in resp.vias] == [v.params for v in reparsed.vias]
    resp.top_via.params["received"] = "x"  # type: ignore[union-attr]
    resp.cseq.seq = 9  # type: ignore[union-attr]
    assert req.top_via.received == "192.0.2.111"  # type: ignore[union-attr]
    assert req.cseq.seq == 1  # type: ignore[union-attr]
