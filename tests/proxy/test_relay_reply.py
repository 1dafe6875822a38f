"""The relay's response fast path (relay_reply, relay_scan.reply_fields)
against the general read it stands in for and against the full path."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_scan as rs
from sipsec.proxy import relay_splice as sp
from sipsec.proxy.relay_reply import reply_fields
from sipsec.sip import Request

from .._strategies import edited
from .test_relay import ALICE, BOB, SDP, make_driver, normalised, reply, req
from .test_relay_scan import _RESPONSE as _SCANNED

# The scan tests' 200 OK with one more header, so the templates differ.
_RESPONSE = _SCANNED.replace(b"Content-Length:", b"Expires: 60\r\nContent-Length:")
_SEEDS = [
    _RESPONSE,
    _RESPONSE.replace(b"200 OK", b"100 Trying").replace(b"4\r\n\r\nv=0\n", b"0\r\n\r\n"),
    _RESPONSE.replace(b"200 OK", b"486 Busy Here ").replace(b"7 INVITE", b"7 CANCEL"),
    _RESPONSE.replace(b"Via: SIP/2.0/UDP 192.0.2.1:5060;", b"Via:  SIP/2.0/UDP 192.0.2.1;"),
    _RESPONSE.replace(b"Call-ID: abc@x", b"Call-ID: abc@x \t"),  # a blank-ended value
    b"INVITE sip:b@h SIP/2.0\r\n" + _RESPONSE.split(b"\r\n", 1)[1],
]
_TRIED = [0, 0]  # inputs, of which reply_fields read one


def replies() -> st.SearchStrategy[bytes]:
    return edited(_SEEDS)


@settings(max_examples=1500)
@given(replies() | st.binary(max_size=200))
def test_reply_fields_reads_what_scan_response_reads(data: bytes) -> None:
    """Cold and warm (the third sighting makes a template): reply_fields is
    None, or exactly scan_response's values — and its cut is without_first's."""
    rs._TEMPLATES.clear()  # cold: other tests' shapes may have spent this generation's budget
    for _ in range(4):
        fields, r = reply_fields(data), rs.scan_response(data)
        _TRIED[0] += 1
        if fields is None:
            continue
        _TRIED[1] += 1
        assert r is not None, data
        status, clean, top, vias, cseq_method, from_, to, call_id, begin, end, _ = fields
        r_status, r_clean, _, lines, via_lines, vals, r_method, _ = r
        assert (status, clean, vias, cseq_method) == (r_status, r_clean, len(via_lines), r_method)
        assert (top, from_, to, call_id) == (
            vals[b"via"],
            vals[b"from"],
            vals[b"to"],
            vals[b"call-id"],
        )
        assert data[:begin] + data[end:] == sp.without_first(data, lines[via_lines[0]])


def test_reply_fields_read_some() -> None:
    if _TRIED[0] == 0:
        return  # run alone
    assert 0 < _TRIED[1] < _TRIED[0]


# -- against the full path: the same response, mutated, to each side's relayed INVITE ---------
_BRANCH = b"BRANCH-PLACEHOLDER"
_EDITS = [
    (b"", b""),
    (b"Content-Length:", b"Content-Length: "),
    (b"Call-ID: ", b"i: "),
    (b"CSeq: 1 INVITE", b"CSeq: 2 INVITE"),
    (b"SIP/2.0 200 OK", b"SIP/2.0 200  OK"),
    (b"To: <sip:bob@atlanta.example>;tag=btag", b"To: <sip:bob@atlanta.example>;tag=other"),
    (b"\r\nFrom: ", b"\r\nX-Odd: 1\r\nFrom: "),
    (b"Via: ", b"Via:  "),
]
_DIFF_TRIED = [0, 0]  # responses, of which the relay took one


@st.composite
def response_cases(draw: st.DrawFn) -> tuple[int, bool, tuple[bytes, bytes], int, bytes, int]:
    status = draw(st.sampled_from([100, 180, 200, 486, 503]))
    contact = draw(st.booleans())
    edit = draw(st.sampled_from(_EDITS))
    at = draw(st.integers(0, 600))
    noise = draw(st.sampled_from([b"", b"", b"", b" ", b"\t", b"\r\n", b":", b"\x00", b"\xff"]))
    times = draw(st.integers(1, 4))
    return status, contact, edit, at, noise, times


def _response_for(d: object, case: tuple[int, bool, tuple[bytes, bytes], int, bytes, int]) -> bytes:
    """The case's response to what ``d`` forwarded to Bob, edited and mutated
    with its own top branch held out (the two sides' branches differ)."""
    from .test_relay import Driver

    assert isinstance(d, Driver)
    status, contact, (old, new), at, noise, _ = case
    invite = d.last_to(BOB)
    assert isinstance(invite, Request)
    branch = invite.top_via.branch.encode() if invite.top_via and invite.top_via.branch else b""
    data = reply(invite, status, contact=contact).replace(branch, _BRANCH).replace(old, new, 1)
    # Noise after the Via lines and outside Contact: the relay leaves what
    # happens to a Via the UAS rewrote, or a Contact the parser refuses, as
    # the relay always did (see the report of this round), and so does this test.
    vias_end = data.find(b"\r\n", data.find(b"\r\nVia: ", data.find(b"\r\nVia: ") + 2) + 2)
    at = min(max(at, vias_end), len(data))
    contact = data.find(b"\r\nContact:")
    if contact >= 0 and contact < at <= data.find(b"\r\n", contact + 2):
        at = contact
    data = data[:at] + noise + data[at:]
    return data.replace(_BRANCH, branch)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(response_cases())
def test_a_response_does_what_the_full_path_does(
    case: tuple[int, bool, tuple[bytes, bytes], int, bytes, int],
) -> None:
    """A response (edited, mutated, retransmitted up to four times so that
    its template is made and used) through the relay, or through the full
    path: the same bytes out, the same records and counters."""
    rs._TEMPLATES.clear()  # cold, so the retransmissions make the template
    full, fast = make_driver(False), make_driver(True)
    for d in (full, fast):
        d.datagram(req("INVITE", "sip:bob@atlanta.example", "z9hG4bKrsp", body=SDP), ALICE)
        data = _response_for(d, case)
        for _ in range(case[5]):
            d.datagram(data, BOB)
        d.advance(40)
    assert fast.relay is not None
    _DIFF_TRIED[0] += 1
    _DIFF_TRIED[1] += fast.relay.stats["relay_responses"] > 0
    assert fast.relay.stats["relay_errors"] == 0
    assert normalised(fast.sent) == normalised(full.sent)
    assert [(r.method, r.status, r.from_, r.to, r.branches) for r in fast.core.log] == [
        (r.method, r.status, r.from_, r.to, r.branches) for r in full.core.log
    ]
    assert {k: v for k, v in fast.core.stats.items() if v} == {
        k: v for k, v in full.core.stats.items() if v
    }


def test_the_response_cases_exercise_the_fast_path() -> None:
    if _DIFF_TRIED[0] == 0:
        return  # run alone
    assert 0 < _DIFF_TRIED[1] < _DIFF_TRIED[0]
