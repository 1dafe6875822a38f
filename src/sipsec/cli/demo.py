"""``sipsec demo``: Alice calls Bob across two domains, every hop secured (issue 8).

Runs the whole trapezoid on 127.0.0.1 in a temporary directory with the real
components (:mod:`sipsec.transport.demo_trapezoid`), then shows the ladder
F1–F14 with each hop's protection, what each proxy could and could not
read, the timings, a summary and the checks.  Exits 1 when any check fails.
"""

from __future__ import annotations

import asyncio
import shlex
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console

from sipsec.transport.demo_trapezoid import DemoOptions, DemoRun, run_trapezoid
from sipsec.transport.pcap import LINKTYPE_ETHERNET, PcapError, PcapWriter, write_wire_records

from .demo_attack import Check, View, body_view, media_view, signalling_view, srtp_attacks
from .demo_flow import LadderRow, Observed, build_ladder
from .demo_ladder import hop_summaries, render_hops, render_ladder
from .demo_report import (
    Evidence,
    collect_evidence,
    render_checks,
    render_proxy_reads,
    render_steps,
    render_summary,
    render_views,
)

__all__ = ["demo"]


def _attacks(run: DemoRun, rows: list[LadderRow], ev: Evidence) -> None:
    """--attack: forgeries against the call's real keys, and what an eavesdropper sees."""
    key = ev.call_key
    if key is None:
        ev.checks.append(Check("SRTP attacks with the call's key", False, "no key was found"))
    else:
        ev.checks.extend(srtp_attacks(key.suite, key.key_salt, audio=run.sent_audio))
        ev.views.append(media_view(key.suite, key.key_salt, audio=run.sent_audio))
    f1 = next((r for r in rows if r.label == "F1" and r.message is not None), None)
    if f1 is not None and f1.message is not None:
        clear = bytes(f1.message)
        # Everything an eavesdropper on Alice's hop captured, both ways.
        hop = {(f1.local, f1.remote), (f1.remote, f1.local)}
        wire = b"".join(
            w.data
            for w in run.wire
            if w.event == "data" and w.direction == "out" and (w.local, w.remote) in hop
        )
        view = signalling_view(wire or clear, clear, "Alice ↔ atlanta.example (signalling)")
        if run.options.transport != "tls":
            view = View(view.where, "none (--transport " + run.options.transport + ")",
                        "-", view.off)  # fmt: skip
        ev.views.append(view)
        if ev.inner_sdp is not None:
            ev.views.append(body_view(ev.inner_sdp, "at a proxy (the SDP of F1)"))


def _write_pcap(run: DemoRun, path: Path, console: Console) -> None:
    try:
        with PcapWriter(path.open("wb"), linktype=LINKTYPE_ETHERNET) as writer:
            count = write_wire_records(writer, run.wire)
    except (OSError, PcapError) as exc:
        raise click.ClickException(f"cannot write {path}: {exc}") from None
    ports = sorted({p.port for p in run.addresses.values()})
    args = [f"tshark -r {shlex.quote(str(path))}"]
    if run.options.transport == "tls":
        # Wireshark finds TLS and SIP on their well-known ports only; ours are random.
        args += [f"-d tcp.port=={p},tls -d tls.port=={p},sip" for p in ports]
        if run.options.keylog is not None:
            args.append("-o " + shlex.quote(f"tls.keylog_file:{run.options.keylog}"))
    elif run.options.transport == "tcp":
        args += [f"-d tcp.port=={p},sip" for p in ports]
    rtp = sorted({m.local_rtp[1] for m in run.media.values()})
    args += [f"-d udp.port=={p},rtp" for p in rtp]
    console.print(f"[bold]pcap[/]: {count} packets in {path}")
    console.print("  read it with: " + " ".join(args), soft_wrap=True)


@click.command()
@click.option(
    "--transport",
    type=click.Choice(["tls", "tcp", "udp"]),
    default="tls",
    show_default=True,
    help="Signalling transport of every hop (tls: sips: URIs).",
)
@click.option(
    "--keys",
    type=click.Choice(["k", "sdes"]),
    default="k",
    show_default=True,
    help="How the SDP carries the SRTP key: k= (RFC 4566) or a=crypto (SDES, RFC 4568).",
)
@click.option("--smime/--no-smime", default=True, show_default=True, help="S/MIME around the SDP.")
@click.option("--duration", type=click.FloatRange(1.0, 20.0), default=5.0, show_default=True,
              help="Seconds of audio.")  # fmt: skip
@click.option("--pcap", "pcap_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write signalling and media as a pcap (TLS as on the wire).")  # fmt: skip
@click.option("--keylog", type=click.Path(dir_okay=False, path_type=Path),
              help="Write TLS secrets (NSS key log) so Wireshark shows the SIP.")  # fmt: skip
@click.option("--attack", is_flag=True, help="Eavesdropper views, forged and replayed packets.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Run in this directory and keep it (certificates, recording …).")  # fmt: skip
@click.option("--fault", type=click.Choice(["wrong-password", "wrong-peer-cert"]), hidden=True)
def demo(
    *,
    transport: str,
    keys: str,
    smime: bool,
    duration: float,
    pcap_path: Path | None,
    keylog: Path | None,
    attack: bool,
    keep: Path | None,
    fault: str | None,
) -> None:
    """Alice calls Bob across atlanta.example and biloxi.example, every hop secured.

    A throw-away CA, two proxies with registrars, two user agents; Digest
    registration, an S/MIME protected offer carrying the SRTP key, five
    seconds of SRTP audio both ways, Bob's recording checked against what
    Alice sent. Shown as the RFC 3261 ladder F1–F14.
    """
    if not smime and transport != "tls":
        # The SRTP key would cross the hops in clear; the UAs refuse that (RFC 4568 §8.3).
        raise click.UsageError("--no-smime needs --transport tls: the key must be protected")
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 160))
    if keylog is not None:
        keylog.unlink(missing_ok=True)  # the TLS layer appends
    options = DemoOptions(
        transport=transport,  # type: ignore[arg-type]
        keys=keys,  # type: ignore[arg-type]
        smime=smime,
        duration=duration,
        keylog=keylog,
        fault=fault,  # type: ignore[arg-type]
    )
    begun = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sipsec-demo-") as tmp:
        workdir = keep if keep is not None else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        console.print(f"[bold]sipsec demo[/]: Alice calls Bob over {transport.upper()} "
                      f"({options.scheme}: URIs), {duration:g} s of audio …")  # fmt: skip
        run = asyncio.run(run_trapezoid(options, workdir))
        rows = build_ladder(Observed(node, record) for node, record in run.traces)
        ev = collect_evidence(run, rows)
        if attack:
            _attacks(run, rows, ev)
        console.print(render_ladder(rows), soft_wrap=True)
        media = f"SRTP {ev.call_key.suite}" if ev.call_key is not None else None
        console.print(render_hops(hop_summaries(rows), media))
        console.print(render_proxy_reads(ev))
        console.print(render_steps(run))
        console.print(render_summary(run, rows))
        if ev.views:
            console.print(render_views(ev.views))
        console.print(render_checks(ev.checks))
        if pcap_path is not None:
            _write_pcap(run, pcap_path, console)
    failed = [c for c in ev.checks if not c.ok]
    took = time.perf_counter() - begun
    if failed:
        console.print(
            f"[bold red]{len(failed)} of {len(ev.checks)} checks failed[/] ({took:.1f} s)"
        )
        raise SystemExit(1)
    console.print(f"[bold green]all {len(ev.checks)} checks passed[/] ({took:.1f} s)")
