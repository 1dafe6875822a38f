"""``sipsec load``: a SIPp-like call generator (INVITE–100–180–200–ACK–BYE–200).

Exit status: 0 when every call succeeded, 1 when some failed, 2 for bad
arguments (click's usage errors), 3 when the generator could not run.
"""

from __future__ import annotations

import json
from typing import Any

import click

from sipsec.errors import SipsecError
from sipsec.transport.hostport import HostPortError, parse_host_port, parse_transport_address
from sipsec.transport.load import LoadReport, LoadSettings, run_load

__all__ = ["load"]


def _address(value: str, *, default_port: int | None = None) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``) to bind to → (host, port); port 0 is any free one."""
    try:
        return parse_host_port(value, default_port=default_port, allow_zero_port=True)
    except HostPortError as exc:
        raise click.BadParameter(f"{exc}; expected HOST:PORT") from None


def _proxy(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        transport, host, port = parse_transport_address(
            value, default_transport="udp", default_port=5060
        )
    except HostPortError as exc:
        raise click.BadParameter(f"{exc}; expected [udp:]HOST[:PORT]") from None
    if transport != "udp":
        raise click.BadParameter("only udp is supported by the load generator")
    return host, port


def _listen(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    return _address(value, default_port=0)


def _cpus(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if not value:
        return None
    try:
        cpus = tuple(int(item) for item in value.split(","))
    except ValueError:
        raise click.BadParameter(f"--cpus is a list like 1 or 0,1, not {value!r}") from None
    if any(cpu < 0 for cpu in cpus):
        raise click.BadParameter("--cpus numbers are >= 0")
    return cpus


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", help="Request-URI, e.g. sip:uas@127.0.0.1:5070 (role uac: required).")
@click.option("--proxy", callback=_proxy, help="Next hop for INVITEs: udp:HOST:PORT.")
@click.option("--rate", type=click.FloatRange(min=0.001), default=100.0, show_default=True,
              help="Calls started per second, paced (all processes together).")  # fmt: skip
@click.option("--calls", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Calls to place (all processes together).")  # fmt: skip
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Generator processes: each places calls and (role both) answers them "
                   "on a second socket of its own loop; see --separate-processes.")  # fmt: skip
@click.option("--role", type=click.Choice(["uac", "uas", "both"]), default="both",
              show_default=True, help="Place calls, answer them, or both.")  # fmt: skip
@click.option("--uas-listen", default="127.0.0.1:0", show_default=True, callback=_listen,
              help="UAS address; UAS i binds PORT+i (port 0: any free port).")  # fmt: skip
@click.option("--local", "local_host", default="127.0.0.1", show_default=True,
              help="Address the UAC sockets bind to.")  # fmt: skip
@click.option("--duration-hold", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds between the ACK and the BYE.")  # fmt: skip
@click.option("--t1", type=click.FloatRange(min=0.001, max=4.0), default=0.5, show_default=True,
              help="RFC 3261 T1 (s): first retransmission; calls give up after 64*T1.")  # fmt: skip
@click.option("--max-concurrent", type=click.IntRange(min=1),
              help="At most this many calls up at once, per process (SIPp -l).")  # fmt: skip
@click.option("--uas-time", type=click.FloatRange(min=0),
              help="Role uas: stop after this many seconds (default: Ctrl-C).")  # fmt: skip
@click.option("--cpus", callback=_cpus, help="Pin the generator processes to these CPUs: 1 or 0,1.")
@click.option("--separate-processes", is_flag=True,
              help="Role both: answer in processes of their own, not beside each UAC.")  # fmt: skip
@click.option("--no-trying", is_flag=True,
              help="The UAS sends no 100 Trying before its 180 (§17.2.1 allows it; SIPp's "
                   "uas does the same).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def load(  # click passes every option by name
    *,
    target: str | None,
    proxy: tuple[str, int] | None,
    rate: float,
    calls: int,
    processes: int,
    role: str,
    uas_listen: tuple[str, int],
    local_host: str,
    duration_hold: float,
    t1: float,
    max_concurrent: int | None,
    uas_time: float | None,
    cpus: tuple[int, ...] | None,
    separate_processes: bool,
    no_trying: bool,
    as_json: bool,
) -> None:
    """Place INVITE–100–180–200–ACK–BYE–200 calls at a steady rate, over UDP,
    like SIPp's uac and uas scenarios; report calls/s, failures by reason,
    setup latency (INVITE → 200) percentiles and retransmissions.

    \b
    Examples:
      sipsec load --rate 500 --calls 5000                  UAC and UAS, no proxy
      sipsec load --proxy udp:127.0.0.1:5060 --rate 2000 --calls 20000 --processes 2
      sipsec load --role uas --uas-listen 127.0.0.1:5070
      sipsec load --role uac --target sip:uas@127.0.0.1:5070 --proxy udp:127.0.0.1:5060
    """
    try:
        settings = LoadSettings(
            role=role,  # type: ignore[arg-type]  # click.Choice checked it
            target=target,
            proxy=proxy,
            rate=rate,
            calls=calls,
            processes=processes,
            uas_listen=uas_listen,
            local_host=local_host,
            hold=duration_hold,
            t1=t1,
            max_concurrent=max_concurrent,
            cpus=cpus,
            uas_time=uas_time,
            shared=not separate_processes,
            trying=not no_trying,
        )
    except SipsecError as exc:
        raise click.UsageError(str(exc)) from None

    def ready(addresses: list[tuple[str, int]]) -> None:
        if role == "uas" and not as_json:
            shown = ", ".join(f"{h}:{p}" for h, p in addresses)
            click.echo(f"UAS listening on {shown}; Ctrl-C stops", err=True)

    try:
        report = run_load(settings, on_ready=ready)
    except SipsecError as exc:
        click.echo(f"sipsec load: {exc}", err=True)
        raise SystemExit(3) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_report(report))
    failed = sum(s.calls_failed for s in (report.uac, report.uas) if s is not None)
    raise SystemExit(1 if failed else 0)


def format_report(report: LoadReport) -> str:
    """The human-readable report."""
    data = report.to_dict()
    lines = [
        f"target rate {report.settings.rate:g} calls/s, {report.settings.calls} calls, "
        f"{report.settings.processes} process(es)" + ("" if report.settings.shared else " per role")
    ]
    for role in ("uac", "uas"):
        stats = data.get(role)
        if stats is None:
            continue
        lines.append(
            f"{role.upper()}: {stats['calls_started']} started, {stats['calls_succeeded']} "
            f"succeeded, {stats['calls_failed']} failed"
        )
        offered, completed = stats["offered_rate"], stats["completed_rate"]
        if offered is not None or completed is not None:
            lines.append(f"  rate: offered {_num(offered)} calls/s, completed {_num(completed)}")
        for reason, count in stats["failures"].items():
            lines.append(f"  failed: {reason}: {count}")
        latency = stats["setup_latency_ms"]
        if latency["max"] is not None:
            lines.append(
                "  setup latency INVITE→200 (ms): "
                + "  ".join(f"{key} {value:.2f}" for key, value in latency.items())
            )
        lines.append(
            f"  retransmissions sent {stats['retransmissions']}, duplicates received "
            f"{stats['duplicates']}, unexpected {stats['unexpected']}, "
            f"malformed {stats['malformed']}"
        )
    if report.socket_errors:
        lines.append(f"socket errors (ICMP): {report.socket_errors}")
    if data["generator_cpu_seconds"]:
        lines.append(f"generator CPU while calling: {data['generator_cpu_seconds']:.2f} s")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
