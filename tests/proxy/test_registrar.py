"""The registrar (RFC 3261 §10.3) and its Digest (401) through ProxyCore, in memory."""

from __future__ import annotations

from sipsec.auth import DigestClient, Retry
from sipsec.proxy import BindingPolicy
from sipsec.sip import Request, Response

from ._e3_harness import ALICE, BOB, Net, authorize, make_net, register, request, retried

AOR = "sip:bob@atlanta.example"
CONTACT = f"<sip:bob@{BOB.host}:{BOB.port}>"


def _register_req(
    *, contact: str | None = CONTACT, extra: tuple[tuple[str, str], ...] = (), cseq: int = 1,
    to: str = AOR, call_id: str = "reg-bob",
) -> Request:  # fmt: skip
    return request(
        "REGISTER", "sip:atlanta.example", from_=to, to=to, via=BOB,
        contact=contact, extra=extra, cseq=cseq, call_id=call_id,
    )  # fmt: skip


def _final(net: Net, peer=BOB) -> Response:  # type: ignore[no-untyped-def]
    replies = [m for m in net.to(peer) if isinstance(m, Response) and m.status >= 200]
    assert len(replies) == 1, replies
    return replies[0]


def _with_auth(net: Net, req: Request, user: str = "bob", password: str = "secret-b") -> Response:
    authorize(net, req, BOB, DigestClient(user, password), status=401)
    return _final(net)


def test_challenge_offers_each_algorithm_strongest_first_with_both_qops() -> None:
    net = make_net()
    net.deliver(_register_req(), BOB)
    challenge = _final(net)
    assert challenge.status == 401 and challenge.reason == "Unauthorized"
    offered = challenge.www_authenticate
    assert [c.params["algorithm"] for c in offered] == ["SHA-512-256", "SHA-256", "MD5"]
    assert {c.params["qop"] for c in offered} == {"auth,auth-int"}
    assert len({c.params["nonce"] for c in offered}) == 1


def test_algorithms_are_configurable() -> None:
    net = make_net(algorithms=("MD5",))
    net.deliver(_register_req(), BOB)
    assert [c.params["algorithm"] for c in _final(net).www_authenticate] == ["MD5"]


def test_register_then_200_lists_every_binding_with_expires_and_q() -> None:
    net = make_net()
    ok = register(net, "bob", "secret-b", CONTACT, BOB)
    assert ok.status == 200
    assert [str(c) for c in ok.contacts] == [f"{CONTACT};expires=3600"]
    assert ok.headers.get("Authentication-Info") is not None  # qop=auth: rspauth for the UA
    more = _register_req(contact="<sip:bob@192.0.2.99:5090>;q=0.5", cseq=3)
    again = _with_auth(net, more)
    assert again.status == 200
    assert [str(c) for c in again.contacts] == [
        f"{CONTACT};expires=3600",
        "<sip:bob@192.0.2.99:5090>;expires=3600;q=0.5",
    ]


def test_refresh_remove_and_wildcard() -> None:
    net = make_net()
    register(net, "bob", "secret-b", CONTACT, BOB, expires=600)
    net.advance(100)
    refreshed = _with_auth(net, _register_req(extra=(("Expires", "1200"),), cseq=3))
    assert [c.params["expires"] for c in refreshed.contacts] == ["1200"]
    removed = _with_auth(net, _register_req(contact=f"{CONTACT};expires=0", cseq=5))
    assert removed.status == 200 and removed.contacts == []
    register(net, "bob", "secret-b", CONTACT, BOB, cseq=7)
    star = _with_auth(net, _register_req(contact="*", extra=(("Expires", "0"),), cseq=9))
    assert star.status == 200 and star.contacts == []
    fetch = _with_auth(net, _register_req(contact=None, cseq=11))
    assert fetch.status == 200 and fetch.contacts == []


def test_interval_too_brief_is_423_with_min_expires() -> None:
    net = make_net(bindings=BindingPolicy(min_expires=120))
    refused = _with_auth(net, _register_req(extra=(("Expires", "30"),)))
    assert refused.status == 423 and refused.headers.get("Min-Expires") == "120"


def test_out_of_order_cseq_is_400() -> None:
    net = make_net()
    register(net, "bob", "secret-b", CONTACT, BOB, cseq=10)
    assert _with_auth(net, _register_req(cseq=3)).status == 400


def test_user_may_not_register_someone_else() -> None:
    net = make_net()
    alice_aor = "sip:alice@atlanta.example"
    refused = _with_auth(net, _register_req(to=alice_aor, call_id="steal"))
    assert refused.status == 403


def test_aor_outside_the_domain_is_404() -> None:
    net = make_net()
    assert _with_auth(net, _register_req(to="sip:bob@biloxi.example")).status == 404


def test_unknown_user_and_wrong_password_get_the_same_answer() -> None:
    net = make_net()
    answers = []
    for user, password in (("mallory", "x"), ("bob", "wrong")):
        req = _register_req(to=f"sip:{user}@atlanta.example", call_id=f"c-{user}")
        authorize(net, req, BOB, DigestClient(user, password), status=401)
        reply = _final(net)
        answers.append((reply.status, reply.reason, [n for n, _ in reply.headers]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


def test_stale_nonce_gets_stale_true() -> None:
    net = make_net(nonce_lifetime=30.0)
    net.deliver(_register_req(), BOB)
    challenge = _final(net)
    net.advance(60)
    flow = DigestClient("bob", "secret-b").start("REGISTER", "sip:atlanta.example")
    step = flow.challenged(401, challenge.www_authenticate)
    assert isinstance(step, Retry)
    late = retried(_register_req())
    for cred in step.credentials:
        late.headers.add(cred.header_name, str(cred.value))
    net.deliver(late, BOB)
    again = _final(net)
    assert again.status == 401
    assert all(c.params.get("stale") == "true" for c in again.www_authenticate)


def test_replayed_nonce_count_is_refused() -> None:
    net = make_net()
    retry = authorize(net, _register_req(), BOB, DigestClient("bob", "secret-b"), status=401)
    assert _final(net).status == 200
    replay = retried(retry)  # same credentials, same nc: a replayer
    net.deliver(replay, BOB)
    refused = _final(net)
    assert refused.status == 401
    assert refused.www_authenticate[0].params.get("stale") == "true"


def test_guessing_is_rate_limited_per_source() -> None:
    net = make_net()
    statuses = []
    for attempt in range(30):
        req = _register_req(call_id=f"guess-{attempt}")
        authorize(net, req, BOB, DigestClient("bob", f"guess{attempt}"), status=401)
        statuses.append(_final(net).status)
    assert statuses[0] == 401 and 403 in statuses
    limited = [s for s in statuses if s == 403]
    assert len(limited) >= 5
    # Another source and the right password: the per-user bucket is empty too.
    req = _register_req(call_id="honest")
    net.deliver(req, ALICE)
    assert [m.status for m in net.to(ALICE) if isinstance(m, Response)] in ([401], [403])


def test_bindings_expire_on_time() -> None:
    net = make_net(bindings=BindingPolicy(min_expires=60), purge_interval=3600.0)
    register(net, "bob", "secret-b", CONTACT, BOB, expires=60)
    assert net.core.location.lookup(AOR, net.now)
    timer = net.core.get_timer()
    assert timer is not None and timer <= net.now + 60
    net.advance(61)
    assert net.core.stats["bindings_expired"] == 1
    assert net.core.location.lookup(AOR, net.now) == []


def test_register_without_auth_when_disabled() -> None:
    net = make_net()
    net.core.authenticate_registers = False
    net.deliver(_register_req(), BOB)
    assert _final(net).status == 200


def test_require_of_an_unknown_extension_is_420() -> None:
    net = make_net()
    net.deliver(_register_req(extra=(("Require", "gruu"),)), BOB)
    refused = _final(net)
    assert refused.status == 420 and refused.headers.get("Unsupported") == "gruu"
