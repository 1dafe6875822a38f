"""Parse-and-read speed of sipsec.sip against pyVoIP and Sippy (issue 2, "Speed").

Each parser gets the same bytes (an INVITE with an SDP body from RFC 3665)
and reads the same fields: top Via (host, port, branch), From (user, host,
tag), To (user, host), CSeq (number, method), Call-ID, Max-Forwards, Contact
(user, host). Messages per CPU second on one core, best of several rounds,
the parsers' rounds taken in turn so that the machine's changing speed
weighs on all of them alike; ratio against the faster of the two references. Note what each one does
beyond that: sipsec also validates the Request-URI and every header it
parses (RFC 3261 grammar, RFC 4475 verdicts); pyVoIP also parses the SDP
body but cannot unfold headers (it fails on the second message); Sippy
parses header values only when asked.

A second section times sipsec alone on what a stateful proxy does with each
request it forwards (RFC 3261 §16.3–§16.6): parse, validate, read what the
loop check hashes, copy, retarget, decrement Max-Forwards, add Record-Route
and Via, read what the transaction layer matches on, serialize. It has no
reference parser; it is there so that a change that speeds up parse-and-read
can be seen not to slow this path (compare two trees in one sitting with
``PYTHONPATH=other/src``). Run: ``.venv/bin/python bench/bench_sip_parse.py``.
"""

from __future__ import annotations

import argparse
import gc
import io
import time
import warnings
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pyVoIP.VoIP  # noqa: F401  (pyVoIP.SIP cannot be imported first: circular import)
from pyVoIP.SIP import SIPMessage
from sippy.SipRequest import SipRequest

from sipsec.sip import Request, SipUri, parse_message, parse_uri, validate_request

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "rfc3665"
MESSAGES = {
    "RFC 3665 3.1 F1 (INVITE, 1 Via, SDP)": "3.1-successful-session-establishment-F1.sip",
    "RFC 3665 3.2 F7 (INVITE, 3 folded Vias, Record-Route, SDP)": (
        "3.2-session-establishment-through-two-proxies-F7.sip"
    ),
}


def read_sipsec(data: bytes) -> tuple[Any, ...]:
    msg = parse_message(data)
    via = msg.top_via
    from_, to, cseq, contact = msg.from_, msg.to, msg.cseq, msg.contacts[0]
    assert via is not None and from_ is not None and to is not None and cseq is not None
    assert isinstance(from_.uri, SipUri) and isinstance(to.uri, SipUri)
    assert isinstance(contact.uri, SipUri)
    return (
        via.host,
        via.port,
        via.branch,
        from_.uri.user,
        from_.uri.host,
        from_.tag,
        to.uri.user,
        to.uri.host,
        cseq.seq,
        cseq.method,
        msg.call_id,
        msg.max_forwards,
        contact.uri.user,
        contact.uri.host,
    )


def read_pyvoip(data: bytes) -> tuple[Any, ...]:
    msg = SIPMessage(data)
    h = msg.headers
    via = h["Via"][0]
    # pyVoIP keeps Contact and Max-Forwards as raw strings: reading them is free.
    return (
        via["address"][0],
        via["address"][1],
        via["branch"],
        h["From"]["number"],
        h["From"]["host"],
        h["From"]["tag"],
        h["To"]["number"],
        h["To"]["host"],
        h["CSeq"]["check"],
        h["CSeq"]["method"],
        h["Call-ID"],
        h["Max-Forwards"],
        h["Contact"],
    )


def read_sippy(data: bytes) -> tuple[Any, ...]:
    msg = SipRequest(data.decode())
    via = msg.getHFBody("via")
    from_ = msg.getHFBody("from")
    from_url, to_url = from_.getUrl(), msg.getHFBody("to").getUrl()
    contact_url = msg.getHFBody("contact").getUrl()
    cseq = msg.getHFBody("cseq")
    return (
        via.getAddr(),
        via.getBranch(),
        from_url.username,
        from_url.host,
        from_.getTag(),
        to_url.username,
        to_url.host,
        cseq.getCSeqNum(),
        cseq.getCSeqMethod(),
        str(msg.getHFBody("call-id")),
        msg.getHFBody("max-forwards").getNum(),
        contact_url.username,
        contact_url.host,
    )


_TARGET = parse_uri("sip:bob@192.0.2.4:5060;transport=tcp")
_RECORD_ROUTE = "<sip:p1.example.com;transport=tcp;lr>"
_VIA = "SIP/2.0/TCP p1.example.com:5060;branch=z9hG4bK5f0c3e9a1d.0;rport"


def proxy_sipsec(data: bytes) -> bytes:
    """The proxy-shaped path (see the module docstring); mirrors
    ``sipsec.proxy.forwarder`` without importing the layers above sip."""
    msg = parse_message(data)
    assert isinstance(msg, Request)
    error = validate_request(msg, proxy=True)
    assert error is None
    to, from_, cseq, max_forwards = msg.to, msg.from_, msg.cseq, msg.max_forwards
    assert to is not None and from_ is not None and cseq is not None
    assert max_forwards is not None
    key = (to.tag, from_.tag, msg.call_id, str(msg.uri), cseq.seq, msg.headers.get_all("via"))
    assert key
    copy = Request(msg.method, msg.uri, msg.headers.copy(), msg.body)
    copy.uri = _TARGET
    copy.headers.set("Max-Forwards", str(max_forwards - 1))
    copy.headers.prepend("Record-Route", _RECORD_ROUTE)
    copy.headers.prepend("Via", _VIA)
    via, cseq = copy.top_via, copy.cseq  # the client transaction's key
    assert via is not None and via.branch is not None and cseq is not None
    assert copy.call_id is not None and copy.from_ is not None and copy.to is not None
    return bytes(copy)


clock = time.thread_time  # CPU time of this thread: other processes do not count


def calibrate(fn: Callable[[bytes], Any], data: bytes, seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds`` of CPU."""
    fn(data)  # warm caches and imports; also proves the parser copes
    n = 1
    while True:
        start = clock()
        for _ in range(n):
            fn(data)
        elapsed = clock() - start
        if elapsed > seconds / 4:
            return max(1, int(n * seconds / elapsed))
        n *= 2


def rate(fn: Callable[[bytes], Any], data: bytes, seconds: float, rounds: int) -> float:
    """Messages per CPU second of this thread (one core), best of ``rounds``
    runs of about ``seconds`` each."""
    return interleaved({"": fn}, data, seconds, rounds)[""]


def interleaved(
    readers: dict[str, Callable[[bytes], object]], data: bytes, seconds: float, rounds: int
) -> dict[str, float]:
    """Best rate of each reader, the rounds taken in turn (sipsec, pyVoIP,
    Sippy, sipsec, …) so that a change in the machine's speed during the
    run weighs on every parser alike, not on whichever ran at that moment."""
    loops = {label: calibrate(fn, data, seconds) for label, fn in readers.items()}
    best = dict.fromkeys(readers, 0.0)
    with redirect_stdout(io.StringIO()):
        for _ in range(rounds):
            for label, fn in readers.items():
                gc.collect()
                n = loops[label]
                start = clock()
                for _ in range(n):
                    fn(data)
                best[label] = max(best[label], n / (clock() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    worst_ratio = float("inf")
    for title, name in MESSAGES.items():
        data = (VECTORS / name).read_bytes()
        print(f"\n{title}: {len(data)} bytes")
        print("  sipsec reads:", read_sipsec(data))
        readers = {"sipsec": read_sipsec, "pyVoIP": read_pyvoip, "Sippy": read_sippy}
        for label, fn in list(readers.items()):
            try:
                with redirect_stdout(io.StringIO()):  # Sippy prints on odd input
                    fn(data)
            except Exception as error:  # a reference parser that cannot read the message
                print(f"  {label:7s} failed: {type(error).__name__}: {error}")
                del readers[label]
        results = interleaved(readers, data, args.seconds, args.rounds)
        for label, value in results.items():
            print(f"  {label:7s} {value:>10,.0f} msg/s")
        refs = {k: v for k, v in results.items() if k != "sipsec"}
        if refs and "sipsec" in results:
            best_label = max(refs, key=lambda k: refs[k])
            ratio = results["sipsec"] / refs[best_label]
            worst_ratio = min(worst_ratio, ratio)
            print(f"  ratio sipsec / {best_label} (the faster reference): {ratio:.2f}x")
    print(f"\nlowest ratio over all messages: {worst_ratio:.2f}x (goal: >= 2x)")
    print("\nproxy-shaped path, sipsec alone (parse, validate, copy, edit, bytes):")
    for title, name in MESSAGES.items():
        data = (VECTORS / name).read_bytes()
        proxied = rate(proxy_sipsec, data, args.seconds, args.rounds)
        print(f"  {title.split(' (')[0]:18s} {proxied:>10,.0f} msg/s")


if __name__ == "__main__":
    main()
