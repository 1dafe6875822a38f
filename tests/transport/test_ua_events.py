"""UaPump (sipsec.transport.ua_events): every UA event goes to whoever
asked — a call's queue, the OPTIONS's future (by Call-ID), the
registration queue — and an AuthenticationFailed goes with the event the
UA core reports beside it, so an OPTIONS or a call never disturbs a
registration waiter. Fed through a real UserAgent's event list."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.sip import Request, parse_uri
from sipsec.transport.ua_events import UaPump
from sipsec.ua import (
    AuthenticationFailed,
    Call,
    CallFailed,
    CallState,
    IncomingCall,
    OptionsAnswered,
    Registered,
    RegistrationFailed,
    UaConfig,
    UaEvent,
    UserAgent,
)

ALICE = "sip:alice@atlanta.example"
REQUEST = Request("INVITE", parse_uri("sip:bob@biloxi.example"))


def make_pump() -> UaPump:
    return UaPump(UserAgent(UaConfig(ALICE)))


def feed(pump: UaPump, *events: UaEvent) -> None:
    for event in events:
        pump.ua._emit(event)
    pump.drain()


def options_answered(call_id: str, status: int = 200) -> OptionsAnswered:
    return OptionsAnswered(call_id, "sip:bob@biloxi.example", status, "x", [], [], [], None)


def queued(queue: asyncio.Queue[UaEvent]) -> list[UaEvent]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


def a_call(n: int) -> Call:
    return Call(f"call-{n}", "tag", REQUEST, incoming=False, state=CallState.CALLING)


async def test_an_options_answer_reaches_its_asker_only() -> None:
    pump = make_pump()
    mine = pump.expect_options("q1")
    feed(pump, options_answered("q2"), options_answered("q1", 404))
    assert mine.done() and mine.result().status == 404
    assert pump.registration.empty() and pump.unclaimed == 1
    feed(pump, options_answered("q1"))  # a second answer: nobody waits any more
    assert pump.unclaimed == 2 and pump.registration.empty()


async def test_an_options_auth_failure_stays_with_the_options() -> None:
    pump = make_pump()
    mine = pump.expect_options("q1")
    feed(pump, AuthenticationFailed(407, "atlanta.example"), options_answered("q1", 407))
    assert mine.result().status == 407
    assert pump.registration.empty()


async def test_a_registrations_auth_failure_reaches_the_registration_waiter() -> None:
    pump = make_pump()
    auth, failed = AuthenticationFailed(401, "atlanta.example"), RegistrationFailed(401, "x")
    feed(pump, auth, failed)
    assert queued(pump.registration) == [auth, failed]
    lone = AuthenticationFailed(401, None)
    feed(pump, lone)  # nothing beside it: where it always went
    assert queued(pump.registration) == [lone]


async def test_a_calls_auth_failure_goes_to_the_call() -> None:
    pump = make_pump()
    call, stray = a_call(1), a_call(2)
    queue = pump.follow(call)
    auth, failed = AuthenticationFailed(407, "atlanta.example"), CallFailed(call, 407, "x")
    feed(pump, auth, failed)
    assert queued(queue) == [auth, failed] and pump.registration.empty()
    feed(pump, AuthenticationFailed(407, None), CallFailed(stray, 407, "x"))
    assert pump.registration.empty()  # a call nobody follows: dropped, not misrouted


async def test_forgetting_an_options_cancels_its_future() -> None:
    pump = make_pump()
    mine = pump.expect_options("q1")
    assert pump.expect_options("q1") is mine
    pump.forget_options("q1")
    assert mine.cancelled()
    feed(pump, options_answered("q1"))
    assert pump.unclaimed == 1 and pump.registration.empty()


ROUTED = {"examples": 0}
# One step of what a UA core may report: (kind, n); n picks a call or a query.
STEP = st.tuples(
    st.sampled_from(["auth", "registered", "options", "call", "incoming"]), st.integers(0, 2)
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(STEP, max_size=4), max_size=6))
def test_every_event_reaches_the_one_who_asked(batches: list[list[tuple[str, int]]]) -> None:
    # Batches of events, each drained at once: whatever the mix, the
    # registration queue holds exactly the registration events and the
    # AuthenticationFailed right before one (or with none after it), each
    # query its own answer, each followed call its own events.
    ROUTED["examples"] += 1

    async def run() -> None:
        pump = make_pump()
        calls = [a_call(n) for n in range(3)]
        queues = [pump.follow(c) for c in calls[:2]]  # call 2: nobody follows it
        asked = [pump.expect_options(f"q{n}") for n in range(2)]  # q2: nobody asked
        want_registration: list[UaEvent] = []
        want_calls: list[list[UaEvent]] = [[], []]
        answers: dict[int, OptionsAnswered] = {}
        for batch in batches:
            made: list[UaEvent] = []
            for kind, n in batch:
                if kind == "auth":
                    made.append(AuthenticationFailed(401, f"realm{n}"))
                elif kind == "registered":
                    made.append(Registered([f"<sip:{n}@x>"], 60))
                elif kind == "options":
                    made.append(options_answered(f"q{n}"))
                elif kind == "call":
                    made.append(CallFailed(calls[n], 486, "busy"))
                else:
                    made.append(IncomingCall(calls[n], REQUEST))
            for i, event in enumerate(made):
                follower = made[i + 1] if i + 1 < len(made) else None
                owner = follower if isinstance(event, AuthenticationFailed) else event
                if isinstance(event, AuthenticationFailed) and (
                    follower is None or isinstance(follower, AuthenticationFailed)
                ):
                    owner = None  # nobody's beside it: registration, as always
                if owner is None or isinstance(owner, Registered):
                    want_registration.append(event)
                elif isinstance(owner, CallFailed) and owner.call in calls[:2]:
                    want_calls[calls.index(owner.call)].append(event)
                elif isinstance(owner, OptionsAnswered) and not isinstance(
                    event, AuthenticationFailed
                ):
                    answers.setdefault(int(owner.call_id[1:]), owner)
            feed(pump, *made)
        assert queued(pump.registration) == want_registration
        assert [queued(q) for q in queues] == want_calls
        for n, future in enumerate(asked):
            assert (future.result() if future.done() else None) is answers.get(n)

    asyncio.run(run())
