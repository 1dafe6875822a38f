"""The header multi-map (RFC 3261 §7.3): order, case, compact forms, lists."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.errors import LocalProtocolError
from sipsec.sip import (
    Headers,
    Request,
    SipParseError,
    canonical_name,
    parse_message,
    split_list,
)


def test_case_insensitive_and_compact_forms() -> None:
    h = Headers([("v", "SIP/2.0/UDP a"), ("VIA", "SIP/2.0/UDP b"), ("f", "<sip:x@y>")])
    assert h.get("Via") == "SIP/2.0/UDP a" and h.get_all("via") == [
        "SIP/2.0/UDP a",
        "SIP/2.0/UDP b",
    ]
    assert "From" in h and "f" in h and "To" not in h and 3 not in h
    assert h.count("v") == 2 and len(h) == 3
    # Names built in code are written in their canonical long form.
    assert list(h) == [("Via", "SIP/2.0/UDP a"), ("Via", "SIP/2.0/UDP b"), ("From", "<sip:x@y>")]
    for compact, full in [
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("e", "Content-Encoding"),
        ("o", "Event"),
        ("r", "Refer-To"),
        ("u", "Allow-Events"),
        ("x", "Session-Expires"),
        ("y", "Identity"),
        ("t", "To"),
    ]:
        assert canonical_name(compact) == full
    assert canonical_name("X-Unknown") == "X-Unknown"


def test_get_all_splits_only_list_headers() -> None:
    h = Headers()
    h.add("Contact", '"Doe, John" <sip:a@b;x=1,2>, <sip:c@d>')
    h.add("m", "<sip:e@f>")
    h.add("Date", "Sat, 13 Nov 2010 23:29:00 GMT")
    h.add("WWW-Authenticate", 'Digest realm="a", nonce="b"')
    assert h.get_all("contact") == ['"Doe, John" <sip:a@b;x=1,2>', "<sip:c@d>", "<sip:e@f>"]
    assert h.get_all("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert h.get_all("WWW-Authenticate") == ['Digest realm="a", nonce="b"']
    assert h.get_lines("Contact") == ['"Doe, John" <sip:a@b;x=1,2>, <sip:c@d>', "<sip:e@f>"]


def test_split_list() -> None:
    assert split_list('a, "b,\\"c", <d,e>') == ["a", '"b,\\"c"', "<d,e>"]
    assert split_list(" , a,,b , ") == ["a", "b"]
    assert split_list("") == []


def test_changes() -> None:
    h = Headers([("Via", "1"), ("To", "t"), ("Via", "2"), ("Route", "r")])
    h.prepend("Via", "0")
    assert h.get_all("Via") == ["0", "1", "2"] and next(iter(h)) == ("Via", "0")
    h.prepend("Record-Route", "rr")
    assert next(iter(h)) == ("Record-Route", "rr")
    h.set("via", "only")
    assert h.get_all("Via") == ["only"] and list(h)[1] == ("Via", "only")
    h.set("X-New", "n")
    assert list(h)[-1] == ("X-New", "n")
    assert h.remove("route") == 1 and h.remove("route") == 0
    assert h.get("Route") is None and h.get("Route", "d") == "d"
    assert h.modified


def test_pop_first() -> None:
    h = Headers([("Via", "a, b"), ("Via", "c")])
    assert h.pop_first("Via") == "a"
    assert h.get_all("Via") == ["b", "c"]
    assert h.pop_first("Via") == "b" and h.pop_first("v") == "c" and h.pop_first("Via") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("Bad Name", "x"), ("", "x"), ("X", "a\r\nInjected: 1"), ("X", "\n"), ("X", "a\x00")],
)
def test_injection_refused(name: str, value: str) -> None:
    with pytest.raises(LocalProtocolError):
        Headers().add(name, value)


def test_modified_message_keeps_untouched_lines_verbatim() -> None:
    data = (
        b"OPTIONS sip:a@b SIP/2.0\r\nvia  :  SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n"
        b"From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
        b"X-Folded: a\r\n b\r\nl: 0\r\n\r\n"
    )
    m = parse_message(data)
    m.headers.prepend("Via", "SIP/2.0/TCP proxy;branch=z9hG4bK2")
    out = bytes(m)
    assert out == data.replace(
        b"\r\nvia  :", b"\r\nVia: SIP/2.0/TCP proxy;branch=z9hG4bK2\r\nvia  :", 1
    )
    assert [v.host for v in parse_message(out).vias] == ["proxy", "h"]


def test_typed_views_are_invalidated() -> None:
    m = parse_message(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n"
        b"From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    assert m.top_via is not None and m.top_via.host == "h"
    m.headers.prepend("Via", "SIP/2.0/UDP p;branch=z9hG4bK2")
    assert m.top_via is not None and m.top_via.host == "p" and len(m.vias) == 2
    m.headers.set("CSeq", "2 OPTIONS")
    assert m.cseq is not None and m.cseq.seq == 2
    assert m.headers.pop_first("Via") == "SIP/2.0/UDP p;branch=z9hG4bK2"
    assert [v.host for v in m.vias] == ["h"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Via", "v", "To", "X-A", "Route", "m"]),
            st.text(alphabet='abc ,;<>"', max_size=12),
        ),
        max_size=8,
    )
)
def test_multimap_matches_a_list_model(items: list[tuple[str, str]]) -> None:
    h = Headers(items)
    assert [v for _, v in h] == [v.strip(" \t") for _, v in items]
    for name in ("via", "to", "x-a", "route", "contact"):
        expected = [v.strip(" \t") for n, v in items if canonical_name(n).lower() == name]
        assert h.get_lines(name) == expected
        assert h.count(name) == len(expected)


# -- headers from the fast path (sipsec.sip.fastpath) and from the full parser -------
FOLDED = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP a.example;branch=z9hG4bK1 \r\n"
    b"\t;received=192.0.2.1\r\n"
    b"v: SIP/2.0/UDP b.example;branch=z9hG4bK2\r\n"
    b"X-Long: one\r\n  \r\n two\r\n"
    b"From: <sip:a@a.example>;tag=1\r\nTo: <sip:b@b.example>\r\n"
    b"Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


def _both() -> tuple[Headers, Headers]:
    from sipsec.sip.fastpath import parse_common
    from sipsec.sip.parser import _parse_full

    fast = parse_common(FOLDED)
    assert fast is not None  # folds with LWS around them are still the usual shape
    return fast.headers, _parse_full(FOLDED, datagram=True).headers


def test_folded_headers_from_both_paths() -> None:
    fast, full = _both()
    assert fast._entries == full._entries and len(fast) == 8
    assert fast.get("x-long") == "one two"
    assert fast.get("via") == "SIP/2.0/UDP a.example;branch=z9hG4bK1 ;received=192.0.2.1"
    assert parse_message(FOLDED).top_via.received == "192.0.2.1"  # type: ignore[union-attr]
    assert bytes(parse_message(FOLDED)) == FOLDED


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.add("Subject", "hi"),
        lambda h: h.prepend("Via", "SIP/2.0/UDP p.example;branch=z9hG4bK3"),
        lambda h: h.set("X-Long", "three"),
        lambda h: h.remove("v"),
        lambda h: h.pop_first("Via"),
    ],
)
def test_changing_headers_from_both_paths(change: object) -> None:
    fast, full = _both()
    change(fast)  # type: ignore[operator]
    change(full)  # type: ignore[operator]
    assert fast._entries == full._entries and fast.modified and full.modified
    assert fast._wire_lines() == full._wire_lines() and list(fast.copy()) == list(full)


# -- Headers.copy() keeps the typed views (a proxy reads them again on each
# branch's copy, RFC 3261 §16.6) and shares nothing mutable with the original.
COPIED = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
    b"Via: SIP/2.0/UDP p.example;branch=z9hG4bK2;received=192.0.2.1\r\n"
    b"Max-Forwards: 70\r\n"
    b"Route: <sip:p1.example.com;lr>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\n"
    b"Supported: timer\r\n"
    b'Proxy-Authorization: Digest username="a", realm="r", nonce="n", uri="sip:b"\r\n'
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 0\r\n\r\n"
)
# Every view the message offers, read on the original before copying.
ALL_VIEWS = (
    *("vias", "from_", "to", "call_id", "cseq", "max_forwards", "content_length"),
    *("contacts", "routes", "record_routes", "content_type", "expires", "supported"),
    *("require", "proxy_require", "unsupported", "www_authenticate", "proxy_authenticate"),
    *("authorization", "proxy_authorization"),
)


def _copied_message() -> tuple[Request, Request]:
    original = parse_message(COPIED)
    assert isinstance(original, Request)
    for name in ALL_VIEWS:
        getattr(original, name)
    copy = Request(original.method, original.uri, original.headers.copy(), original.body)
    return original, copy


def test_a_copy_keeps_every_parsed_view(monkeypatch: pytest.MonkeyPatch) -> None:
    original, copy = _copied_message()
    parsed: list[str] = []
    typed = Headers.typed

    def counting(self: Headers, name: str, parse: Any) -> Any:
        if name not in self._cache:
            parsed.append(name)
        return typed(self, name, parse)

    monkeypatch.setattr(Headers, "typed", counting)
    for name in ALL_VIEWS:
        assert str(getattr(copy, name)) == str(getattr(original, name)), name
    assert parsed == []  # nothing parsed again
    assert parse_message(COPIED).headers._cache.keys() <= copy.headers._cache.keys()


def test_a_copy_shares_nothing_mutable() -> None:
    original, copy = _copied_message()
    for name in ALL_VIEWS:
        mine, theirs = getattr(copy, name), getattr(original, name)
        if not isinstance(mine, str | int | type(None)):
            assert mine is not theirs, name
        for a, b in zip(
            mine if isinstance(mine, list) else [mine],
            theirs if isinstance(theirs, list) else [theirs],
            strict=True,
        ):
            if hasattr(a, "params"):
                assert a.params is not b.params and a.params == b.params, name


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.top_via.params.__setitem__("received", "192.0.2.9"),
        lambda m: m.vias.append(m.vias[0]),
        lambda m: m.from_.params.__setitem__("tag", "other"),
        lambda m: m.to.params.__setitem__("tag", "x"),
        lambda m: m.contacts[0].params.__setitem__("expires", "0"),
        lambda m: m.routes.clear(),
        lambda m: m.content_type.params.__setitem__("charset", "utf-8"),
        lambda m: m.supported.append("100rel"),
        lambda m: m.proxy_authorization[0].params.__setitem__("realm", "evil"),
        lambda m: setattr(m.cseq, "seq", 2),
        lambda m: m.headers.set("Max-Forwards", "69"),
        lambda m: m.headers.prepend("Via", "SIP/2.0/TCP p.example;branch=z9hG4bK9"),
        lambda m: m.headers.prepend("Record-Route", "<sip:p.example;lr>"),
        lambda m: m.headers.remove("Route"),
        lambda m: m.headers.pop_first("Via"),
        lambda m: m.headers.add("Subject", "hi"),
    ],
)
def test_changing_a_copy_never_changes_the_original(change: Any) -> None:
    original, copy = _copied_message()
    before = [repr(getattr(original, name)) for name in ALL_VIEWS]
    change(copy)
    assert [repr(getattr(original, name)) for name in ALL_VIEWS] == before
    assert bytes(original) == COPIED and not original.headers.modified
    # …and a fresh parse agrees with what the original still says.
    assert before == [repr(getattr(parse_message(COPIED), name)) for name in ALL_VIEWS]


def test_a_copy_parses_again_what_it_cannot_copy() -> None:
    headers = parse_message(COPIED).headers
    calls: list[list[str]] = []

    class Opaque:  # no _copy(): the copy must not share it
        pass

    def parse(lines: list[str]) -> Opaque:
        calls.append(lines)
        return Opaque()

    first = headers.typed("supported", parse)
    other = headers.copy()
    assert "supported" not in other._cache
    assert other.typed("supported", parse) is not first and calls == [["timer"]] * 2
    headers.typed("x-list", lambda lines: [Opaque()])
    assert "x-list" not in headers.copy()._cache


HEADER_CHANGES = [
    lambda h: h.set("Max-Forwards", "69"),
    lambda h: h.prepend("Via", "SIP/2.0/TCP p.example;branch=z9hG4bK9;rport"),
    lambda h: h.prepend("Record-Route", "<sip:p.example;lr>"),
    lambda h: h.remove("Route"),
    lambda h: h.pop_first("Via"),
    lambda h: h.add("Contact", "<sip:c@h.example>;expires=60"),
    lambda h: h.set("To", "Bob <sip:bob@biloxi.example.com>;tag=b1"),
    lambda h: h.add("Supported", "100rel"),
    lambda h: h.remove("Content-Type"),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(HEADER_CHANGES), max_size=6))
def test_a_changed_copy_reads_what_its_lines_say(changes: list[Any]) -> None:
    # The views a copy keeps stay right through any run of header changes:
    # the same as parsing the copy's own bytes, and the original untouched.
    original, copy = _copied_message()
    for change in changes:
        change(copy.headers)
    fresh = parse_message(bytes(copy))
    for name in ALL_VIEWS:
        assert repr(getattr(copy, name)) == repr(getattr(fresh, name)), name
    assert bytes(original) == COPIED


# -- prepend keeps the parsed Via list (the proxy's own Via, §16.6 step 8) ------------
def _counting_parse_via(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count every parse_via call, from the view (message.py) and from prepend."""
    from sipsec.sip import headers as headers_module
    from sipsec.sip import message as message_module

    calls: list[str] = []
    real = headers_module.parse_via

    def counting(text: str) -> Any:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(headers_module, "parse_via", counting)
    monkeypatch.setattr(message_module, "parse_via", counting)
    return calls


def test_prepending_a_via_parses_only_the_new_value(monkeypatch: pytest.MonkeyPatch) -> None:
    message = parse_message(COPIED)
    assert isinstance(message, Request)
    below = message.vias  # parsed by parse_message
    calls = _counting_parse_via(monkeypatch)
    mine = "SIP/2.0/TCP p1.example.com:5060;branch=z9hG4bK5f0c3e9a1d.0;rport"
    message.headers.prepend("Via", mine)
    top = message.top_via
    assert calls == [mine]  # the new value, and nothing below it again
    assert top is not None and top.branch == "z9hG4bK5f0c3e9a1d.0" and top.rport is True
    assert message.vias[1:] == below and message.headers.modified
    fresh = parse_message(bytes(message))
    assert [str(v) for v in message.vias] == [str(v) for v in fresh.vias]
    # Nothing cached yet: the view is parsed when read, all of it.
    other = parse_message(COPIED)
    other.headers._cache.pop("via")
    other.headers.prepend("Via", mine)
    assert "via" not in other.headers._cache
    assert [str(v) for v in other.vias] == [str(v) for v in fresh.vias]


def test_prepending_a_bad_via_leaves_the_error_to_the_view() -> None:
    message = parse_message(COPIED)
    message.headers.prepend("Via", "not a via")
    assert "via" not in message.headers._cache
    with pytest.raises(SipParseError):
        message.vias  # noqa: B018


VIA_VALUES = st.one_of(
    st.builds(
        "SIP/2.0/{} {}{};branch=z9hG4bK{}{}".format,
        st.sampled_from(["UDP", "TCP", "tls", "SCTP", "WSS"]),
        st.sampled_from(["p.example", "192.0.2.7", "[2001:db8::1]"]),
        st.sampled_from(["", ":5060", ":65535"]),
        st.text("abcXYZ019.-", min_size=1, max_size=8),
        st.sampled_from(["", ";rport", ";received=192.0.2.1", " ;ttl=3", ";maddr=h"]),
    ),
    # two values on one line, and values the Via grammar refuses
    st.sampled_from(["SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5061"]),
    st.sampled_from(["junk", "SIP/2.0/UDP", "SIP/2.0/UDP h:99999", "SIP/2.0/UDP h;branch"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(VIA_VALUES, min_size=1, max_size=4), st.booleans())
def test_prepending_vias_to_a_copy(values: list[str], read_between: bool) -> None:
    # The copy's Via view is what its own bytes say after any run of
    # prepends (cached or not, good values or bad), and the original never
    # changes.
    original, copy = _copied_message()
    before = [repr(getattr(original, name)) for name in ALL_VIEWS]
    for value in values:
        copy.headers.prepend("Via", value)
        if read_between:
            try:
                copy.vias  # noqa: B018
            except SipParseError:
                pass
    try:
        expected: Any = [repr(v) for v in parse_message(bytes(copy)).vias]
    except SipParseError as error:
        expected = error.reason
    try:
        got: Any = [repr(v) for v in copy.vias]
    except SipParseError as error:
        got = error.reason
    assert got == expected
    assert [repr(getattr(original, name)) for name in ALL_VIEWS] == before
    assert bytes(original) == COPIED and not original.headers.modified
