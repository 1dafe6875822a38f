"""The load generator's byte scanner (sipsec.ua.load_scan) against the full
parser (``sipsec.sip.parse_message``): on the RFC 3665 call flows
(tests/vectors/rfc3665, copied from the shared corpus) and on Hypothesis-made
messages, the scanner either gives the parser's answer or refuses with
SipParseError — never another answer, never another exception; and its fast
path declines or answers exactly as its general path does."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sipsec.sip import Response, SipParseError, parse_message
from sipsec.ua.load_scan import Scanned, scan, scan_fast, scan_general

from ._load_inputs import ALL_FLOWS, EXAMPLES, FLOWS, MUTATED, RINGING


def general(data: bytes) -> Scanned:
    """What :func:`scan` must answer, read by the full parser."""
    message = parse_message(data)
    kind: int | bytes = message.status if isinstance(message, Response) else message.method.encode()
    assert message.call_id is not None and message.cseq is not None
    to, via = message.to, message.top_via
    assert to is not None and via is not None
    return (
        kind,
        message.call_id.encode(),
        message.cseq.method.encode(),
        (to.tag or "").encode(),
        (via.branch or "").encode(),
    )


def test_vectors_are_there() -> None:
    assert len(FLOWS) > 150  # the RFC 3665 messages, requests and responses
    assert len(ALL_FLOWS) - len(FLOWS) <= 2


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_scan_agrees_with_the_parser_on_rfc3665(name: str) -> None:
    data = FLOWS[name]
    assert scan(data) == general(data)


def test_rfc3665_has_the_shapes_the_slow_path_handles() -> None:
    """The corpus exercises the fallback: folded Via lines (§7.3.1)."""
    folded = [d for d in FLOWS.values() if b"\r\n " in d.split(b"\r\n\r\n")[0]]
    assert folded


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RINGING, (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1")),
        # compact forms (§7.3.3), any case, white space before the colon
        (
            RINGING.replace(b"Call-ID:", b"i:").replace(b"To:", b"t :").replace(b"Via:", b"v:"),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1"),
        ),
        (RINGING.replace(b"CSeq:", b"cseq:"), (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1")),
        # a folded To line, a parameter written with spaces and in capitals
        (
            RINGING.replace(b">;tag=b", b">\r\n ; TAG = b"),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1"),
        ),
        # ;tag= inside <> is a URI parameter, not the To tag (§20.10)
        (RINGING.replace(b">;tag=b", b";tag=u>"), (180, b"abc@host", b"INVITE", b"", b"z9hG4bKa1")),
        # the top Via is the first value of the first Via line
        (
            RINGING.replace(b";rport\r\n", b";rport, SIP/2.0/UDP h;branch=z9hG4bKz\r\n"),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKa1"),
        ),
        (
            RINGING.replace(b"Via:", b"Via: SIP/2.0/UDP p;branch=z9hG4bKp\r\nVia:", 1),
            (180, b"abc@host", b"INVITE", b"b", b"z9hG4bKp"),
        ),
    ],
)
def test_scan_reads_the_usual_and_the_rare_shapes(data: bytes, expected: Scanned) -> None:
    assert scan(data) == expected == general(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"SIP/2.0 180 Ringing\r\n",  # no end of headers
        RINGING.replace(b"180", b"18x"),
        RINGING.replace(b"SIP/2.0 180", b"SIP/2.0 1800"),
        RINGING.replace(b"SIP/2.0 180", b"SIP/2.0 099"),
        RINGING.replace(b"Call-ID: abc@host\r\n", b""),
        RINGING.replace(b"Call-ID: abc@host", b"Call-ID: "),
        RINGING.replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"),
        RINGING.replace(b"CSeq: 1 INVITE", b"CSeq: 1"),
        RINGING.replace(b"To:", b"X-To:"),
        RINGING.replace(b"Via:", b"X-Via:"),
        RINGING.replace(b"SIP/2.0 180 Ringing", b"BYE sip:x SIP/2.0"),  # CSeq method differs
        RINGING.replace(b"SIP/2.0 180 Ringing", b"BYE sip:x HTTP/1.1"),
        RINGING.replace(b"SIP/2.0 180 Ringing", b"B(E sip:x SIP/2.0"),
    ],
)
def test_scan_refuses_what_it_cannot_match(data: bytes) -> None:
    with pytest.raises(SipParseError):
        scan(data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATED)
@example(RINGING.replace(b"Call-ID", b"Call-ID\r\n "))
def test_scan_never_disagrees_with_the_parser(data: bytes) -> None:
    """Any bytes: scan returns or raises SipParseError; when both read the
    message, scan's answer is the parser's."""
    try:
        fast = scan(data)
    except SipParseError:
        return
    try:
        expected = general(data)
    except SipParseError:
        return  # the scanner reads five fields, not the whole message
    assert fast == expected


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATED)
def test_the_fast_path_answers_as_the_general_path(data: bytes) -> None:
    """scan_fast declines (None), or gives scan_general's answer, or raises
    where scan_general raises too — for any bytes."""
    try:
        fast = scan_fast(data)
    except SipParseError:
        with pytest.raises(SipParseError):
            scan_general(data)
        return
    if fast is None:
        return
    assert fast == scan_general(data)


# Header lines in every spelling the fast path must tell apart: canonical,
# other case, compact (§7.3.3), white space before the colon (§25.1), no colon,
# a name that only starts like ours, folded continuations (§7.3.1), lone CR/LF.
_NAMES = {
    "call-id": ["Call-ID", "call-id", "CALL-ID", "i", "I", "Call-ID ", "Call-IDx"],
    "cseq": ["CSeq", "cseq", "CSEQ", "CSeq\t"],
    "to": ["To", "to", "TO", "t", "T", "To ", "Tox"],
    "via": ["Via", "via", "VIA", "v", "V", "Via ", "Vias"],
}
_VALUES = {
    "call-id": [" abc@h", " x", "", " a b", " abc@h ", " a\rb", " a\nb"],
    "cseq": [" 1 INVITE", " 2 BYE", " 1 ACK", " 1", " x INVITE", " 1 INVITE ", " 1 IN\rVITE"],
    "to": [
        " <sip:u@h>;tag=a",
        " <sip:u@h>",
        " <sip:u@h;tag=u>",
        " <sip:u@h>;TAG=b",
        " x;tag=a;tag=b",
        " <sip:u@h>;tag=a\r",
        " <sip:u@h> ; tag = c",
    ],
    "via": [
        " SIP/2.0/UDP h;branch=z9hG4bKa",
        " SIP/2.0/UDP h",
        " SIP/2.0/UDP h;branch=b1, SIP/2.0/UDP g;branch=b2",
        " SIP/2.0/UDP h;BRANCH=b3",
        " SIP/2.0/UDP h;branch=b;branch=c",
    ],
}
_LINE = st.one_of(
    st.sampled_from(sorted(_NAMES)).flatmap(
        lambda key: st.tuples(
            st.sampled_from(_NAMES[key]),
            st.sampled_from([":", ":", ":", ""]),
            st.sampled_from(_VALUES[key]),
        ).map(lambda t: t[0] + t[1] + t[2])
    ),
    st.sampled_from([" folded", "\tfolded", "Contact: <sip:u@h>", "Max-Forwards: 70", "X: a\nb",
                     "In-Reply-To: r", "Timestamp: 1", "Content-Length: 0"]),
)  # fmt: skip


def _message(first: str, lines: list[str]) -> bytes:
    return (first + "\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n").encode()


SPELLED = st.builds(
    _message,
    st.sampled_from(["SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "INVITE sip:u@h SIP/2.0",
                     "BYE sip:u@h SIP/2.0", "ACK sip:u@h SIP/2.0", "SIP/2.0  100 Trying"]),
    st.lists(_LINE, min_size=3, max_size=9),
)  # fmt: skip


@settings(max_examples=EXAMPLES // 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPELLED)
def test_the_fast_path_tells_every_spelling_apart(data: bytes) -> None:
    """Messages made of the four headers in every spelling, in any order and
    number: the fast path declines, or answers (or raises) as the general
    path does; and scan answers as the full parser wherever both read it."""
    try:
        fast = scan_fast(data)
    except SipParseError:
        with pytest.raises(SipParseError):
            scan_general(data)
    else:
        if fast is not None:
            assert fast == scan_general(data)
    try:
        scanned = scan(data)
        expected = general(data)
    except SipParseError:
        return
    assert scanned == expected


def test_spelled_messages_take_both_paths() -> None:
    """The strategy above reaches the fast path and the declines (else the
    test could not fail)."""
    canonical = (
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\nTo: <sip:u@h>;tag=a\r\n"
        b"Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"
    )
    assert scan_fast(canonical) == (180, b"x", b"INVITE", b"a", b"z9hG4bKa")
    for odd in (b"call-id: y\r\n", b"i: y\r\n", b"Call-ID : y\r\n", b" f\r\n", b"I:y\r\n"):
        declined = canonical.replace(b"Via:", odd + b"Via:")
        assert scan_fast(declined) is None, odd
    # A first Call-ID line with no colon is the line both paths read: both refuse it.
    empty = canonical.replace(b"Via:", b"Call-ID\r\nVia:")
    for read in (scan_fast, scan_general):
        with pytest.raises(SipParseError):
            read(empty)


def test_the_fast_path_reads_every_datagram_of_a_call() -> None:
    """The generator's own messages, and the RFC's usual ones, take the fast
    path: a change that made them decline would cost every datagram."""
    from sipsec.ua.load_scenario import ScenarioConfig, UacScenario, UasScenario

    uac_addr, uas_addr = ("127.0.0.1", 40000), ("127.0.0.1", 50000)
    target = "sip:uas@127.0.0.1:50000"
    uac = UacScenario(ScenarioConfig(uac_addr, next_hop=uas_addr, target=target), rate=1, calls=1)
    uas = UasScenario(ScenarioConfig(uas_addr, target=target))
    uac.start(0.0)
    seen: list[bytes] = []
    for _ in range(4):
        for data, _ in uac.datagrams_to_send():
            seen.append(data)
            uas.receive(data, uac_addr, 0.0)
        for data, _ in uas.datagrams_to_send():
            seen.append(data)
            uac.receive(data, uas_addr, 0.0)
    assert len(seen) == 7 and uac.stats.calls_succeeded == 1
    for data in seen:
        assert scan_fast(data) == scan_general(data)
    usual = [d for d in FLOWS.values() if b"\r\n " not in d.split(b"\r\n\r\n")[0]]
    assert sum(scan_fast(d) is not None for d in usual) >= 0.9 * len(usual)
