"""§16.3 validation and the §16.6 step 8 loop key."""

from __future__ import annotations

from sipsec.proxy.validate import branch_for, check_request, loop_key
from sipsec.sip import Request

from ._e3_harness import SECRET, request

OURS = frozenset({"192.0.2.1:5060"})


def test_a_clean_request_passes_with_a_key() -> None:
    refusal, key = check_request(request("INVITE", "sip:bob@atlanta.example"), SECRET, OURS)
    assert refusal is None and len(key) == 20


def test_refusals() -> None:
    missing = request("INVITE", "sip:bob@atlanta.example")
    missing.headers.remove("Call-ID")
    zero = request("INVITE", "sip:bob@atlanta.example")
    zero.headers.set("Max-Forwards", "0")
    tagged = request("INVITE", "sip:bob@atlanta.example", extra=[("Proxy-Require", "x, y")])
    cases: list[tuple[Request, int]] = [
        (missing, 400), (zero, 483), (tagged, 420),
        (request("INVITE", "http://example.com/"), 416),
    ]  # fmt: skip
    for req, status in cases:
        refusal, _ = check_request(req, SECRET, OURS)
        assert refusal is not None and refusal.status == status
    refusal, _ = check_request(tagged, SECRET, OURS)
    assert refusal is not None and refusal.headers == (("Unsupported", "x, y"),)


def _forwarded(req: Request, key: str) -> Request:
    copy = Request(req.method, req.uri, req.headers.copy(), req.body)
    copy.headers.prepend("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch_for(key, 0)}")
    copy.headers.prepend("Via", "SIP/2.0/UDP 192.0.2.77:5060;branch=z9hG4bKother")
    return copy


def test_same_request_back_is_a_loop() -> None:
    req = request("INVITE", "sip:bob@atlanta.example")
    _, key = check_request(req, SECRET, OURS)
    refusal, _ = check_request(_forwarded(req, key), SECRET, OURS)
    assert refusal is not None and refusal.status == 482


def test_retargeted_request_is_a_spiral() -> None:
    req = request("INVITE", "sip:bob@atlanta.example")
    _, key = check_request(req, SECRET, OURS)
    back = _forwarded(req, key)
    back.uri = "sip:bob@192.0.2.20"  # type: ignore[assignment]
    refusal, _ = check_request(back, SECRET, OURS)
    assert refusal is None


def test_key_depends_on_the_secret_and_the_vias_below_ours() -> None:
    req = request("INVITE", "sip:bob@atlanta.example")
    assert loop_key(req, SECRET, OURS) != loop_key(req, b"another-secret-16b", OURS)
    _, key = check_request(req, SECRET, OURS)
    assert loop_key(_forwarded(req, key), SECRET, OURS) == key
