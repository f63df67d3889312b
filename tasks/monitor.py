"""Monitor phase: CPU, memory, disk and GPU of this machine and (when configured) the fleet.

The facts come from the fleet code (`infra.health.local_snapshot` here, and
`infra.cluster.Cluster.status()` over SSH for the hosts of hosts.yaml), judged by
the same thresholds as `rift cluster status`, and are published as one table
artifact per iteration so a slow iteration can be read next to the state of the
machines that ran it.
"""
from __future__ import annotations

import os
from typing import Any

from infra.health import evaluate, local_snapshot
from infra.hosts import HealthSettings
from tasks.common import PhaseContext, artifact_key, in_prefect_run, phase_task, run_phase

COLUMNS = ("host", "pool", "health", "reason", "cpu_pct", "mem_pct", "disk_pct", "disk_free_gb", "gpus",
           "games_total")


def _gpus(gpus: list[dict[str, Any]], note: str) -> str:
    if not gpus:
        return note or "no GPU"
    return "; ".join(f"{g['name']} {g['util_pct']:.0f}% util, {g['mem_used_mb']:.0f}/{g['mem_total_mb']:.0f} MB"
                     for g in gpus)


def local_row(data_dir: str, cpu_interval_s: float) -> dict[str, Any]:
    """This machine as a row (no worker required: the iteration itself may be the only process)."""
    snap = local_snapshot(data_dir, prefect_url=os.environ.get("PREFECT_API_URL"), cpu_interval=cpu_interval_s)
    report = evaluate(snap, HealthSettings(require_worker=False))
    return {"host": snap.hostname, "pool": "local", "health": report.status.value, "reason": report.reason,
            "cpu_pct": snap.cpu_pct, "mem_pct": snap.mem_pct, "disk_pct": snap.disk_pct,
            "disk_free_gb": round(snap.disk_free_gb, 2), "gpus": _gpus([g.model_dump() for g in snap.gpus],
                                                                       snap.gpu_note),
            "games_total": snap.games_total}


def fleet_rows(hosts_file: str | None) -> list[dict[str, Any]]:
    """Every host of hosts.yaml, probed over SSH in parallel (unreachable ones get rows too)."""
    from infra.cluster import Cluster
    from infra.hosts import load_fleet
    rows = []
    for status in Cluster(load_fleet(hosts_file)).status():
        row = status.as_row()
        row["gpus"] = _gpus(row["gpus"], row["gpu_note"])
        rows.append({c: row.get(c) for c in COLUMNS})
    return rows


def snapshot(ctx: PhaseContext) -> dict[str, Any]:
    """The phase's work as a plain function."""
    settings = ctx.settings.monitor
    rows = [local_row(str(ctx.data().data_dir), settings.cpu_interval_s)]
    if settings.fleet:
        rows += fleet_rows(settings.hosts_file)
    unhealthy = [r["host"] for r in rows if r["health"] != "healthy"]
    return {"id": f"monitor-{ctx.config}-i{ctx.iteration}", "hosts": len(rows), "not_healthy": unhealthy,
            "rows": rows}


@phase_task("monitor")
def monitor(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Snapshot the machines and publish the resource table."""
    def body() -> dict[str, Any]:
        result = snapshot(ctx)
        if in_prefect_run():
            from prefect.artifacts import create_table_artifact
            create_table_artifact(result["rows"], key=artifact_key("resources", ctx.config),
                                  description=f"Resources during {ctx.describe()}")
        return result
    return run_phase("monitor", ctx, body)
