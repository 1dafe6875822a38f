"""Transactions per second through the sans-IO transaction engine, no sockets
(issue 5, "Speed": the sans-IO half).

Alice's and Bob's :class:`~sipsec.transaction.TransactionLayer` are pumped in
memory with a fake clock. One *transaction* here is a whole exchange, client
and server side both, run until both are terminated and forgotten:

- INVITE: INVITE → 100 (automatic) → 180 → 200, the 2xx ACK sent end to end,
  then Timers M and L fire (RFC 6026);
- non-INVITE: OPTIONS → 200, then Timers K and J fire.

Two wiring modes: ``wire`` serializes every message and parses it again on
the other side (what a real transport costs), ``objects`` hands the message
objects across (the engine alone). Requests are built before the clock
starts; the UAS's ``make_response`` calls are inside it. Printed: exchanges
per second and CPU time (``time.process_time``) per exchange, best of
several rounds on one core.

Run: ``.venv/bin/python bench/bench_transaction.py [--count N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from sipsec.sip import Request, generate_branch, make_response, parse_message
from sipsec.transaction import RequestReceived, TransactionLayer

ALICE = ("192.0.2.1", 5060)
BOB = ("192.0.2.2", 5060)


def build(method: str, n: int) -> Request:
    headers = [
        ("Via", f"SIP/2.0/UDP pc33.atlanta.example;branch={generate_branch()}"),
        ("Max-Forwards", "70"),
        ("To", "Bob <sip:bob@biloxi.example>"),
        ("From", "Alice <sip:alice@atlanta.example>;tag=1928301774"),
        ("Call-ID", f"a84b4c76e66710-{n}@pc33.atlanta.example"),
        ("CSeq", f"{n + 1} {method}"),
        ("Contact", "<sip:alice@pc33.atlanta.example>"),
        ("Content-Length", "0"),
    ]
    return Request(method, "sip:bob@biloxi.example", headers)


def carry_wire(
    layer: TransactionLayer, other: TransactionLayer, source: tuple[str, int], now: float
) -> int:
    sent = 0
    for data, _ in layer.datagrams_to_send():
        message = parse_message(data)
        other.receive(message, source, now)
        sent += 1
    return sent


def carry_objects(
    layer: TransactionLayer, other: TransactionLayer, source: tuple[str, int], now: float
) -> int:
    sent = 0
    for item in layer.messages_to_send():
        other.receive(item.message, source, now)
        sent += 1
    return sent


def run(method: str, requests: list[Request], carry: Callable[..., int]) -> tuple[float, int]:
    """Run every exchange to the end; returns (CPU seconds, messages carried)."""
    client, server = TransactionLayer(), TransactionLayer()
    now = 0.0
    carried = 0
    start = time.process_time()
    for request in requests:
        client.send_request(request, BOB, now)
        carried += carry(client, server, ALICE, now)
        event = server.next_event()
        assert isinstance(event, RequestReceived) and event.transaction_id is not None
        sid, received = event.transaction_id, event.request
        if method == "INVITE":
            carried += carry(server, client, BOB, now)  # the automatic 100 Trying
            server.send_response(sid, make_response(received, 180, to_tag="8321234356"), now)
            carried += carry(server, client, BOB, now)
        final = make_response(received, 200, to_tag="8321234356")
        server.send_response(sid, final, now)
        carried += carry(server, client, BOB, now)
        while client.next_event() is not None:
            pass
        if method == "INVITE":  # the ACK for the 2xx goes end to end (§13.2.2.4)
            ack = Request("ACK", request.uri, [("Via", "SIP/2.0/UDP pc33.atlanta.example")])
            client.send_stateless(ack, BOB)
            client.messages_to_send()
        now += 0.001
    # Let Timers M/L (INVITE) or K/J (non-INVITE) end every transaction.
    for layer in (client, server):
        deadline = layer.get_timer()
        while deadline is not None:
            layer.handle_timer(deadline)
            deadline = layer.get_timer()
        while layer.next_event() is not None:
            pass
    elapsed = time.process_time() - start
    assert len(client) == 0 and len(server) == 0
    return elapsed, carried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000, help="exchanges per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is kept")
    args = parser.parse_args()
    print(f"{args.count} exchanges per round, best of {args.rounds}, one core\n")
    for method in ("INVITE", "OPTIONS"):
        for label, carry in (("wire", carry_wire), ("objects", carry_objects)):
            best = float("inf")
            carried = 0
            for _ in range(args.rounds):
                requests = [build(method, n) for n in range(args.count)]
                gc.collect()
                elapsed, carried = run(method, requests, carry)
                best = min(best, elapsed)
            rate = args.count / best
            per = best / args.count * 1e6
            print(
                f"  {method:7s} {label:7s} {rate:>9,.0f} exchanges/s"
                f"   {per:6.1f} µs CPU per exchange"
                f"   ({carried // args.count} messages carried each)"
            )


if __name__ == "__main__":
    main()
