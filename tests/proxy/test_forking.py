"""Best response selection (§16.7 step 6), challenge aggregation (step 7), q grouping."""

from __future__ import annotations

from sipsec.proxy.forking import Target, aggregate_challenges, choose_best, target_groups
from sipsec.sip import Response, SipUri, make_response, parse_uri

from ._e3_harness import request

REQ = request("INVITE", "sip:bob@atlanta.example")


def _r(status: int, *headers: tuple[str, str]) -> Response:
    response = make_response(REQ, status, to_tag=f"t{status}")
    for name, value in headers:
        response.headers.add(name, value)
    return response


def _uri(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


def test_6xx_wins_over_everything() -> None:
    assert choose_best([_r(486), _r(603), _r(302)], REQ).status == 603


def test_lowest_class_wins() -> None:
    assert choose_best([_r(486), _r(302), _r(500)], REQ).status == 302


def test_in_4xx_the_actionable_ones_are_preferred() -> None:
    assert choose_best([_r(404), _r(486), _r(407)], REQ).status == 407
    assert choose_best([_r(404), _r(415)], REQ).status == 415
    assert choose_best([_r(404), _r(486)], REQ).status == 404  # else the first received


def test_no_final_response_means_408() -> None:
    assert choose_best([], REQ).status == 408


def test_503_becomes_500() -> None:
    best = choose_best([_r(503), _r(504)], REQ)
    assert best.status == 500 and best.to is not None and best.to.tag == "t503"


def test_aggregation_merges_every_challenge_once() -> None:
    one = _r(401, ("WWW-Authenticate", 'Digest realm="a", nonce="1"'))
    two = _r(407, ("Proxy-Authenticate", 'Digest realm="b", nonce="2"'))
    dup = _r(401, ("WWW-Authenticate", 'Digest realm="a", nonce="1"'))
    best = aggregate_challenges(one, [one, two, dup, _r(486)])
    assert best.headers.get_lines("WWW-Authenticate") == ['Digest realm="a", nonce="1"']
    assert best.headers.get_lines("Proxy-Authenticate") == ['Digest realm="b", nonce="2"']


def test_aggregation_leaves_other_responses_alone() -> None:
    busy = _r(486)
    assert aggregate_challenges(busy, [busy, _r(401, ("WWW-Authenticate", "Digest x"))]) is busy
    assert "WWW-Authenticate" not in busy.headers


def test_targets_grouped_by_q_highest_first() -> None:
    a, b, c, d = (_uri(f"sip:{n}@192.0.2.1") for n in "abcd")
    groups = target_groups(
        [Target(a, 0.5), Target(b, 1.0), Target(c, 0.5), Target(d, 0.1)], limit=16
    )
    assert [[t.uri for t in group] for group in groups] == [[b], [a, c], [d]]
    assert sum(len(g) for g in target_groups([Target(a)] * 40, limit=16)) == 16
