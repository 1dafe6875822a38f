"""The splicer's one-join forms (forward, trying_of, by a plan of the keys)
against the general forwarded/join/trying they stand in for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.proxy import relay_scan as rs
from sipsec.proxy import relay_splice as sp

_OPTIONAL = [
    "Route: <sip:192.0.2.1;lr>", "Route: <sip:192.0.2.2;lr>", "X: y", "Timestamp: 5",
    "Max-Forwards: 70", "Contact: <sip:a@192.0.2.10>", "v: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKo",
]  # fmt: skip
_TRIED = [0]


@settings(max_examples=600)
@given(
    extra=st.lists(st.sampled_from(_OPTIONAL), max_size=5, unique=True),
    order=st.randoms(use_true_random=False),
    pop=st.integers(0, 2),
    record=st.booleans(),
    body=st.sampled_from([b"", b"v=0\r\n"]),
    stamped=st.booleans(),
)
def test_forward_by_a_plan_is_forwarded_and_joined(
    extra: list[str], order: object, pop: int, record: bool, body: bytes, stamped: bool
) -> None:
    lines = [
        "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKq",
        "From: <sip:a@atlanta.example>;tag=1",
        "To: <sip:b@atlanta.example>",
        "Call-ID: c",
        "CSeq: 1 INVITE",
        *extra,
    ]
    order.shuffle(lines)  # type: ignore[attr-defined]
    lines.append(f"Content-Length: {len(body)}")
    data = ("INVITE sip:b@atlanta.example SIP/2.0\r\n" + "\r\n".join(lines)).encode()
    data += b"\r\n\r\n" + body
    rs._TEMPLATES.clear()  # cold: the third sighting makes the template
    for _ in range(4):  # cold, then by the template the third sighting makes
        s = rs.scan(data)
        assert s is not None
        via = b"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKq;received=192.0.2.9"
        ours, keys = sp.stamped_lines(s, via if stamped else None)
        options = {
            "via": b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr.1;rport",
            "max_forwards": b"Max-Forwards: 69",
            "pop_routes": min(pop, len(s.routes)),
            "record_route": b"Record-Route: <sip:192.0.2.1:5060;lr>" if record else None,
        }
        general = sp.join(b"INVITE x SIP/2.0", sp.forwarded(ours, keys, **options), s.body)  # type: ignore[arg-type]
        out, plan = sp.forward_scan(s, ours, keys, b"INVITE x SIP/2.0", **options)  # type: ignore[arg-type]
        assert out == general
        assert (plan is not None) == (keys is s.keys)
        if plan is not None:
            assert sp.trying_of(ours, plan) == sp.trying(ours, keys)
            assert sp.plan(keys) is plan  # made once per list of keys
            _TRIED[0] += 1


def test_plans_were_used() -> None:
    if _TRIED[0]:
        assert _TRIED[0] > 100


def test_a_plan_is_never_another_lists() -> None:
    """Keyed by id(), but holding the list: a new list is never given a dead one's plan."""
    first = sp.plan([b"via", b"cseq", b"max-forwards"])
    for _ in range(50):
        keys = [b"cseq", b"via"]
        made = sp.plan(keys)
        assert made[0] is keys and made[1] == -1 and made[2] == 1
    assert first[1] == 2
