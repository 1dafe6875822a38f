"""OPTIONS transactions per second over loopback UDP through two
SipEndpoints with the real TransactionLayer (issue 5, "Speed": the socket
half), printed beside the no-socket figure of ``bench_transaction.py``.

Alice's endpoint keeps ``--window`` OPTIONS transactions in flight to Bob's;
Bob's TU answers each with 200. One *transaction* is one OPTIONS → 200
exchange completed at Alice (the Timer K/J tails are left running; they
cost nothing until they fire). Both endpoints share one process and one
event loop, so the CPU time per transaction (``time.process_time``) covers
the client and the server side, parsing, serializing, the transaction
layer, the endpoint pump and the socket calls.

Run: ``.venv/bin/python bench/bench_transport.py [--count N] [--window W] [--rounds R]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

from sipsec.sip import Request, SipUri, generate_branch, make_response
from sipsec.transaction import Event, Peer, RequestReceived, ResponseReceived, TransactionLayer
from sipsec.transport.endpoint import SipEndpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_transaction  # the no-socket half, same directory


class Tu:
    """Answers requests with 200; counts final responses; keeps a window full."""

    def __init__(self) -> None:
        self.layer = TransactionLayer()
        self.done = 0
        self.on_final: asyncio.Event | None = None

    def handle_event(self, event: Event, now: float) -> None:
        if isinstance(event, RequestReceived) and event.transaction_id is not None:
            self.layer.send_response(event.transaction_id, make_response(event.request, 200), now)
        elif isinstance(event, ResponseReceived) and event.response.status >= 200:
            self.done += 1
            if self.on_final is not None:
                self.on_final.set()

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass

    def resolutions_needed(self) -> list[tuple[int, SipUri]]:
        return []

    def handle_resolution(self, token: int, peers: list[Peer], now: float) -> None:
        pass


def options(via: Peer, n: int) -> Request:
    headers = [
        ("Via", f"SIP/2.0/UDP {via.host}:{via.port};branch={generate_branch()};rport"),
        ("Max-Forwards", "70"),
        ("To", "<sip:bob@biloxi.example>"),
        ("From", "<sip:alice@atlanta.example>;tag=bench"),
        ("Call-ID", f"bench-{n}@atlanta.example"),
        ("CSeq", f"{n + 1} OPTIONS"),
        ("Content-Length", "0"),
    ]
    return Request("OPTIONS", "sip:bob@biloxi.example", headers)


async def one_round(count: int, window: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, UDP datagrams sent) for ``count`` transactions."""
    alice, bob = SipEndpoint(), SipEndpoint()
    try:
        la = await alice.listen("udp", "127.0.0.1")
        lb = await bob.listen("udp", "127.0.0.1")
        ta, tb = Tu(), Tu()
        alice.attach(ta)
        bob.attach(tb)
        requests = [options(la, n) for n in range(count)]
        ta.on_final = wake = asyncio.Event()
        gc.collect()
        sent = 0
        wall, cpu = time.perf_counter(), time.process_time()
        while ta.done < count:
            while sent < count and sent - ta.done < window:
                ta.layer.send_request(requests[sent], lb, alice.now())
                sent += 1
            alice.poke()
            wake.clear()
            await wake.wait()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        datagrams = alice.transport.stats["udp_out"] + bob.transport.stats["udp_out"]
        return wall, cpu, datagrams
    finally:
        await alice.close()
        await bob.close()


def no_socket_rate(count: int, rounds: int) -> tuple[float, float]:
    best = float("inf")
    for _ in range(rounds):
        requests = [bench_transaction.build("OPTIONS", n) for n in range(count)]
        gc.collect()
        elapsed, _ = bench_transaction.run("OPTIONS", requests, bench_transaction.carry_wire)
        best = min(best, elapsed)
    return count / best, best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000, help="transactions per round")
    parser.add_argument("--window", type=int, default=64, help="transactions in flight")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is kept")
    args = parser.parse_args()
    print(f"{args.count} OPTIONS transactions per round, best of {args.rounds}, one process\n")
    rate, per = no_socket_rate(args.count, args.rounds)
    print(
        f"  sans-IO, no sockets (bench_transaction, wire) {rate:>9,.0f} tx/s   {per:6.1f} µs CPU/tx"
    )
    best: tuple[float, float, int] | None = None
    for _ in range(args.rounds):
        result = asyncio.run(one_round(args.count, args.window))
        if best is None or result[0] < best[0]:
            best = result
    assert best is not None
    wall, cpu, datagrams = best
    print(
        f"  loopback UDP, 2 SipEndpoints, window {args.window:<3d}  {args.count / wall:>9,.0f} tx/s"
        f"   {cpu / args.count * 1e6:6.1f} µs CPU/tx   ({datagrams / args.count:.1f} datagrams/tx)"
    )
    print(f"\n  sockets and asyncio cost {(cpu / args.count * 1e6) / per:.1f}x the sans-IO engine")


if __name__ == "__main__":
    main()
