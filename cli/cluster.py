"""`rift cluster ...`: look at and steer the fleet described in the hosts file.

Thin on purpose: every command loads the hosts file (`--hosts`, else
`$RIFT_HOSTS`, else `config/hosts.yaml`), calls `infra.cluster`, and prints a
rich table (or JSON). A broken hosts file is a clear message and exit code 2;
a command that failed on some host exits 1 after reporting every host.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Annotated, Optional

import paramiko
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from infra.cluster import (
    SELFPLAY_ROLES, ActionResult, Cluster, HostStatus, SelfplayConfigError, check_selfplay_config,
)
from infra.hosts import HostsConfigError, Role, load_fleet
from infra.known_hosts import HostKeyError, changed_key_message, key_name, record_host_key, scan_host_key

cluster_app = typer.Typer(help="The fleet: status, Prefect workers, code updates, selfplay.", no_args_is_help=True)
selfplay_app = typer.Typer(help="Selfplay across eligible hosts.", no_args_is_help=True)
cluster_app.add_typer(selfplay_app, name="selfplay")

HostsOpt = Annotated[
    Optional[str],
    typer.Option("--hosts", envvar="RIFT_HOSTS", help="hosts file (default: $RIFT_HOSTS, else config/hosts.yaml)"),
]
OnlyOpt = Annotated[Optional[list[str]], typer.Option("--host", help="only this host (repeatable)")]
TimeoutOpt = Annotated[Optional[float], typer.Option("--timeout", help="seconds per host, retries included")]

_COLOURS = {"healthy": "green", "degraded": "yellow", "unhealthy": "red", "closed": "green", "open": "red", "half-open": "yellow"}


def register(app: typer.Typer) -> None:
    """Attach `rift cluster` to the main app."""
    app.add_typer(cluster_app, name="cluster")


def _console(stderr: bool = False) -> Console:
    # Piped output (CI logs, tests) gets a wide table instead of rich's 80 columns.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
    return Console(file=stream, width=width)


def _cluster(hosts_file: str | None) -> Cluster:
    try:
        return Cluster(load_fleet(hosts_file))
    except HostsConfigError as exc:
        _console(stderr=True).print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def _only(cluster: Cluster, names: list[str] | None) -> list[str] | None:
    try:
        for name in names or []:
            cluster.fleet.get(name)
    except HostsConfigError as exc:
        _console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    return names or None


def _c(text: str) -> str:
    colour = _COLOURS.get(text)
    return f"[{colour}]{text}[/]" if colour else text


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def status_table(rows: list[HostStatus], source: str) -> Table:
    """The fleet at a glance: one row per host."""
    table = Table(title=f"fleet ({source}) at {time.strftime('%H:%M:%S')}", title_justify="left")
    for col in ("host", "pool", "reach", "breaker", "health", "cpu", "mem", "disk", "gpu", "worker", "games", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col in {"host", "pool", "breaker", "health"})
    for row in rows:
        r = row.as_row()
        reach = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[r["reachable"]]
        if row.snapshot and row.snapshot.gpus:
            gpu = ", ".join(f"{g.util_pct:.0f}% {g.mem_used_mb / 1024:.0f}/{g.mem_total_mb / 1024:.0f}G" for g in row.snapshot.gpus)
        else:
            gpu = "no GPU" if row.snapshot else "-"
        worker = {True: "[green]running[/]", False: "[yellow]stopped[/]", None: "-"}[r["worker_running"]]
        games = "-" if r["games_total"] is None else str(r["games_total"])
        breaker = _c(r["breaker"]) + (f" ({r['breaker_failures']})" if r["breaker_failures"] else "")
        table.add_row(
            r["host"], r["pool"], reach, breaker, _c(r["health"]), _pct(r["cpu_pct"]), _pct(r["mem_pct"]),
            _pct(r["disk_pct"]), gpu, worker, games, r["reason"],
        )
    return table


@cluster_app.command()
def status(
    hosts: HostsOpt = None,
    only: OnlyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="refresh until interrupted")] = False,
    interval: Annotated[float, typer.Option("--interval", help="seconds between refreshes with --watch")] = 10.0,
    count: Annotated[int, typer.Option("--count", help="with --watch: stop after N refreshes (0 = never)")] = 0,
    timeout: TimeoutOpt = None,
) -> None:
    """Reachability, breaker, health, resources, worker and games of every host."""
    cluster = _cluster(hosts)
    names = _only(cluster, only)
    console = _console()

    def take() -> list[HostStatus]:
        return cluster.status(names, timeout=timeout)

    if not watch:
        rows = take()
        if as_json:
            typer.echo(json.dumps([r.as_row() for r in rows], indent=2))
        else:
            console.print(status_table(rows, cluster.fleet.source))
        return
    done = 0
    try:
        if as_json or not console.is_terminal:
            while True:
                rows = take()
                if as_json:
                    typer.echo(json.dumps([r.as_row() for r in rows]))  # one line per refresh
                else:
                    console.print(status_table(rows, cluster.fleet.source))
                done += 1
                if count and done >= count:
                    return
                time.sleep(interval)
        with Live(console=console, auto_refresh=False) as live:
            while True:
                live.update(status_table(take(), cluster.fleet.source), refresh=True)
                done += 1
                if count and done >= count:
                    return
                time.sleep(interval)
    except KeyboardInterrupt:
        return


def _report(results: list[ActionResult], title: str) -> None:
    """Per-host outcome table; exit 1 if any host failed."""
    table = Table(title=title, title_justify="left")
    for col in ("host", "result", "detail"):
        table.add_column(col, overflow="fold")
    for r in results:
        verdict = "[yellow]skipped[/]" if r.skipped else ("[green]ok[/]" if r.ok else "[red]failed[/]")
        extra = " ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(r.host, verdict, f"{r.message}  {extra}".strip())
    _console().print(table)
    if not results:
        _console().print("no hosts to act on")
    if any(not r.ok for r in results):
        raise typer.Exit(1)


@cluster_app.command("start-workers")
def start_workers(hosts: HostsOpt = None, only: OnlyOpt = None, timeout: TimeoutOpt = 60.0) -> None:
    """Start the Prefect worker for each host's work pool over SSH."""
    cluster = _cluster(hosts)
    _report(cluster.start_workers(_only(cluster, only), timeout=timeout), "start-workers")


@cluster_app.command("stop-workers")
def stop_workers(hosts: HostsOpt = None, only: OnlyOpt = None, timeout: TimeoutOpt = 60.0) -> None:
    """Stop the Prefect worker started by start-workers on each host."""
    cluster = _cluster(hosts)
    _report(cluster.stop_workers(_only(cluster, only), timeout=timeout), "stop-workers")


@cluster_app.command("update-code")
def update_code(
    hosts: HostsOpt = None,
    only: OnlyOpt = None,
    stash: Annotated[bool, typer.Option("--stash", help="stash local changes before pulling")] = False,
    timeout: TimeoutOpt = 120.0,
) -> None:
    """git pull the project on every host, reporting per host."""
    cluster = _cluster(hosts)
    _report(cluster.update_code(_only(cluster, only), stash=stash, timeout=timeout), "update-code")


@cluster_app.command("reset-breaker")
def reset_breaker(names: Annotated[list[str], typer.Argument(help="hosts to reset")], hosts: HostsOpt = None) -> None:
    """Close a host's circuit breaker now (after fixing it by hand)."""
    cluster = _cluster(hosts)
    for name in _only(cluster, names) or []:
        cluster.breakers.reset(name)
        typer.echo(f"{name}: breaker closed")


@cluster_app.command()
def trust(
    names: Annotated[list[str], typer.Argument(help="hosts whose key to record")],
    hosts: HostsOpt = None,
    fingerprint: Annotated[Optional[str], typer.Option(
        "--fingerprint", help="the SHA256:... fingerprint you expect (from the host's owner); recorded without asking if it matches")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="replace a recorded key that has changed")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="record without asking (after checking the fingerprint)")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to reach each host")] = 10.0,
) -> None:
    """Show each host's SSH key fingerprint and record it in the fleet's known_hosts.

    Every fleet connection refuses a host whose key is not recorded there, or differs from
    the one recorded; this is how a key gets recorded on first contact.
    """
    cluster = _cluster(hosts)
    _only(cluster, names)
    if fingerprint and len(names) > 1:
        _console(stderr=True).print("[bold red]error:[/] --fingerprint checks one host; name one host")
        raise typer.Exit(2)
    path = cluster.fleet.known_hosts_path
    out, err = _console(), _console(stderr=True)
    failed = False
    for name in names:
        host = cluster.fleet.get(name)
        try:
            scanned = scan_host_key(host, path, timeout)
        except HostKeyError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except (OSError, paramiko.SSHException) as exc:
            err.print(f"[red]{name}:[/] cannot read the host key from {host.ssh_host}:{host.port}: {exc or type(exc).__name__}",
                      highlight=False)
            failed = True
            continue
        out.print(f"{name} ({key_name(host)}): {scanned.key.get_name()} {scanned.fingerprint}", highlight=False)
        if scanned.status == "trusted":
            out.print(f"  already trusted in {path}", highlight=False)
            continue
        if scanned.status == "changed" and not replace:
            err.print("[bold red]refused:[/] " + changed_key_message(host, path, scanned.key, scanned.recorded), highlight=False)
            failed = True
            continue
        if fingerprint and fingerprint.strip() != scanned.fingerprint:
            err.print(f"[bold red]refused:[/] {name} offers {scanned.fingerprint}, not the expected {fingerprint.strip()}; "
                      "nothing recorded", highlight=False)
            failed = True
            continue
        if not (yes or fingerprint):
            try:
                agreed = typer.confirm(f"  record this key for {name} in {path}?", default=False)
            except typer.Abort:
                agreed = False
            if not agreed:
                err.print(f"{name}: not recorded (check the fingerprint, then rerun with --yes or --fingerprint)")
                failed = True
                continue
        record_host_key(path, host, scanned.key, replace=scanned.status == "changed")
        verb = "replaced" if scanned.status == "changed" else "recorded"
        out.print(f"  {verb} in {path}", highlight=False)
    if failed:
        raise typer.Exit(1)


@selfplay_app.command("start")
def selfplay_start(
    board: Annotated[str, typer.Option("--board", help="square8, square19, hex8 or hexagonal")],
    games: Annotated[int, typer.Option("--games", min=1, help="games in total, shared across hosts")],
    players: Annotated[int, typer.Option("--players", min=2, max=4)] = 2,
    engine: Annotated[str, typer.Option("--engine")] = "heuristic",
    seed: Annotated[int, typer.Option("--seed")] = 1,
    out: Annotated[Optional[str], typer.Option("--out", help="output folder on each host (a per-host subfolder is added)")] = None,
    role: Annotated[Optional[list[Role]], typer.Option("--role", help="eligible roles (default: selfplay, mixed)")] = None,
    min_memory_gb: Annotated[float, typer.Option("--min-memory-gb")] = 0.0,
    gpu: Annotated[bool, typer.Option("--gpu/--any", help="only hosts with a GPU")] = False,
    min_vram_gb: Annotated[float, typer.Option("--min-vram-gb")] = 0.0,
    hosts: HostsOpt = None,
    only: OnlyOpt = None,
    timeout: TimeoutOpt = 60.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print each host's command, start nothing")] = False,
) -> None:
    """Start selfplay for a config on the eligible hosts (by role, memory and GPU)."""
    try:  # a config no host could run is refused here, before any host is contacted
        check_selfplay_config(board, players, games, engine)
    except SelfplayConfigError as exc:
        _console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    cluster = _cluster(hosts)
    eligible = cluster.eligible_for_selfplay(
        role or SELFPLAY_ROLES, min_memory_gb, gpu, min_vram_gb, _only(cluster, only)
    )
    if not eligible:
        _console(stderr=True).print("[red]error:[/] no eligible host (check roles, memory, GPU and breakers)")
        raise typer.Exit(1)
    jobs = cluster.plan_selfplay(board, games, players, engine, seed, out, eligible)
    if dry_run:
        for job in jobs:
            typer.echo(f"{job.host.name}: {job.command}")
        return
    results = cluster.start_selfplay(jobs, timeout=timeout)
    _report(results, f"selfplay start {board} {players}p: {games} games on {len(results)} host(s)")


@selfplay_app.command("stop")
def selfplay_stop(
    board: Annotated[str, typer.Option("--board")],
    players: Annotated[int, typer.Option("--players", min=2, max=4)] = 2,
    hosts: HostsOpt = None,
    only: OnlyOpt = None,
    timeout: TimeoutOpt = 60.0,
) -> None:
    """Stop selfplay for a config on every host where it was started."""
    cluster = _cluster(hosts)
    _report(cluster.stop_selfplay(board, players, _only(cluster, only), timeout=timeout), f"selfplay stop {board} {players}p")
