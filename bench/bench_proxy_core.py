"""CPU per call through the sans-IO proxy path, no sockets (issue 7, "Speed").

One *call* is INVITE–100–180–200–ACK–BYE–200 relayed through
:class:`~sipsec.proxy.ProxyCore` over its :class:`~sipsec.transaction.TransactionLayer`,
record-routing, no authentication — what ``sipsec load --proxy`` drives through
``sipsec proxy --no-auth``. The proxy side does what its asyncio driver
(:class:`~sipsec.transport.endpoint.SipEndpoint` and
:class:`~sipsec.transport.sip.SipTransport`) does per datagram: parse the bytes,
stamp the top Via (§18.2.1, RFC 3581), ``layer.receive``, hand every event to
the core, resolve the next hops statically, serialize each message to send,
re-read the timers. Those steps, and only those, are timed
(``time.process_time`` summed around them); the fake UAC and UAS (built from
byte templates, as the load generator does) are not. Timers then fire on a
fake clock so every transaction ends and is forgotten, inside the timed part.

With the fast relay (:class:`~sipsec.proxy.relay.FastRelay`, on by default in
``sipsec proxy``) each datagram goes to the relay first, as ``run_proxy`` wires
it; the relay takes the whole call, and the full path is never entered. Both
paths are measured and the ratio printed.

Printed: proxy CPU per call (µs), calls per proxy CPU-second, best of several
rounds. ``--profile`` runs one round under cProfile, switched on only around the
timed steps (the fake UAC and UAS stay out of it), and prints the top entries.

Run: ``.venv/bin/python bench/bench_proxy_core.py [--calls N] [--rounds R] [--profile]
[--only full|relay]``
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import re
import time

from sipsec.proxy import MemoryCredentialStore, ProxyConfig, ProxyCore
from sipsec.proxy.location_memory import MemoryLocationStore
from sipsec.proxy.relay import FastRelay
from sipsec.sip import Request, Response, generate_branch, generate_call_id, parse_message
from sipsec.transaction import Peer, TransactionLayer
from sipsec.transport.routing import stamp_via

PROXY = ("127.0.0.1", 5060)
UAC = ("127.0.0.1", 5070)
UAS = ("127.0.0.1", 5080)

INVITE = (
    "INVITE sip:{callee}@127.0.0.1:5080 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:{caller}@127.0.0.1:5070>;tag={tag}\r\n"
    "To: <sip:{callee}@127.0.0.1:5080>\r\n"
    "Call-ID: {call_id}\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:{caller}@127.0.0.1:5070>\r\n"
    "Content-Length: 0\r\n\r\n"
)
IN_DIALOG = (
    "{method} sip:{callee}@127.0.0.1:5080 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:{caller}@127.0.0.1:5070>;tag={tag}\r\n"
    "To: {to}\r\n"
    "Call-ID: {call_id}\r\n"
    "{routes}"
    "CSeq: {cseq}\r\n"
    "Content-Length: 0\r\n\r\n"
)
_HEADER = re.compile(rb"^(Via|From|To|Call-ID|CSeq|Record-Route): (.*)$", re.M)


def answer(request: bytes, status: int, reason: str, to_tag: str | None) -> bytes:
    """A response to ``request`` as a UAS writes it (§8.2.6.2), from its bytes."""
    lines = [f"SIP/2.0 {status} {reason}"]
    for match in _HEADER.finditer(request):
        name, value = match.group(1).decode(), match.group(2).decode().rstrip("\r")
        if name == "To" and to_tag is not None and ";tag=" not in value:
            value += f";tag={to_tag}"
        lines.append(f"{name}: {value}")
    if status == 200 and to_tag is not None:
        lines.append("Contact: <sip:uas@127.0.0.1:5080>")
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


class Harness:
    """The proxy core and its layer, driven as SipEndpoint drives them."""

    def __init__(self, relay: bool = False) -> None:
        config = ProxyConfig("bench.example", local={"udp": PROXY}, authenticate_invites=False)
        self.layer = TransactionLayer(config.timers)
        self.core = ProxyCore(
            config,
            MemoryLocationStore(),
            MemoryCredentialStore(),
            secret=b"k" * 32,
            layer=self.layer,
            authenticate_registers=False,
        )
        self.relay = FastRelay(self.core) if relay else None
        self.cpu = 0.0
        self.now = 0.0
        self.profiler: cProfile.Profile | None = None  # on only while timed

    def _timed(self) -> float:
        if self.profiler is not None:
            self.profiler.enable()
        return time.process_time()

    def _untimed(self, start: float) -> None:
        self.cpu += time.process_time() - start
        if self.profiler is not None:
            self.profiler.disable()

    def deliver(self, data: bytes, source: tuple[str, int]) -> list[tuple[bytes, tuple[str, int]]]:
        """One datagram into the proxy; the datagrams it sends (timed)."""
        start = self._timed()
        relay = self.relay
        if relay is not None and relay.receive(data, source, self.now):
            sent = relay.datagrams_to_send()
            relay.get_timer()
            self._untimed(start)
            return sent
        message = parse_message(data)
        if isinstance(message, Request):
            stamp_via(message, source)
        self.layer.receive(message, Peer("udp", *source), self.now, reliable=False)
        out = self._pump()
        self._untimed(start)
        return out

    def _pump(self) -> list[tuple[bytes, tuple[str, int]]]:
        layer, core, now = self.layer, self.core, self.now
        out: list[tuple[bytes, tuple[str, int]]] = []
        while True:
            busy = False
            while (event := layer.next_event()) is not None:
                busy = True
                core.handle_event(event, now)
            for item in layer.messages_to_send():
                busy = True
                peer = item.destination
                assert isinstance(peer, Peer)
                out.append((bytes(item.message), (peer.host, peer.port)))
            for token, uri in core.resolutions_needed():
                busy = True
                core.handle_resolution(token, [Peer("udp", uri.host, uri.port or 5060)], now)
            if not busy:
                break
        layer.get_timer()
        core.get_timer()
        return out

    def expire(self) -> None:
        """Jump past every timer so all transactions end (timed)."""
        start = self._timed()
        self.now += 64.0
        self.layer.handle_timer(self.now)
        self.core.handle_timer(self.now)
        if self.relay is not None:
            self.relay.handle_timer(self.now)
            self.relay.datagrams_to_send()
        self._pump()
        self._untimed(start)


def first(out: list[tuple[bytes, tuple[str, int]]], prefix: bytes) -> bytes:
    for data, _ in out:
        if data.startswith(prefix):
            return data
    raise AssertionError(f"the proxy sent no {prefix!r}: {[d[:40] for d, _ in out]}")


def one_call(h: Harness, party: int = 0) -> None:
    """One call between caller ``uac<party>`` and callee ``uas<party>``."""
    tag, to_tag, call_id = generate_branch()[7:17], generate_branch()[7:17], generate_call_id()
    caller, callee = f"uac{party}", f"uas{party}"
    invite = INVITE.format(
        branch=generate_branch(), tag=tag, call_id=call_id, caller=caller, callee=callee
    ).encode()
    out = h.deliver(invite, UAC)  # → 100 to the UAC, INVITE to the UAS
    relayed = first(out, b"INVITE")
    h.deliver(answer(relayed, 100, "Trying", None), UAS)
    first(h.deliver(answer(relayed, 180, "Ringing", to_tag), UAS), b"SIP/2.0 180")
    ok = first(h.deliver(answer(relayed, 200, "OK", to_tag), UAS), b"SIP/2.0 200")
    response = parse_message(ok)
    assert isinstance(response, Response)
    routes = "".join(f"Route: {r}\r\n" for r in response.headers.get_all("record-route"))
    to = response.headers.get("To")
    for method, cseq in (("ACK", "1 ACK"), ("BYE", "2 BYE")):
        request = IN_DIALOG.format(
            method=method,
            branch=generate_branch(),
            tag=tag,
            to=to,
            call_id=call_id,
            routes=routes,
            cseq=cseq,
            caller=caller,
            callee=callee,
        ).encode()
        out = h.deliver(request, UAC)
        relayed = first(out, method.encode())
    first(h.deliver(answer(relayed, 200, "OK", None), UAS), b"SIP/2.0 200")


def run(
    calls: int,
    relay: bool = False,
    profiler: cProfile.Profile | None = None,
    parties: int = 1,
) -> float:
    h = Harness(relay)
    h.profiler = profiler
    for i in range(calls):
        one_call(h, i % parties)
    h.expire()
    if h.relay is not None and (len(h.relay) or h.relay.stats["relay_requests"] != 2 * calls):
        raise AssertionError(f"the relay did not take every call: {dict(h.relay.stats)}")
    if len(h.layer) or len(h.core.forwarder):
        raise AssertionError(f"state left: {len(h.layer)} transactions")
    if h.core.stats["status_2xx"] != 2 * calls:
        raise AssertionError(f"not every call completed: {dict(h.core.stats)}")
    return h.cpu / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=("full", "relay"), default=None)
    parser.add_argument(
        "--parties",
        type=int,
        default=1,
        help="distinct caller/callee pairs the calls cycle through (default 1: every call "
        "between the same two users, as a load generator places them; a number beyond the "
        "relay's memo sizes, e.g. 10000, shows the cost with nothing remembered)",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    run(200)  # warm up caches and imports
    run(200, relay=True)
    if args.profile:
        profiler = cProfile.Profile()
        run(args.calls, relay=args.only != "full", profiler=profiler, parties=args.parties)
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
            int(os.environ.get("TOP", "35"))
        )
        return
    results = {}
    for name in ("full", "relay"):
        if args.only not in (None, name):
            continue
        gc.collect()
        best = min(
            run(args.calls, relay=name == "relay", parties=args.parties) for _ in range(args.rounds)
        )
        results[name] = best
        print(
            f"{'full path' if name == 'full' else 'fast relay'}, {args.calls} calls "
            f"({args.parties} caller/callee pairs) x "
            f"{args.rounds} rounds: {best * 1e6:.0f} µs CPU per call, "
            f"{1 / best:,.0f} calls per CPU-second"
        )
    if len(results) == 2:
        print(
            f"relay / full path: {results['full'] / results['relay']:.1f}x the calls per CPU-second"
        )


if __name__ == "__main__":
    main()
