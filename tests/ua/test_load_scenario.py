"""The load generator's sans-IO UAC and UAS engines, pumped in memory with an
explicit clock (aioquic's test style): a full call, losses and retransmissions
(§17 Timers A, E, G), timeouts (Timers B, F, H), pacing and bad input."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsec.errors import LocalProtocolError
from sipsec.sip import Request, Response, make_response, parse_message
from sipsec.ua.load_scenario import (
    LoadStats,
    ScenarioConfig,
    UacScenario,
    UasScenario,
)

# Inputs tried per run; SIPSEC_FUZZ_EXAMPLES=20000 for a long run by hand.
EXAMPLES = int(os.environ.get("SIPSEC_FUZZ_EXAMPLES", "600"))

UAC_ADDR = ("127.0.0.1", 40000)
UAS_ADDR = ("127.0.0.1", 50000)
TARGET = "sip:uas@127.0.0.1:50000"

Drop = Callable[[bytes, tuple[str, int]], bool]


def make_pair(
    *, calls: int = 1, rate: float = 10.0, hold: float = 0.0
) -> tuple[UacScenario, UasScenario]:
    uac = UacScenario(
        ScenarioConfig(UAC_ADDR, next_hop=UAS_ADDR, target=TARGET, hold=hold),
        rate=rate,
        calls=calls,
    )
    uas = UasScenario(ScenarioConfig(UAS_ADDR, target=TARGET))
    return uac, uas


def first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


class Wire:
    """Moves datagrams between the engines; ``drop`` decides which are lost."""

    def __init__(self, uac: UacScenario, uas: UasScenario, drop: Drop | None = None) -> None:
        self.uac, self.uas, self.drop = uac, uas, drop
        self.log: list[tuple[str, str]] = []  # (direction, first line)

    def transfer(self, now: float) -> None:
        moved = True
        while moved:
            moved = False
            for data, dest in self.uac.datagrams_to_send():
                moved = True
                assert dest == UAS_ADDR
                self.log.append((">", first_line(data)))
                if not (self.drop and self.drop(data, dest)):
                    self.uas.receive(data, UAC_ADDR, now)
            for data, dest in self.uas.datagrams_to_send():
                moved = True
                assert dest == UAC_ADDR
                self.log.append(("<", first_line(data)))
                if not (self.drop and self.drop(data, dest)):
                    self.uac.receive(data, UAS_ADDR, now)

    def run(self, until: float) -> float:
        """Fire timers in order until both engines are idle or ``until``."""
        now = 0.0
        self.transfer(now)
        while True:
            timers = [t for t in (self.uac.get_timer(), self.uas.get_timer()) if t is not None]
            if not timers or min(timers) > until:
                return now
            now = max(now, min(timers))
            self.uac.handle_timer(now)
            self.uas.handle_timer(now)
            self.transfer(now)


def test_full_call_message_flow() -> None:
    uac, uas = make_pair()
    wire = Wire(uac, uas)
    uac.start(0.0)
    wire.transfer(0.0)
    assert wire.log == [
        (">", f"INVITE {TARGET} SIP/2.0"),
        ("<", "SIP/2.0 100 Trying"),
        ("<", "SIP/2.0 180 Ringing"),
        ("<", "SIP/2.0 200 OK"),
        (">", "ACK sip:uas@127.0.0.1:50000 SIP/2.0"),
        (">", "BYE sip:uas@127.0.0.1:50000 SIP/2.0"),
        ("<", "SIP/2.0 200 OK"),
    ]
    assert uac.finished and uas.finished
    assert (uac.stats.calls_started, uac.stats.calls_succeeded, uac.stats.failures) == (1, 1, {})
    assert (uas.stats.calls_started, uas.stats.calls_succeeded, uas.stats.failures) == (1, 1, {})
    assert uac.stats.latencies == [0.0]
    assert uac.stats.retransmissions == uas.stats.retransmissions == 0
    # Finished calls linger 64*T1 to absorb late retransmissions, then free their slot.
    assert uac.get_timer() == 32.0
    uac.handle_timer(32.0)
    uas.handle_timer(32.0)
    assert uac.get_timer() is None and uas.get_timer() is None


def test_uas_may_skip_the_100() -> None:
    """§17.2.1: a UAS answering within 200 ms need not send 100 Trying."""
    uac, _ = make_pair()
    uas = UasScenario(ScenarioConfig(UAS_ADDR, target=TARGET, trying=False))
    wire = Wire(uac, uas)
    uac.start(0.0)
    wire.transfer(0.0)
    assert [line for direction, line in wire.log if direction == "<"] == [
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
        "SIP/2.0 200 OK",
    ]
    assert uac.stats.calls_succeeded == uas.stats.calls_succeeded == 1


def test_messages_are_well_formed_dialog_requests() -> None:
    uac, uas = make_pair()
    uac.start(0.0)
    invite = parse_message(uac.datagrams_to_send()[0][0])
    assert isinstance(invite, Request)
    uas.receive(bytes(invite), UAC_ADDR, 0.0)
    answers = [parse_message(d) for d, _ in uas.datagrams_to_send()]
    trying, ringing, ok = answers
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.to is not None and ok.to.tag and ok.contacts
    assert isinstance(trying, Response) and trying.status == 100
    assert isinstance(ringing, Response) and (ringing.status, ringing.reason) == (180, "Ringing")
    assert ringing.to is not None and ringing.to.tag == ok.to.tag  # one early dialog
    uac.receive(bytes(ok), UAS_ADDR, 0.1)
    ack, bye = (parse_message(d) for d, _ in uac.datagrams_to_send())
    assert isinstance(ack, Request) and isinstance(bye, Request)
    for request in (ack, bye):
        assert request.call_id == invite.call_id
        assert request.to is not None and request.to.tag == ok.to.tag
        assert request.from_ is not None and invite.from_ is not None
        assert request.from_.tag == invite.from_.tag
        assert request.top_via is not None and invite.top_via is not None
        assert request.top_via.branch != invite.top_via.branch  # 2xx ACK: new transaction
    assert str(ack.cseq) == "1 ACK" and str(bye.cseq) == "2 BYE"


def test_record_route_becomes_the_route_set() -> None:
    proxy = ("127.0.0.1", 5060)
    uac = UacScenario(ScenarioConfig(UAC_ADDR, next_hop=proxy, target=TARGET), rate=1, calls=1)
    uac.start(0.0)
    invite = parse_message(uac.datagrams_to_send()[0][0])
    assert isinstance(invite, Request)
    ok = make_response(invite, 200, to_tag="abc")
    ok.headers.add("Record-Route", "<sip:127.0.0.2:5070;lr>")  # the proxy nearest the UAS
    ok.headers.add("Record-Route", "<sip:127.0.0.1:5060;lr>")
    ok.headers.add("Contact", "<sip:uas@127.0.0.1:50000>")
    uac.receive(bytes(ok), proxy, 0.0)
    sent = uac.datagrams_to_send()
    assert [dest for _, dest in sent] == [proxy, proxy]  # the first route (§12.2.1.1)
    bye = parse_message(sent[1][0])
    assert bye.headers.get_all("Route") == ["<sip:127.0.0.1:5060;lr>", "<sip:127.0.0.2:5070;lr>"]


def test_lost_200_is_retransmitted_by_the_uas() -> None:
    uac, uas = make_pair()
    lost: list[bytes] = []

    def drop(data: bytes, dest: tuple[str, int]) -> bool:
        if data.startswith(b"SIP/2.0 200") and b"INVITE" in data and not lost:
            lost.append(data)
            return True
        return False

    wire = Wire(uac, uas, drop)
    uac.start(0.0)
    wire.transfer(0.0)
    assert not uac.finished
    assert uas.get_timer() == 0.5  # Timer G = T1
    wire.run(until=1.0)
    assert uas.stats.retransmissions == 1
    assert uac.stats.calls_succeeded == 1 and uas.stats.calls_succeeded == 1
    assert uac.stats.latencies == [0.5]
    assert uac.stats.retransmissions == 0  # the 180 stopped INVITE retransmissions


def test_lost_ack_gets_the_200_again_and_the_ack_again() -> None:
    uac, uas = make_pair(hold=5.0)
    dropped: list[bytes] = []

    def drop(data: bytes, dest: tuple[str, int]) -> bool:
        if data.startswith(b"ACK") and not dropped:
            dropped.append(data)
            return True
        return False

    wire = Wire(uac, uas, drop)
    uac.start(0.0)
    wire.run(until=0.6)
    acks = [line for d, line in wire.log if line.startswith("ACK")]
    assert len(acks) == 2 and uas.stats.retransmissions == 1 and uac.stats.duplicates == 1
    wire.run(until=10.0)
    assert uac.stats.calls_succeeded == 1 and uas.stats.failures == {}


def test_invite_timeout_counts_a_failure_after_timer_b() -> None:
    uac, _ = make_pair()
    uac.start(0.0)
    sends = [0.0]
    uac.datagrams_to_send()
    timers = []
    while (t := uac.get_timer()) is not None and t < 100:
        timers.append(t)
        uac.handle_timer(t)
        sends.extend(t for _ in uac.datagrams_to_send())
    # Timer A doubles without a cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5; Timer B at 32.
    assert sends == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert timers[:7] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 32.0]
    assert uac.stats.failures == {"INVITE timeout": 1}
    assert uac.stats.retransmissions == 6 and uac.finished


def test_bye_retransmitted_with_t2_cap_then_timeout() -> None:
    uac, uas = make_pair(hold=2.0)
    wire = Wire(uac, uas, drop=lambda data, dest: data.startswith(b"BYE"))
    uac.start(0.0)
    wire.run(until=1.0)
    assert uac.get_timer() == 2.0  # the hold time, then BYE
    bye_times: list[float] = []
    now = 0.0
    while not uac.finished:
        now = min(t for t in (uac.get_timer(), uas.get_timer()) if t is not None)
        uac.handle_timer(now)
        uas.handle_timer(now)
        bye_times += [now for d, _ in uac.datagrams_to_send() if d.startswith(b"BYE")]
        uas.datagrams_to_send()
    # Timer E: 0.5, 1, 2, 4, 4, 4 … after the first BYE at t=2; Timer F at 2 + 32.
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(bye_times)]
    assert bye_times[0] == 2.0 and gaps[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert set(gaps[3:]) == {4.0}
    assert now == 34.0 and uac.stats.failures == {"BYE timeout": 1}
    assert uac.stats.calls_succeeded == 0
    uas.handle_timer(100.0)
    assert uas.stats.failures == {"BYE not received": 1}


def test_non_2xx_final_is_acked_with_the_invite_branch() -> None:
    uac, _ = make_pair()
    uac.start(0.0)
    invite = parse_message(uac.datagrams_to_send()[0][0])
    assert isinstance(invite, Request)
    busy = make_response(invite, 486, to_tag="t486")
    uac.receive(bytes(busy), UAS_ADDR, 0.2)
    ((data, dest),) = uac.datagrams_to_send()
    ack = parse_message(data)
    assert isinstance(ack, Request) and ack.method == "ACK" and dest == UAS_ADDR
    assert ack.top_via is not None and invite.top_via is not None
    assert ack.top_via.branch == invite.top_via.branch  # §17.1.1.3
    assert ack.uri == invite.uri and ack.to is not None and ack.to.tag == "t486"
    uac.receive(bytes(busy), UAS_ADDR, 0.3)  # the 486 again: the same ACK again
    assert uac.datagrams_to_send() == [(data, dest)]
    assert uac.stats.failures == {"INVITE 486": 1} and uac.finished


def test_calls_are_paced_not_burst() -> None:
    uac, uas = make_pair(calls=10, rate=100.0)
    uac.start(0.0)
    assert len(uac.datagrams_to_send()) == 1
    assert uac.get_timer() == pytest.approx(0.01)
    uac.handle_timer(0.05)  # late: the overdue calls start now
    assert len(uac.datagrams_to_send()) == 5
    wire = Wire(uac, uas)
    wire.run(until=1.0)
    assert uac.stats.calls_started == 10 and uac.stats.calls_succeeded == 10
    assert uac.stats.offered_rate == pytest.approx(100.0, rel=0.3)
    assert uas.stats.calls_succeeded == 10


def test_max_concurrent_holds_back_new_calls() -> None:
    config = ScenarioConfig(UAC_ADDR, next_hop=UAS_ADDR, target=TARGET, max_concurrent=2)
    uac = UacScenario(config, rate=1000.0, calls=5)
    uac.start(0.0)
    uac.handle_timer(0.4)  # before Timer A, all five are due; two may start
    assert len(uac.datagrams_to_send()) == 2 and uac.active_calls == 2
    assert uac.get_timer() == 0.5
    uas = UasScenario(ScenarioConfig(UAS_ADDR, target=TARGET))
    Wire(uac, uas).run(until=5.0)
    assert uac.stats.calls_succeeded == 5


def test_uas_answers_unknown_requests() -> None:
    uas = UasScenario(ScenarioConfig(UAS_ADDR, target=TARGET))
    headers = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKx1"),
        ("From", "<sip:a@127.0.0.1>;tag=1"),
        ("To", "<sip:uas@127.0.0.1>;tag=2"),
        ("Call-ID", "nope"),
        ("Max-Forwards", "70"),
    ]
    uas.receive(bytes(Request("BYE", TARGET, [*headers, ("CSeq", "2 BYE")])), UAC_ADDR, 0.0)
    uas.receive(bytes(Request("OPTIONS", TARGET, [*headers, ("CSeq", "3 OPTIONS")])), UAC_ADDR, 0)
    uas.receive(bytes(Request("ACK", TARGET, [*headers, ("CSeq", "1 ACK")])), UAC_ADDR, 0.0)
    statuses = [parse_message(d) for d, _ in uas.datagrams_to_send()]
    assert [r.status for r in statuses if isinstance(r, Response)] == [481, 501]
    # An ACK for no call is a wrong answer too: counted, never answered (§17.1.1.3).
    assert uas.stats.unexpected == 3 and uas.stats.duplicates == 0


def test_config_errors_are_typed() -> None:
    with pytest.raises(LocalProtocolError):
        ScenarioConfig(UAC_ADDR, t1=0.0)
    with pytest.raises(LocalProtocolError):
        ScenarioConfig(UAC_ADDR, target="not a uri")
    with pytest.raises(LocalProtocolError):
        ScenarioConfig(UAC_ADDR, target="tel:+15551234")
    with pytest.raises(LocalProtocolError):
        UacScenario(ScenarioConfig(UAC_ADDR), rate=10, calls=1)  # no next hop
    with pytest.raises(LocalProtocolError):
        UacScenario(ScenarioConfig(UAC_ADDR, next_hop=UAS_ADDR), rate=0, calls=1)
    uac, _ = make_pair()
    uac.start(0.0)
    with pytest.raises(LocalProtocolError):
        uac.start(1.0)


def _valid_messages() -> list[bytes]:
    uac, uas = make_pair()
    wire = Wire(uac, uas)
    uac.start(0.0)
    captured: list[bytes] = []
    for data, _ in uac.datagrams_to_send():
        captured.append(data)
        uas.receive(data, UAC_ADDR, 0.0)
    captured += [d for d, _ in uas.datagrams_to_send()]
    del wire
    return captured


VALID = _valid_messages()


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.one_of(
        st.binary(max_size=600),
        st.tuples(st.sampled_from(VALID), st.integers(0, 700), st.binary(max_size=8)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
        ),
    )
)
def test_any_bytes_are_counted_never_raised(data: bytes) -> None:
    """Whatever arrives, both engines count it (malformed, unexpected, a
    duplicate or a step of a call) and raise nothing."""
    uac, uas = make_pair()
    uac.start(0.0)
    uac.datagrams_to_send()
    for engine in (uac, uas):
        before = _seen(engine.stats)
        engine.receive(data, ("127.0.0.1", 1), 0.1)
        engine.handle_timer(100.0)
        assert _seen(engine.stats) >= before
        engine.datagrams_to_send()


def _seen(stats: LoadStats) -> int:
    return stats.malformed + stats.unexpected + stats.duplicates + stats.calls_started


# -- wrong answers: counted as failures, never as a successful call ---------------------
def _strip_to_tag(data: bytes) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = [
        line.split(b";tag=")[0] if line.lower().startswith(b"to:") else line
        for line in head.split(b"\r\n")
    ]
    return b"\r\n".join(lines) + sep + body


def _drop_line(name: bytes) -> Callable[[bytes], bytes]:
    def drop(data: bytes) -> bytes:
        head, sep, body = data.partition(b"\r\n\r\n")
        kept = [line for line in head.split(b"\r\n") if not line.lower().startswith(name)]
        return b"\r\n".join(kept) + sep + body

    return drop


def _replace_value(name: bytes, value: bytes) -> Callable[[bytes], bytes]:
    def replace(data: bytes) -> bytes:
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = [
            name + b" " + value if line.lower().startswith(name) else line
            for line in head.split(b"\r\n")
        ]
        return b"\r\n".join(lines) + sep + body

    return replace


def _forge_branch(data: bytes) -> bytes:
    return data.replace(b"branch=z9hG4bK", b"branch=z9hG4bKforged", 1)


# Which datagram is corrupted (its first line and CSeq method), and how.
TARGETS = {
    "200 to INVITE": (b"SIP/2.0 200", b"INVITE"),
    "200 to BYE": (b"SIP/2.0 200", b"BYE"),
    "ACK": (b"ACK ", b"ACK"),
    "BYE": (b"BYE ", b"BYE"),
}
WRONG: dict[str, Callable[[bytes], bytes]] = {
    "unknown Call-ID": _replace_value(b"call-id:", b"not-a-call-of-ours"),
    "no To tag": _strip_to_tag,
    "foreign To tag": lambda d: d.replace(b";tag=", b";tag=forged", 2)[::-1].replace(
        b"degrof=gat;", b";tag=", 1
    )[::-1],
    "forged branch": _forge_branch,
    "CSeq method": lambda d: d.replace(b" INVITE\r\n", b" OPTIONS\r\n").replace(
        b"2 BYE\r\n", b"2 OPTIONS\r\n"
    ),
    "no Contact": _drop_line(b"contact:"),
    "error status": lambda d: d.replace(b"SIP/2.0 200 OK", b"SIP/2.0 503 Service Unavailable"),
    "truncated": lambda d: d[: len(d) // 2],
}


def _is_target(data: bytes, target: str) -> bool:
    start, method = TARGETS[target]
    return data.startswith(start) and f" {method.decode()}\r\n".encode() in data


@settings(max_examples=min(EXAMPLES, 300), deadline=None)
@given(st.sampled_from(sorted(TARGETS)), st.sampled_from(sorted(WRONG)))
def test_wrong_answers_are_failures_not_successes(target: str, wrong: str) -> None:
    """Every copy of one datagram of the call (retransmissions included) is
    replaced by a wrong one; whichever side it reaches counts it (unexpected,
    malformed or a failure) and the call is never counted successful on the
    side that depended on it."""
    uac, uas = make_pair()
    mutate = WRONG[wrong]
    changed: list[bytes] = []

    class Corrupting(Wire):
        def transfer(self, now: float) -> None:
            for source, sink, addr in ((uac, uas, UAC_ADDR), (uas, uac, UAS_ADDR)):
                for data, _ in source.datagrams_to_send():
                    if _is_target(data, target):
                        new = mutate(data)
                        if new != data:
                            changed.append(new)
                            data = new
                    sink.receive(data, addr, now)

        def run(self, until: float) -> float:
            now = 0.0
            for _ in range(10_000):
                self.transfer(now)
                timers = [t for t in (uac.get_timer(), uas.get_timer()) if t is not None]
                if not timers or min(timers) > until:
                    break
                now = max(now, min(timers))
                uac.handle_timer(now)
                uas.handle_timer(now)
            return now

    uac.start(0.0)
    Corrupting(uac, uas).run(until=1000.0)
    if not changed:
        return  # this mutation does not apply to this datagram (e.g. no Contact in an ACK)
    if wrong == "forged branch" and target in ("ACK", "BYE"):
        return  # a request's branch is its sender's choice: nothing wrong to count
    counted = sum(e.stats.unexpected + e.stats.malformed + e.stats.calls_failed for e in (uac, uas))
    assert counted >= 1
    assert uac.stats.calls_started == 1 and uac.finished and uas.finished
    if target != "ACK":  # a lost ACK is made good by the BYE (§13.3.1.4 ends at it)
        assert uac.stats.calls_succeeded == 0 and uac.stats.calls_failed == 1


def test_retransmitted_invite_gets_the_last_response_again() -> None:
    """§17.2.1: the UAS answers a retransmitted INVITE with its last response."""
    uac, uas = make_pair()
    uac.start(0.0)
    ((invite, _),) = uac.datagrams_to_send()
    uas.receive(invite, UAC_ADDR, 0.0)
    first = uas.datagrams_to_send()
    uas.receive(invite, UAC_ADDR, 0.4)  # the UAC's Timer A copy
    assert uas.datagrams_to_send() == [first[-1]] and uas.stats.duplicates == 1
    assert uas.stats.calls_started == 1


def test_a_second_dialogs_2xx_is_unexpected() -> None:
    """A 2xx with another To tag than the one answered (a fork): counted, not ACKed."""
    uac, uas = make_pair(hold=5.0)
    uac.start(0.0)
    ((invite, _),) = uac.datagrams_to_send()
    uas.receive(invite, UAC_ADDR, 0.0)
    ok = uas.datagrams_to_send()[-1][0]
    uac.receive(ok, UAS_ADDR, 0.0)
    assert [d[:3] for d, _ in uac.datagrams_to_send()] == [b"ACK"]
    parsed = parse_message(ok)
    assert parsed.to is not None and parsed.to.tag
    other = ok.replace(b";tag=" + parsed.to.tag.encode(), b";tag=another-dialog")
    uac.receive(other, UAS_ADDR, 0.1)
    assert uac.stats.unexpected == 1 and uac.datagrams_to_send() == []
    uac.receive(ok, UAS_ADDR, 0.2)  # the answered dialog's 2xx again: the ACK again
    assert [d[:3] for d, _ in uac.datagrams_to_send()] == [b"ACK"]
    assert uac.stats.duplicates == 1


def test_a_2xx_with_a_non_sip_contact_fails_the_call() -> None:
    uac, _ = make_pair()
    uac.start(0.0)
    invite = parse_message(uac.datagrams_to_send()[0][0])
    assert isinstance(invite, Request)
    ok = make_response(invite, 200, to_tag="t")
    ok.headers.add("Contact", "<tel:+15551234>")
    uac.receive(bytes(ok), UAS_ADDR, 0.1)
    assert uac.stats.failures == {"INVITE 2xx with a non-SIP Contact or route": 1}


def test_each_calls_route_set_is_followed() -> None:
    """The next hop of ACK and BYE comes from each 2xx's own route set, also
    when the route URIs differ only by parameters (a proxy's ``ftag``) or
    when a later call's route points elsewhere (the hop cache keys on host:port)."""
    proxy = ("127.0.0.1", 5060)
    config = ScenarioConfig(UAC_ADDR, next_hop=proxy, target=TARGET)
    uac = UacScenario(config, rate=1000.0, calls=3)
    uac.start(0.0)
    uac.handle_timer(0.01)
    invites = [parse_message(d) for d, _ in uac.datagrams_to_send()]
    routes = [
        "<sip:127.0.0.1:5060;lr;ftag=a1>",
        "<sip:127.0.0.1:5060;lr;ftag=b2>",
        "<sip:127.0.0.3:5080;lr;ftag=a1>",
    ]
    for invite, route in zip(invites, routes, strict=True):
        assert isinstance(invite, Request)
        ok = make_response(invite, 200, to_tag="t")
        ok.headers.add("Record-Route", route)
        ok.headers.add("Contact", "<sip:uas@127.0.0.1:50000>")
        uac.receive(bytes(ok), proxy, 0.02)
    sent = uac.datagrams_to_send()
    assert [dest for _, dest in sent] == [proxy] * 4 + [("127.0.0.3", 5080)] * 2
