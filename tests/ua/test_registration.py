"""REGISTER through a Digest registrar: challenge, refresh, un-REGISTER,
wrong password, stale nonce, 423 (RFC 3261 §10.2, §22; RFC 7616)."""

from __future__ import annotations

import pytest

from sipsec.sip import Request, SipUri, parse_uri
from sipsec.ua import (
    AuthenticationFailed,
    Registered,
    RegistrationFailed,
    RegistrationState,
    Unregistered,
    UserAgent,
    refresh_delay,
)

from .conftest import ALICE, PASSWORD, REGISTRAR, Net, Registrar, events


def setup(net: Net, password: str = PASSWORD, **kwargs: object) -> tuple[UserAgent, Registrar]:
    registrar = Registrar({"alice": PASSWORD}, **kwargs)  # type: ignore[arg-type]
    net.nodes[REGISTRAR] = registrar
    alice = net.ua(
        ALICE, "sip:alice@atlanta.example", outbound_proxy=REGISTRAR, password=password,
        register_expires=600,
    )  # fmt: skip
    return alice, registrar


def registers(registrar: Registrar) -> list[Request]:
    return [r for r in registrar.received if r.method == "REGISTER"]


def test_register_answers_the_401_and_reports_the_bindings(net: Net) -> None:
    alice, registrar = setup(net)
    alice.register(net.now)
    net.pump()
    [event] = events(alice)
    assert isinstance(event, Registered)
    assert event.expires == 600
    assert event.bindings == ["<sip:alice@192.0.2.1:5060;transport=udp>;expires=600"]
    first, second = registers(registrar)
    assert not first.authorization and second.authorization
    # §10.2: same Call-ID and From tag, CSeq one more; the strongest algorithm offered.
    assert first.call_id == second.call_id and first.from_.tag == second.from_.tag  # type: ignore[union-attr]
    assert second.cseq.seq == first.cseq.seq + 1  # type: ignore[union-attr]
    [credentials] = second.authorization
    assert credentials.params["algorithm"] == "SHA-512-256"
    assert credentials.params["qop"] == "auth"
    assert credentials.params["nc"] == "00000001"
    assert str(second.uri) == "sip:atlanta.example"
    via = second.top_via
    assert via is not None and via.rport is True and via.branch.startswith("z9hG4bK")  # type: ignore[union-attr]
    assert second.max_forwards == 70
    assert second.headers.get("User-Agent") == "sipsec/0.1"
    assert second.expires == 600 and second.contacts[0].expires == 600
    assert alice.registration.state is RegistrationState.REGISTERED


def test_refresh_before_expiry_reuses_the_nonce(net: Net) -> None:
    alice, registrar = setup(net)
    alice.register(net.now)
    net.pump()
    events(alice)
    # 600 s granted, T1 0.5 s: refresh at max(300, 600 - 32) = 568 s.
    assert refresh_delay(600, 0.5) == 568
    assert alice.get_timer() == 568
    net.run(until=567.9)
    assert len(registers(registrar)) == 2
    net.run(until=568.0)
    assert len(registers(registrar)) == 3
    refresh = registers(registrar)[-1]
    # Pre-emptive credentials (§22.3): the cached nonce with nc 2, no new 401.
    assert refresh.authorization[0].params["nc"] == "00000002"
    assert registrar.challenges == 1
    [event] = events(alice)
    assert isinstance(event, Registered) and event.expires == 600
    assert alice.get_timer() == 568 + 568


def test_short_binding_refreshes_at_half_life(net: Net) -> None:
    alice, _registrar = setup(net, expires_cap=60)
    alice.register(net.now)
    net.pump()
    [event] = events(alice)
    assert isinstance(event, Registered) and event.expires == 60
    assert alice.get_timer() == 30.0


def test_unregister_sends_expires_zero(net: Net) -> None:
    alice, registrar = setup(net)
    alice.register(net.now)
    net.pump()
    events(alice)
    alice.unregister(net.now)
    net.pump()
    [event] = events(alice)
    assert isinstance(event, Unregistered)
    last = registers(registrar)[-1]
    assert last.expires == 0 and last.contacts[0].expires == 0
    assert registrar.bindings == {}
    assert alice.get_timer() is None  # no refresh of a removed binding


def test_wrong_password_is_one_retry_then_a_counted_failure(net: Net) -> None:
    alice, registrar = setup(net, password="wrong")
    alice.register(net.now)
    net.pump()
    failed = events(alice)
    assert [type(e) for e in failed] == [AuthenticationFailed, RegistrationFailed]
    assert failed[0].status == 401 and failed[0].realm == "atlanta.example"  # type: ignore[union-attr]
    assert failed[1].status == 401  # type: ignore[union-attr]
    assert len(registers(registrar)) == 2  # once per challenge, never a loop
    assert alice.stats["auth_failures"] == 1


def test_stale_nonce_is_retried(net: Net) -> None:
    alice, registrar = setup(net)
    registrar.stale_next = True
    alice.register(net.now)
    net.pump()
    [event] = events(alice)
    assert isinstance(event, Registered)
    assert len(registers(registrar)) == 3 and registrar.challenges == 2


def test_password_never_in_repr() -> None:
    from sipsec.ua import UaConfig

    config = UaConfig("sip:alice@atlanta.example", password=PASSWORD)
    assert PASSWORD not in repr(config) and PASSWORD not in str(config)
    ua = UserAgent(config)
    assert PASSWORD not in repr(ua.digest) and PASSWORD not in repr(ua)


@pytest.mark.parametrize(
    ("expires", "t1", "delay"),
    [(3600, 0.5, 3568), (600, 0.5, 568), (64, 0.5, 32), (60, 0.5, 30), (10, 0.5, 5), (0, 0.5, 0)],
)
def test_refresh_delay(expires: int, t1: float, delay: float) -> None:
    assert refresh_delay(expires, t1) == delay


def test_auth_int_when_it_is_all_the_registrar_offers(net: Net) -> None:
    from sipsec.auth import Qop

    alice, registrar = setup(net, qops=(Qop.AUTH_INT,))
    alice.register(net.now)
    net.pump()
    [event] = events(alice)
    assert isinstance(event, Registered)
    assert registers(registrar)[-1].authorization[0].params["qop"] == "auth-int"


def test_prefer_auth_int_covers_the_invite_body(net: Net) -> None:
    from sipsec.auth import Algorithm, Authenticated, DigestServer, Qop, compute_ha1
    from sipsec.ua import CallAnswered

    from .conftest import BOB, ScriptedUas

    digest = DigestServer(
        b"proxy-secret-0123456789", "atlanta.example",
        lambda u, r, a: compute_ha1(a, u, r, PASSWORD), algorithms=[Algorithm.SHA256],
    )  # fmt: skip
    far = ScriptedUas(BOB)
    results: list[object] = []

    def on_request(tid: int, request: Request, now: float) -> None:
        result = digest.authenticate(
            request.proxy_authorization, method="INVITE", uri=str(request.uri),
            body=request.body, now=1e6, source="a",
        )  # fmt: skip
        results.append(result)
        if isinstance(result, Authenticated):
            far.respond(tid, request, 200, now, tag="b", contact="sip:bob@192.0.2.2")
        else:
            headers = tuple(("Proxy-Authenticate", str(c)) for c in digest.challenge(1e6))
            far.respond(tid, request, 407, now, headers=headers)

    far.on_request = on_request
    net.nodes[BOB] = far
    alice = net.ua(ALICE, "sip:alice@atlanta.example", password=PASSWORD, prefer_auth_int=True)
    alice.invite("sip:bob@192.0.2.2", net.now, body=b"v=0\r\n", content_type="application/sdp")
    net.pump()
    assert [type(e) for e in events(alice)] == [CallAnswered]
    last = results[-1]
    assert isinstance(last, Authenticated) and last.qop is Qop.AUTH_INT


def test_interval_too_brief_retries_with_min_expires(net: Net) -> None:
    alice, registrar = setup(net)
    registrar.script.append((423, (("Min-Expires", "900"),)))
    alice.register(net.now)
    net.pump()
    [event] = events(alice)
    assert isinstance(event, Registered) and event.expires == 900
    assert [r.expires for r in registers(registrar)] == [600, 900, 900]


def test_failed_refresh_is_retried_after_retry_after(net: Net) -> None:
    alice, registrar = setup(net)
    alice.register(net.now)
    net.pump()
    events(alice)
    registrar.script.append((503, (("Retry-After", "12 (maintenance)"),)))
    net.run(until=568.0)
    [failed] = events(alice)
    assert isinstance(failed, RegistrationFailed) and failed.status == 503
    assert failed.reason == "Service Unavailable"
    assert alice.get_timer() == 580.0
    net.run(until=580.0)
    [event] = events(alice)
    assert isinstance(event, Registered)


def test_unanswered_refresh_times_out_and_is_retried(net: Net) -> None:
    alice, _registrar = setup(net)
    alice.register(net.now)
    net.pump()
    events(alice)
    net.drop = lambda s, d, m: s == ALICE
    net.run(until=568.0 + 32.0)
    [failed] = events(alice)
    assert isinstance(failed, RegistrationFailed) and failed.status == 408
    assert failed.reason == "request timed out"
    net.drop = None
    net.run(until=568.0 + 32.0 + 30.0)
    assert isinstance(events(alice)[0], Registered)


def test_refused_registration_is_not_retried(net: Net) -> None:
    alice, registrar = setup(net)
    registrar.script.append((403, ()))
    alice.register(net.now)
    net.pump()
    [failed] = events(alice)
    assert isinstance(failed, RegistrationFailed) and failed.status == 403
    assert alice.get_timer() is None


def test_expires_granted_from_the_header_or_as_asked() -> None:
    from sipsec.sip import make_response
    from sipsec.ua.registration import Registration, granted_expires

    aor = parse_uri("sip:alice@atlanta.example")
    assert isinstance(aor, SipUri)
    registration = Registration(aor)
    request = registration.build(300)
    request.headers.add("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx")
    ok = make_response(request, 200)
    assert granted_expires(ok, "sip:alice@192.0.2.1", 300) == 300
    ok.headers.add("Expires", "120")
    assert granted_expires(ok, "sip:alice@192.0.2.1", 300) == 120
    ok.headers.add("Contact", "<sip:alice@192.0.2.1>;expires=60, <sip:other@192.0.2.9>;expires=5")
    assert granted_expires(ok, "sip:alice@192.0.2.1", 300) == 60
    ok.headers.set("Contact", "<sip:alice@192.0.2.1>;expires=bad")
    assert granted_expires(ok, "sip:alice@192.0.2.1", 300) == 120
    ok.headers.set("Expires", "soon")
    assert granted_expires(ok, "sip:alice@192.0.2.1", 300) == 300
    assert registration.build(0).cseq.seq == 2  # type: ignore[union-attr]


def test_only_the_newest_register_counts(net: Net) -> None:
    """register() then unregister() at once: the first 200 must not be read
    as the answer to the second."""
    alice, registrar = setup(net)
    alice.register(net.now)
    alice.unregister(net.now)
    net.pump()
    got = events(alice)
    assert [type(e) for e in got] == [Unregistered]
    assert alice.stats["superseded_register_outcomes"] >= 1
    assert alice.get_timer() is None and registrar.bindings == {}
