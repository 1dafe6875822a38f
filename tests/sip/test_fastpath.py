"""The fast path and the full parser, side by side: wherever ``parse_common``
returns a message, the full parser returns an equal one (same start line,
same header entries, same typed views field by field, same body, same
bytes); wherever the full parser refuses, ``parse_common`` has returned
None. Inputs: the RFC 3665 / 4475 / 5118 messages, Hypothesis mutations of
them, and generated messages in the common shape with random field values.

SIPSEC_FUZZ_EXAMPLES scales the example counts for a long run by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.sip import Request, Response, SipParseError, SipUri, parse_message
from sipsec.sip.fastpath import parse_common
from sipsec.sip.parser import _parse_full

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
CORPUS = [
    p.read_bytes()
    for pattern in ("rfc4475/*.dat", "rfc5118/wire/*.dat", "rfc3665/*.sip")
    for p in sorted(VECTORS.glob(pattern))
]
SCALE = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "1"))
TRIED = {"fast": 0, "full": 0}


def _uri_fields(uri: Any) -> tuple[Any, ...]:
    if not isinstance(uri, SipUri):
        return (type(uri), str(uri))
    return (
        str(uri),
        uri.scheme,
        uri.user,
        uri.password,
        uri.host,
        uri.port,
        uri.params,
        uri.headers,
    )


def _view_fields(value: Any) -> Any:
    if isinstance(value, list):
        return [_view_fields(v) for v in value]
    if hasattr(value, "branch"):  # Via
        return (
            str(value),
            value.protocol,
            value.version,
            value.transport,
            value.host,
            value.port,
            value.params,
        )
    if hasattr(value, "display_name"):  # NameAddress
        return (str(value), value.display_name, value.params, _uri_fields(value.uri))
    if hasattr(value, "seq"):  # CSeq
        return (value.seq, value.method)
    return value


def fields(message: Request | Response) -> tuple[Any, ...]:
    if isinstance(message, Request):
        start: tuple[Any, ...] = ("request", message.method, _uri_fields(message.uri))
    else:
        start = ("response", message.status, message.reason)
    cache = message.headers._cache
    views = {key: _view_fields(value) for key, value in sorted(cache.items())}
    return (
        start,
        message.headers._entries,
        views,
        message.body,
        bytes(message),
        message.headers.modified,
    )


def compare(data: bytes, datagram: bool = True) -> None:
    fast = parse_common(data, datagram)
    try:
        full = _parse_full(data, datagram=datagram)
    except SipParseError:
        assert fast is None, "the fast path accepted what the full parser refuses"
        return
    if fast is None:
        TRIED["full"] += 1
        return
    TRIED["fast"] += 1
    assert type(fast) is type(full)
    assert fields(fast) == fields(full)
    # parse_message answers what the full parser answers, either way.
    assert fields(parse_message(data)) == fields(full)


@pytest.mark.parametrize("data", CORPUS, ids=range(len(CORPUS)))
def test_corpus_same_objects(data: bytes) -> None:
    compare(data)
    compare(data, datagram=False)


def test_the_fast_path_takes_the_common_messages() -> None:
    taken = sum(parse_common(m) is not None for m in CORPUS if m.startswith(b"INVITE sip:"))
    assert taken >= 10  # the RFC 3665 INVITEs without folds or escapes
    assert parse_common(b"\r\n" + CORPUS[-1]) is None  # leading CRLF: the full parser


def test_the_request_uri_is_built_when_read() -> None:
    data = next(m for m in CORPUS if m.startswith(b"INVITE sip:bob@biloxi.example.com "))
    message = parse_common(data)
    assert isinstance(message, Request)
    assert message._uri is None
    assert str(message.uri) == "sip:bob@biloxi.example.com"
    assert message.start_line() == "INVITE sip:bob@biloxi.example.com SIP/2.0"
    assert repr(message) == "<Request INVITE sip:bob@biloxi.example.com>"


@pytest.mark.parametrize(
    "line",
    [
        b"SIP/2.0 10\r\n",  # two digits: a bad status line
        b"SIP/2.0 099 Low\r\n",
        b"INVITE sip:bob@b.example:65536 SIP/2.0\r\n",
    ],
)
def test_start_lines_the_full_parser_refuses(line: bytes) -> None:
    data = line + b"Call-ID: a\r\nContent-Length: 0\r\n\r\n"
    assert parse_common(data) is None
    with pytest.raises(SipParseError):
        parse_message(data)


def test_a_request_without_cseq_caches_what_the_full_parser_caches() -> None:
    # Request._validate reads the CSeq view, so the full parser caches None.
    data = b"OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n"
    assert parse_common(data) is not None
    compare(data)
    assert parse_common(data).headers._cache["cseq"] is None  # type: ignore[union-attr]


MINIMAL = (
    b"OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
    b"Call-ID: c\r\nCSeq: 1 OPTIONS\r\n%s\r\nContent-Length: 0\r\n\r\n"
)


@pytest.mark.parametrize("line", [b"Subject", b"s", b"Call-ID", b"Content-Length", b"v"])
def test_a_known_header_name_without_a_colon_is_not_taken(line: bytes) -> None:
    # RFC 3261 §7.3: no colon, no header; the full parser gives the verdict.
    assert parse_common(MINIMAL % b"Subject: hi") is not None
    data = MINIMAL % line
    assert parse_common(data) is None
    assert parse_common(data, datagram=False) is None
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.status == 400
    assert "without a colon" in caught.value.reason


SPECIAL = [b"\r\n", b" ", b"\t", b":", b";", b",", b'"', b"<", b">", b"%", b"@", b"=", b"\xff"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 3))
        if op == 0:
            del data[i : i + draw(st.integers(1, 20))]
        elif op == 1:
            data[i:i] = draw(st.sampled_from(SPECIAL))
        elif op == 2:
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            data[min(i, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_mutations_same_objects(data: bytes, datagram: bool) -> None:
    compare(data, datagram)


# Common-shape messages with random values: what the fast path is for.
TOKEN = st.text("abcXYZ019-.!%*_+`'~", min_size=1, max_size=8)
USER = st.text("abz09-_.!~*'()&=+$,;?/%:", min_size=1, max_size=8)
HOST = st.text("abz09-.[]:", min_size=1, max_size=10)
PORT = st.one_of(st.none(), st.integers(0, 99999).map(str), st.just("0080"))
PARAMS = st.lists(
    st.tuples(TOKEN, st.one_of(st.none(), st.text('ab19-.[]:%"', min_size=0, max_size=6))),
    max_size=3,
).map(lambda ps: "".join(f";{n}" if v is None else f";{n}={v}" for n, v in ps))
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def uris(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["sip", "sips", "SIP", "tel"]))
    user = draw(st.one_of(st.none(), USER))
    port = draw(PORT)
    text = f"{scheme}:" + (f"{user}@" if user is not None else "") + draw(HOST)
    return text + (f":{port}" if port is not None else "") + draw(PARAMS)


DISPLAY_NAMES = [
    *("", "Alice ", '"A b" ', "A B ", '"x\\"y" ', "Bob", '"a<b" ', "A  B ", '"" ', "\u00c5 "),
    *('"a" b ', '"a"  ', "a\tb ", '"', "~%` ", '"\u00e9t\u00e9" ', " A "),
]


@st.composite
def name_addrs(draw: st.DrawFn) -> str:
    display = draw(st.sampled_from(DISPLAY_NAMES))
    return f"{display}<{draw(uris())}>" + draw(PARAMS)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["INVITE", "REGISTER", "BYE", "X-Y"]))
    if draw(st.booleans()):
        start = f"{method} {draw(uris())} SIP/2.0"
    else:
        start = "SIP/2.0 " + draw(st.sampled_from(["200 OK", "180 ", "100", "99 X", "486 B"]))
    vias = [
        f"SIP/2.0/{draw(TOKEN)} {draw(HOST)}"
        + (f":{p}" if (p := draw(PORT)) is not None else "")
        + draw(PARAMS)
        + draw(st.sampled_from(["", " ;received=192.0.2.1", "\t;rport", "\r\n ;x=y"]))
        for _ in range(draw(st.integers(1, 3)))
    ]
    headers = [
        "Via: " + draw(st.sampled_from([",", " , ", ",\r\n ", ",,"])).join(vias),
        f"From:{draw(SPACE)}{draw(name_addrs())}",
        f"To: {draw(name_addrs())}",
        f"Call-ID: {draw(st.text('ab19@-.<>:', min_size=0, max_size=12))}",
        f"CSeq: {draw(st.sampled_from(['1', '4294967296', '01', 'x']))}"
        f"{draw(SPACE) or ' '}{draw(st.sampled_from([method, 'ACK', 'IN VITE']))}",
        f"Max-Forwards: {draw(st.sampled_from(['70', '0', '255', '256', '', ' 7']))}",
        "Contact: "
        + draw(st.sampled_from([",", ", ", ",\r\n\t"])).join(
            draw(st.lists(st.one_of(name_addrs(), st.just("*")), min_size=1, max_size=3))
        ),
        draw(
            st.sampled_from(
                # "Subject", "v": known names without a colon (§7.3), refused.
                ["Subject: hi", "X-Odd : 1", "Odd", "v: SIP/2.0/UDP h", "Subject", "v"]
            )
        ),
    ]
    headers = draw(st.permutations(headers))
    body = draw(st.sampled_from([b"", b"v=0\r\n"]))
    if draw(st.booleans()):
        headers.append(f"Content-Length: {len(body) + draw(st.sampled_from([0, 0, 1, -1]))}")
    return ("\r\n".join([start, *headers]) + "\r\n\r\n").encode() + body


@settings(max_examples=600 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(), st.booleans())
def test_generated_messages_same_objects(data: bytes, datagram: bool) -> None:
    compare(data, datagram)


def test_both_paths_were_exercised() -> None:
    # Runs after the property tests in this module (pytest keeps file order).
    print(TRIED)
    assert TRIED["fast"] > 50 and TRIED["full"] > 50, TRIED


# Folds with LWS on either side of the line break, in eager and other headers
# alike: the values and the entries (split on first use) are the full parser's.
FOLD = st.builds(
    lambda before, lead, after: f"{before}\r\n{lead}{after}",
    st.sampled_from(["", " ", "\t", "  "]),
    st.sampled_from([" ", "\t"]),
    st.sampled_from(["", " ", "\t "]),
)


@st.composite
def folded_messages(draw: st.DrawFn) -> bytes:
    def value(*pieces: str) -> str:
        out = pieces[0]
        for piece in pieces[1:]:
            out += draw(st.sampled_from(["", " "])) + draw(FOLD) + piece
        return out

    lines = [
        "Via:" + draw(SPACE) + value("SIP/2.0/UDP a.example", ";branch=z9hG4bK1", ";rport"),
        "X-Long:" + value(draw(SPACE), "one", draw(st.sampled_from(["", "two", " "]))),
        "From: " + draw(st.sampled_from(["<sip:a@a.example>;tag=1", value("<sip:a", "@a.b>")])),
        "To: <sip:b@b.example>",
        "Contact: " + value("<sip:a@h.example>,", "<sip:b@h.example>"),
        "Call-ID: c",
        "CSeq: 1 INVITE",
        "Content-Length: 0" + draw(SPACE),
    ]
    lines = draw(st.permutations(lines))
    return ("\r\n".join(["INVITE sip:b@b.example SIP/2.0", *lines]) + "\r\n\r\n").encode()


FOLDED_TRIED = {True: 0, False: 0}


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(folded_messages(), st.booleans())
def test_folded_messages_same_objects(data: bytes, datagram: bool) -> None:
    # All well formed; the fast path leaves "<uri> ;tag" (LWS) to the full parser.
    FOLDED_TRIED[parse_common(data, datagram) is not None] += 1
    compare(data, datagram)


def test_folded_messages_took_both_paths() -> None:
    print(FOLDED_TRIED)
    assert FOLDED_TRIED[True] > 50 and FOLDED_TRIED[False] > 50, FOLDED_TRIED
