"""The verdict of ``sipsec demo``: checks from what the run produced, and the
tables that show them (steps and timings, what each proxy could read, the
summary of media and authentication, the eavesdropper's views).

Every check is computed from evidence — the traced messages, the bodies
that crossed the proxies opened with the proxies' own keys, the call
summaries, Bob's recording — never from what the code meant to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.table import Table

from sipsec.sdp import SdpError, crypto_attributes, key_from_field, parse_sdp
from sipsec.sdp.crypto import SrtpKeyParams
from sipsec.sip import Request, Response
from sipsec.transport.demo_trapezoid import DemoRun

from .demo_attack import Check, Identity, View, smime_attacks
from .demo_flow import LadderRow, missing_labels

__all__ = [
    "Evidence",
    "collect_evidence",
    "offered_key",
    "render_checks",
    "render_proxy_reads",
    "render_steps",
    "render_summary",
    "render_views",
]

_TITLES = {"atlanta": "atlanta.example", "biloxi": "biloxi.example", "bob": "Bob"}
MIN_SNR_DB = 20.0  # µ-law round trip of an intact tone gives about 35 dB


def offered_key(sdp: bytes) -> SrtpKeyParams | None:
    """The SRTP key an SDP offers for its first audio stream (k= or a=crypto)."""
    try:
        session = parse_sdp(sdp)
        media = session.media[0] if session.media else None
        found = key_from_field(session, media)
        if found is None and media is not None:
            attrs = [a for a in crypto_attributes(media) if a.usable]
            found = attrs[0].key_params()[0] if attrs else None
        return found
    except (SdpError, IndexError):
        return None


@dataclass
class Evidence:
    checks: list[Check] = field(default_factory=list)
    proxy_reads: list[tuple[str, str, str]] = field(default_factory=list)  # proxy, read, not
    views: list[View] = field(default_factory=list)
    inner_sdp: bytes | None = None  # the SDP of F1, as Bob decrypted it
    call_key: SrtpKeyParams | None = None


def _first(rows: Sequence[LadderRow], label: str) -> LadderRow | None:
    return next((r for r in rows if r.label == label), None)


def _registrations(rows: Sequence[LadderRow], ua: str) -> Check:
    """A REGISTER challenged with 401, then one accepted with 200 (§10.2, §22.2)."""
    sent = [r for r in rows if r.source == ua and isinstance(r.message, Request)]
    got = [r for r in rows if r.target == ua and isinstance(r.message, Response)]
    registers = [r for r in sent if r.message is not None and r.summary.startswith("REGISTER")]
    statuses = [
        r.message.status
        for r in got
        if isinstance(r.message, Response)
        and r.message.cseq
        and r.message.cseq.method == "REGISTER"
    ]
    ok = 401 in statuses and 200 in statuses and len(registers) >= 2
    detail = f"{len(registers)} REGISTER, answers {statuses}"
    return Check(f"{ua.capitalize()} registered with Digest (401, then 200)", ok, detail)


def collect_evidence(run: DemoRun, rows: Sequence[LadderRow]) -> Evidence:
    """Checks that need only the run; the attacks add theirs separately."""
    ev = Evidence()
    opts = run.options
    for step in run.steps:
        if not step.ok:
            ev.checks.append(Check(step.name, False, step.detail))
    if run.error is not None:
        ev.checks.append(Check("the demo ran to the end", False, run.error))
    missing = missing_labels(rows)
    ev.checks.append(
        Check(
            "F1–F14 of RFC 3261 §24.2 all seen",
            not missing,
            f"missing {missing}" if missing else "",
        )
    )
    hangup = _hangup(rows)
    if hangup is not None:
        ev.checks.append(hangup)
    for ua in ("alice", "bob"):
        ev.checks.append(_registrations(rows, ua))
    if opts.transport == "tls":
        clear = sorted(
            {f"{r.source}→{r.target} {r.transport}" for r in rows if r.transport != "TLS"}
        )
        ev.checks.append(Check("every SIP hop over TLS", not clear, ", ".join(clear)))
    leaks = [f"{r.label or r.summary} {r.source}→{r.target}" for r in rows if r.body.endswith("!")]
    ev.checks.append(Check("no SRTP key in clear on a non-TLS hop", not leaks, ", ".join(leaks)))
    _smime(run, rows, ev)
    _media(run, ev)
    _key_check(run, ev)
    return ev


def _smime(run: DemoRun, rows: Sequence[LadderRow], ev: Evidence) -> None:
    f1 = _first(rows, "F1")
    if run.pki is None or f1 is None or f1.message is None:
        return
    body = f1.message.body
    ctype = f1.message.headers.get("Content-Type") or ""
    tls = run.options.transport == "tls"
    headers_read = (
        "headers (Via, From, To, Call-ID, Contact, Digest) — TLS ends at each hop"
        if tls
        else f"everything, as any eavesdropper on the {run.options.transport.upper()} hop"
    )
    if not run.options.smime:
        ev.inner_sdp = body
        for proxy in ("atlanta.example", "biloxi.example"):
            ev.proxy_reads.append((proxy, headers_read + "; the SDP and SRTP key", "-"))
    else:
        nodes = run.pki.nodes
        ident = {
            n: Identity(_TITLES[n], nodes[n].cert(), nodes[n].key())
            for n in ("bob", "atlanta", "biloxi")
        }
        checks, inner = smime_attacks(
            body,
            ctype,
            sender="sip:alice@atlanta.example",
            recipient=ident["bob"],
            proxies=[ident["atlanta"], ident["biloxi"]],
            store=run.pki.store(),
            now=dt.datetime.now(dt.UTC),
        )
        ev.checks.extend(checks)
        ev.inner_sdp = inner
        for check in checks[1:-1]:
            proxy = check.name.split()[0]
            ev.proxy_reads.append(
                (proxy, headers_read, f"the SDP and SRTP key — {check.detail}" if check.ok else "-")
            )
    if ev.inner_sdp is not None:
        ev.call_key = offered_key(ev.inner_sdp)


def _hangup(rows: Sequence[LadderRow]) -> Check | None:
    """RFC 3261 Figure 1: Bob hangs up, F13 BYE Bob → Alice, F14 200 OK back."""
    legs = [(r.label, r.source, r.target) for r in rows if r.label in ("F13", "F14")]
    if not legs:
        return None  # no call to hang up: the F1–F14 check says so
    ok = all((s, t) == (("bob", "alice") if label == "F13" else ("alice", "bob"))
             for label, s, t in legs)  # fmt: skip
    detail = ", ".join(f"{label} {s}→{t}" for label, s, t in legs)
    return Check("Bob hangs up as in Figure 1 (F13 BYE Bob → Alice)", ok, detail)


def _media(run: DemoRun, ev: Evidence) -> None:
    for node in ("alice", "bob"):
        summary = run.calls.get(node)
        if summary is None:
            ev.checks.append(Check(f"{node.capitalize()}'s call completed", False, "no summary"))
            continue
        ok = (
            summary.final_status == 200
            and summary.packets_sent > 0
            and summary.packets_received > 0
            and summary.srtp_suite is not None
        )
        detail = (
            f"{summary.final_status} {summary.reason}; SRTP {summary.srtp_suite}: "
            f"sent {summary.packets_sent}, accepted {summary.packets_received}, "
            f"rejected {summary.packets_rejected}, auth failures {summary.auth_failures}"
        )
        ev.checks.append(Check(f"{node.capitalize()}: call answered, SRTP both ways", ok, detail))
        if run.options.smime:
            ev.checks.append(
                Check(f"{node.capitalize()} received the peer's SDP in S/MIME", summary.smime, "")
            )
    want = 0.8 * run.options.duration
    snr = run.snr_db
    ok = snr is not None and snr >= MIN_SNR_DB and run.recorded_seconds >= want
    detail = f"SNR {snr:.1f} dB over {run.recorded_seconds:.1f} s" if snr is not None else "none"
    ev.checks.append(Check("Bob's recording matches Alice's tone", ok, detail))


def _key_check(run: DemoRun, ev: Evidence) -> None:
    """The key inside the S/MIME body is the key Bob's SRTP actually used."""
    media = run.media.get("bob")
    agreed = media.agreed if media is not None else None
    if ev.call_key is None or agreed is None or agreed.receive_key is None:
        return
    same = agreed.receive_key == ev.call_key  # SrtpKeyParams compares in constant time
    detail = f"{ev.call_key.suite}, {len(ev.call_key.key_salt)} octets of key and salt"
    ev.checks.append(Check("the key in Alice's body is the key Bob's SRTP used", same, detail))


def render_summary(run: DemoRun, rows: Sequence[LadderRow]) -> Table:
    """Packets protected and accepted, authentication, replays, per UA."""
    table = Table(title="Summary", title_justify="left")
    table.add_column("")
    table.add_column("Alice", justify="right")
    table.add_column("Bob", justify="right")

    def both(fn: Callable[[str], object]) -> tuple[str, str]:
        return str(fn("alice")), str(fn("bob"))

    def call(node: str, attr: str) -> object:
        summary = run.calls.get(node)
        return getattr(summary, attr) if summary is not None else "-"

    def crypto(node: str, attr: str) -> object:
        media = run.media.get(node)
        c = media.session.crypto if media is not None else None
        return getattr(c.counters, attr) if c is not None else "-"

    def challenges(node: str) -> int:
        return sum(
            1
            for r in rows
            if r.target == node
            and isinstance(r.message, Response)
            and r.message.status in (401, 407)
        )

    table.add_row("SRTP packets protected and sent", *both(lambda n: call(n, "packets_sent")))
    table.add_row(
        "SRTP packets authenticated, accepted", *both(lambda n: call(n, "packets_received"))
    )
    table.add_row("SRTP packets rejected: bad tag", *both(lambda n: crypto(n, "auth_failed")))
    table.add_row("SRTP packets rejected: replayed", *both(lambda n: crypto(n, "replayed")))
    table.add_row("Digest challenges answered (401/407)", *both(challenges))
    table.add_row(
        "authentication failures", *both(lambda n: run.ua_stats.get(n, {}).get("auth_failures", 0))
    )
    table.add_row("S/MIME SDP received", *both(lambda n: call(n, "smime")))

    def hung_up(node: str) -> str:
        summary = run.calls.get(node)
        if summary is None or not summary.ok:
            return "-"
        return "no (the peer's BYE)" if summary.ended_by_remote else "yes (sent BYE)"

    table.add_row("hung up the call", *both(hung_up))
    table.add_row("SRTP suite", *both(lambda n: call(n, "srtp_suite")))
    return table


def render_checks(checks: Sequence[Check]) -> Table:
    table = Table(title="Checks", title_justify="left")
    table.add_column("")
    table.add_column("check")
    table.add_column("evidence", overflow="fold")
    for check in checks:
        mark = "[green]✓[/]" if check.ok else "[bold red]✗[/]"
        table.add_row(mark, check.name, check.detail)
    return table


def render_steps(run: DemoRun) -> Table:
    table = Table(title="Steps and timings", title_justify="left")
    table.add_column("step")
    table.add_column("time", justify="right")
    for step in run.steps:
        mark = "" if step.ok else " [bold red]failed[/]"
        table.add_row(step.name + mark, f"{step.seconds * 1000:.0f} ms")
    return table


def render_proxy_reads(ev: Evidence) -> Table:
    table = Table(title="What each proxy could and could not read", title_justify="left")
    table.add_column("proxy")
    table.add_column("could read")
    table.add_column("could not read", overflow="fold")
    for proxy, read, unread in ev.proxy_reads:
        table.add_row(proxy, read, unread)
    return table


def render_views(views: Sequence[View]) -> Table:
    table = Table(title="The eavesdropper's view", title_justify="left")
    table.add_column("where")
    table.add_column("protection")
    table.add_column("with it on", overflow="fold")
    table.add_column("with it off", overflow="fold")
    for view in views:
        table.add_row(view.where, view.protection, view.on, view.off)
    return table
