"""Hypothesis over whole conversations: Alice's and Bob's layers, requests
and responses of every kind, datagrams dropped, delivered or duplicated in
any order, timers, transport errors, CANCELs and damaged messages.

Only the documented errors may escape: LocalProtocolError when the TU asks
for something its transaction's state forbids, RemoteProtocolError for a
message without what matching needs. Afterwards no transaction outlives its
timers except those waiting on their TU (figures 5–8 give them no timer)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sipsec.errors import LocalProtocolError, RemoteProtocolError
from sipsec.sip import Request, make_response, parse_message
from sipsec.transaction import (
    CancelReceived,
    Event,
    Kind,
    RequestReceived,
    State,
    TransactionLayer,
    TransactionTerminated,
)

IDX = st.integers(0, 15)
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"),
            st.sampled_from(["INVITE", "OPTIONS", "BYE"]),
            st.sampled_from(["UDP", "TCP"]),
        ),
        st.tuples(st.just("deliver"), IDX, st.sampled_from(["drop", "once", "twice"])),
        st.tuples(st.just("deliver"), IDX, st.sampled_from(["drop", "once", "twice"])),
        st.tuples(st.just("pump"), st.sampled_from(["once", "twice"])),
        st.tuples(
            st.just("respond"), IDX, st.sampled_from([100, 180, 200, 202, 404, 486, 487, 603])
        ),
        st.tuples(st.just("respond"), IDX, st.sampled_from([180, 200, 486])),
        st.tuples(st.just("cancel"), IDX),
        st.tuples(st.just("tick"), st.sampled_from([0.1, 0.5, 1.0, 4.0, 33.0])),
        st.tuples(st.just("error"), st.sampled_from(["client", "server"]), IDX),
        st.tuples(
            st.just("garble"), IDX, st.sampled_from(["Via", "CSeq", "Call-ID", "From", "To"])
        ),
    ),
    min_size=10,
    max_size=50,
)

# Where a transaction may wait forever: on its TU (no timer in the figure).
WAITING_ON_TU = {
    (Kind.INVITE_CLIENT, State.PROCEEDING),
    (Kind.INVITE_SERVER, State.PROCEEDING),
    (Kind.NON_INVITE_SERVER, State.TRYING),
    (Kind.NON_INVITE_SERVER, State.PROCEEDING),
}


class World:
    def __init__(self, kit: Any) -> None:
        self.kit = kit
        self.now = 0.0
        self.layers = {"client": TransactionLayer(), "server": TransactionLayer()}
        self.flight: list[tuple[str, bytes]] = []  # (receiving side, datagram)
        self.ids: dict[str, list[int]] = {"client": [], "server": []}
        self.requests: dict[int, Request] = {}
        self.terminated: dict[str, set[int]] = {"client": set(), "server": set()}
        self.cseq = 0

    def collect(self) -> None:
        for side, layer in self.layers.items():
            other = "server" if side == "client" else "client"
            for item in layer.messages_to_send():
                self.flight.append((other, bytes(item.message)))
            while (event := layer.next_event()) is not None:
                self.check(side, event)

    def check(self, side: str, event: Event) -> None:
        tid = event.transaction_id
        assert tid is None or tid not in self.terminated[side], f"event after termination: {event}"
        if isinstance(event, TransactionTerminated):
            self.terminated[side].add(event.transaction_id)
        elif (
            isinstance(event, (RequestReceived, CancelReceived))
            and tid is not None
            and tid not in self.requests
        ):
            self.requests[tid] = event.request
            self.ids["server"].append(tid)

    def pick(self, side: str, i: int) -> int | None:
        ids = self.ids[side]
        return ids[i % len(ids)] if ids else None

    def receive(self, side: str, data: bytes, source: Any) -> None:
        """Deliver one datagram. Only a message that lacks a header matching
        needs (an answer to a request the "garble" step damaged) may fail."""
        message = parse_message(data)
        try:
            self.layers[side].receive(message, source, self.now)
        except RemoteProtocolError:
            assert any(
                name not in message.headers for name in ("Via", "CSeq", "To", "From", "Call-ID")
            )

    def step(self, op: tuple[Any, ...]) -> None:
        client, server = self.layers["client"], self.layers["server"]
        kind = op[0]
        if kind == "send":
            self.cseq += 1
            request = self.kit.make_request(op[1], transport=op[2], cseq=self.cseq)
            self.ids["client"].append(client.send_request(request, self.kit.BOB, self.now))
        elif kind == "deliver" and self.flight:
            side, data = self.flight.pop(op[1] % len(self.flight))
            source = self.kit.ALICE if side == "server" else self.kit.BOB
            for _ in range({"drop": 0, "once": 1, "twice": 2}[op[2]]):
                self.receive(side, data, source)
        elif kind == "pump":
            for _ in range(3):
                flight, self.flight = self.flight, []
                for side, data in flight:
                    source = self.kit.ALICE if side == "server" else self.kit.BOB
                    for _ in range(1 if op[1] == "once" else 2):
                        self.receive(side, data, source)
                self.collect()
        elif kind == "respond":
            tid = self.pick("server", op[1])
            if tid is not None:
                response = make_response(self.requests[tid], op[2], to_tag=f"t{tid}")
                try:
                    server.send_response(tid, response, self.now)
                except LocalProtocolError:
                    state = server.state_of(tid)
                    assert state is None or state in (
                        State.COMPLETED,
                        State.CONFIRMED,
                        State.ACCEPTED,
                    )
        elif kind == "cancel":
            tid = self.pick("client", op[1])
            if tid is not None:
                try:
                    cid = client.cancel(tid, self.now)
                except LocalProtocolError:
                    assert client._by_id[tid].kind is Kind.NON_INVITE_CLIENT
                else:
                    if cid is not None and cid not in self.ids["client"]:
                        self.ids["client"].append(cid)
        elif kind == "tick":
            until = self.now + op[1]
            while True:
                deadlines = [t for t in (client.get_timer(), server.get_timer()) if t is not None]
                if not deadlines or min(deadlines) > until:
                    break
                self.now = min(deadlines)
                client.handle_timer(self.now)
                server.handle_timer(self.now)
                self.collect()
            self.now = until
        elif kind == "error":
            tid = self.pick(op[1], op[2])
            self.layers[op[1]].handle_transport_error(tid, self.now)
        elif kind == "garble" and self.flight:
            side, data = self.flight[op[1] % len(self.flight)]
            message = parse_message(data)
            message.headers.remove(op[2])
            try:
                self.layers[side].receive(message, self.kit.ALICE, self.now)
            except RemoteProtocolError:
                pass
        self.collect()


@settings(max_examples=600, deadline=None)
@given(ops=OPS)
def test_conversations(kit: Any, ops: list[tuple[Any, ...]]) -> None:
    world = World(kit)
    for op in ops:
        world.step(op)
    world.flight.clear()
    world.step(("tick", 1000.0))
    for layer in world.layers.values():
        assert layer.get_timer() is None
        for txn in layer._by_id.values():
            assert (txn.kind, txn.state) in WAITING_ON_TU
        assert len(layer._clients) + len(layer._servers) >= len(layer)
