"""F1–F14 labelling and the ladder drawing, from synthetic message traces.

The trace below is the RFC 3261 §24.2 call (Figure 1) over TLS with the
Digest exchange of a domain that challenges INVITEs (RFC 3665 §3.1 shape):
INVITE / 407 / ACK before F1.  Each message is recorded twice, by its sender
(``out``) and its receiver (``in``), as the transports do.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.cli.demo_flow import LABELS, Observed, build_ladder, describe_body, missing_labels
from sipsec.cli.demo_ladder import hop_summaries, render_hops, render_ladder
from sipsec.sip import parse_message
from sipsec.transport.trace import TraceRecord

LISTEN = {
    "alice": ("127.0.0.1", 5001),
    "atlanta": ("127.0.0.1", 5061),
    "biloxi": ("127.0.0.1", 5071),
    "bob": ("127.0.0.1", 5002),
}
# Client side of each TLS connection (ephemeral ports).
CONN = {
    ("alice", "atlanta"): ("127.0.0.1", 40001),
    ("atlanta", "biloxi"): ("127.0.0.1", 40002),
    ("biloxi", "bob"): ("127.0.0.1", 40003),
    ("alice", "bob"): ("127.0.0.1", 40004),
    ("bob", "alice"): ("127.0.0.1", 40005),
}
SIGNED_TYPE = 'multipart/signed; boundary=b1; protocol="application/pkcs7-signature"'
SMIME = (
    b"--b1\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nxx\r\n"
    b"--b1\r\nContent-Type: application/pkcs7-signature\r\n\r\nyy\r\n--b1--\r\n"
)


def request(
    method: str,
    uri: str,
    branches: list[str],
    cseq: int,
    *,
    body: bytes = b"",
    auth: bool = False,
    ack_for: str | None = None,
) -> bytes:
    vias = "".join(
        f"Via: SIP/2.0/TLS h{i}.example;branch=z9hG4bK{b}\r\n" for i, b in enumerate(branches)
    )
    lines = [
        f"{method} {uri} SIP/2.0\r\n{vias}",
        "Max-Forwards: 70\r\nTo: <sips:bob@biloxi.example>\r\n",
        "From: <sips:alice@atlanta.example>;tag=a1\r\nCall-ID: call-1\r\n",
        f"CSeq: {cseq} {ack_for or method}\r\n",
    ]
    if auth:
        lines.append('Proxy-Authorization: Digest username="alice", realm="atlanta.example"\r\n')
    if body:
        lines.append(f"Content-Type: {SIGNED_TYPE}\r\n")
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "".join(lines).encode() + body


def response(status: int, reason: str, branches: list[str], cseq: int, method: str) -> bytes:
    vias = "".join(
        f"Via: SIP/2.0/TLS h{i}.example;branch=z9hG4bK{b}\r\n" for i, b in enumerate(branches)
    )
    return (
        f"SIP/2.0 {status} {reason}\r\n{vias}To: <sips:bob@biloxi.example>;tag=b1\r\n"
        f"From: <sips:alice@atlanta.example>;tag=a1\r\nCall-ID: call-1\r\n"
        f"CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def trapezoid() -> list[tuple[str, str, bytes]]:
    """(sender, receiver, message) in sending order."""
    invite = "INVITE"
    a, a2, p1, p2 = ["alice1"], ["alice2"], "atl1", "bil1"
    return [
        ("alice", "atlanta", request(invite, "sips:bob@biloxi.example", a, 1, body=SMIME)),
        ("atlanta", "alice", response(407, "Proxy Authentication Required", a, 1, invite)),
        ("alice", "atlanta", request("ACK", "sips:bob@biloxi.example", a, 1, ack_for="ACK")),
        (
            "alice",
            "atlanta",
            request(invite, "sips:bob@biloxi.example", a2, 2, body=SMIME, auth=True),
        ),
        (
            "atlanta",
            "biloxi",
            request(invite, "sips:bob@biloxi.example", [p1, *a2], 2, body=SMIME),
        ),
        ("atlanta", "alice", response(100, "Trying", a2, 2, invite)),
        (
            "biloxi",
            "bob",
            request(invite, "sips:bob@127.0.0.1:5002", [p2, p1, *a2], 2, body=SMIME),
        ),
        ("biloxi", "atlanta", response(100, "Trying", [p1, *a2], 2, invite)),
        ("bob", "biloxi", response(180, "Ringing", [p2, p1, *a2], 2, invite)),
        ("biloxi", "atlanta", response(180, "Ringing", [p1, *a2], 2, invite)),
        ("atlanta", "alice", response(180, "Ringing", a2, 2, invite)),
        ("bob", "biloxi", response(200, "OK", [p2, p1, *a2], 2, invite)),
        ("bob", "biloxi", response(200, "OK", [p2, p1, *a2], 2, invite)),  # retransmitted
        ("biloxi", "atlanta", response(200, "OK", [p1, *a2], 2, invite)),
        ("atlanta", "alice", response(200, "OK", a2, 2, invite)),
        ("alice", "bob", request("ACK", "sips:bob@127.0.0.1:5002", ["ack1"], 2, ack_for="ACK")),
        ("bob", "alice", request("BYE", "sips:alice@127.0.0.1:5001", ["bye1"], 1)),
        ("alice", "bob", response(200, "OK", ["bye1"], 1, "BYE")),
    ]


def records(flow: list[tuple[str, str, bytes]]) -> list[Observed]:
    out: list[Observed] = []
    t = 1_700_000_000.0
    for sender, receiver, data in flow:
        if (sender, receiver) in CONN:  # the sender opened the connection
            s_addr, r_addr = CONN[(sender, receiver)], LISTEN[receiver]
        else:  # answering over the connection the receiver opened
            s_addr, r_addr = LISTEN[sender], CONN[(receiver, sender)]
        peer = "biloxi.example" if receiver == "biloxi" else None
        out.append(Observed(sender, TraceRecord(t, "out", "tls", s_addr, r_addr, data, peer)))
        out.append(Observed(receiver, TraceRecord(t + 0.0004, "in", "tls", r_addr, s_addr, data)))
        t += 0.002
    return out


def test_the_figure_is_labelled_f1_to_f14() -> None:
    rows = build_ladder(reversed(records(trapezoid())))  # order of input is irrelevant
    assert missing_labels(rows) == []
    labelled = [(r.label, r.source, r.target, r.summary.split()[0]) for r in rows if r.label]
    assert labelled == [
        ("F1", "alice", "atlanta", "INVITE"),
        ("F2", "atlanta", "biloxi", "INVITE"),
        ("F3", "atlanta", "alice", "100"),
        ("F4", "biloxi", "bob", "INVITE"),
        ("F5", "biloxi", "atlanta", "100"),
        ("F6", "bob", "biloxi", "180"),
        ("F7", "biloxi", "atlanta", "180"),
        ("F8", "atlanta", "alice", "180"),
        ("F9", "bob", "biloxi", "200"),
        ("F10", "biloxi", "atlanta", "200"),
        ("F11", "atlanta", "alice", "200"),
        ("F12", "alice", "bob", "ACK"),
        ("F13", "bob", "alice", "BYE"),
        ("F14", "alice", "bob", "200"),
    ]
    unlabelled = [(r.summary.split()[0], r.notes) for r in rows if not r.label]
    assert unlabelled == [
        ("INVITE", ["challenged, retried with credentials"]),
        ("407", ["Digest challenge"]),
        ("ACK", ["challenged, retried with credentials"]),
        ("200", ["retransmission of F9"]),
    ]
    f1 = next(r for r in rows if r.label == "F1")
    assert f1.notes == ["Digest credentials"] and f1.body == "S/MIME signed + encrypted"
    assert all(r.received is not None and r.received > r.time for r in rows)


def test_ladder_drawing_and_hops() -> None:
    rows = build_ladder(records(trapezoid()))
    text = render_ladder(rows).plain
    for label in LABELS:
        assert f" {label} " in text
    lines = text.splitlines()
    assert "Alice" in lines[0] and "biloxi.example" in lines[0] and "Bob" in lines[0]
    f1 = next(line for line in lines if " F1 " in line)
    assert "INVITE" in f1 and "►" in f1 and "TLS" in f1
    f13 = next(line for line in lines if " F13 " in line)
    assert "◄" in f13 and "BYE" in f13
    hops = hop_summaries(rows)
    assert [(h.a, h.b) for h in hops] == [
        ("alice", "atlanta"),
        ("alice", "bob"),
        ("atlanta", "biloxi"),
        ("biloxi", "bob"),
    ]
    assert hops[2].identities == ("biloxi.example",)
    assert render_hops(hops, "SRTP AES_CM_128_HMAC_SHA1_80") is not None


def test_a_missing_message_is_reported() -> None:
    flow = [m for m in trapezoid() if not (m[0] == "biloxi" and m[2].startswith(b"SIP/2.0 180"))]
    assert missing_labels(build_ladder(records(flow))) == ["F7"]


def test_the_ack_of_a_failed_invite_is_not_f12() -> None:
    """A 500 from Bob: the hop-by-hop ACK (§17.1.1.3) is no dialog's ACK."""
    a2, p1, p2 = ["alice2"], "atl1", "bil1"
    flow = [
        *trapezoid()[3:8],
        ("bob", "biloxi", response(500, "Server Internal Error", [p2, p1, *a2], 2, "INVITE")),
        ("biloxi", "bob", request("ACK", "sips:bob@127.0.0.1:5002", [p2], 2, ack_for="ACK")),
    ]
    rows = build_ladder(records(flow))
    assert [r.label for r in rows if r.label] == ["F1", "F2", "F3", "F4", "F5"]
    assert "F12" in missing_labels(rows)


def test_body_descriptions() -> None:
    sdp = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    keyed = sdp + b"m=audio 4000 RTP/SAVP 0\r\nk=base64:QUJD\r\n"
    msg = parse_message(request("INVITE", "sip:bob@biloxi.example", ["x"], 1))
    assert describe_body(msg, "UDP") == ""
    msg.body = keyed
    msg.headers.set("Content-Type", "application/sdp")
    assert describe_body(msg, "UDP") == "SDP with SRTP key in clear!"
    assert describe_body(msg, "TLS") == "SDP with SRTP key in clear (inside TLS)"
    msg.body = sdp
    assert describe_body(msg, "UDP") == "SDP in clear"
    msg.headers.set("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")
    assert describe_body(msg, "TLS") == "S/MIME encrypted"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["alice", "atlanta", "biloxi", "bob", "eve"]),
            st.sampled_from(["in", "out"]),
            st.binary(max_size=200),
        ),
        max_size=20,
    )
)
def test_any_trace_gives_rows_never_an_exception(items: list[tuple[str, str, bytes]]) -> None:
    observed = [
        Observed(
            node,
            TraceRecord(
                float(i),
                direction,
                "udp",
                ("127.0.0.1", 5000 + i % 3),  # type: ignore[arg-type]
                ("127.0.0.1", 5000 + (i + 1) % 3),
                data,
            ),
        )
        for i, (node, direction, data) in enumerate(items)
    ]
    rows = build_ladder(observed)
    assert len(rows) == sum(1 for _, d, _ in items if d == "out")
    render_ladder(rows)
