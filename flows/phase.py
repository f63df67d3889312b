"""One phase as a flow of its own: what a work pool's worker runs when the iteration places a phase there.

The iteration sends the phase's context (settings validated by the coordinator, and
the artifact keys and ids the coordinator chose: tasks/placed.py) and upstream ids.
This flow fetches the keys into this host's cache, runs the phase's work against
this host's data folder (only a cache), publishes what it made and returns the keys:
the coordinator records them. A phase that uses a GPU holds one slot of the pool's
`gpu-<pool>` limit while it runs (strict: a limit missing on the server is an error,
never silently no limit). Deployments `phase/<phase>-<pool>` of this flow exist for
every placeable phase on every pool of config/pools.yaml (flows/deploy_phases.py).
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from prefect import flow

from infra.pipeline_config import load_pools_config
from infra.storage import ArtifactStore
from tasks.common import PhaseContext, phase_task, retry_options, run_phase
from tasks.phases import load_phase
from tasks.placed import HOOKS

GPU_PHASES = ("selfplay", "train", "evaluate")  # monitor only reads counters


def gpu_slot(pool: str | None, phase: str) -> Any:
    """One slot of `gpu-<pool>` for a GPU phase on a pool with gpu_slots; else nothing to hold."""
    if not pool or phase not in GPU_PHASES:
        return nullcontext()
    settings = load_pools_config().pools.get(pool)
    if settings is None or not settings.gpu_slots:
        return nullcontext()
    from prefect.concurrency.sync import concurrency
    # a lease of 60 s (renewed while the phase runs): a slot held by a host that died frees within a minute
    return concurrency(f"gpu-{pool}", occupy=1, strict=True, lease_duration=60)


def placed_task(phase: str) -> Any:
    """The phase's `work` step (tasks/placed.py) as a phase task: same retries, errors and cache key rules."""
    work = HOOKS[phase].work

    def run(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
        store = ArtifactStore.from_config(ctx.data())
        try:
            return run_phase(phase, ctx, lambda: work(ctx, upstream, store))
        finally:
            store.close()
    run.__name__ = run.__qualname__ = f"placed_{phase}"
    return phase_task(phase)(run)


def run_name() -> str:
    """`<phase>-<config>-i<iteration>[-<pool>]`: which work a placed run is, in the UI and `prefect flow-run ls`."""
    from prefect.runtime import flow_run
    p = flow_run.parameters
    ctx = p.get("ctx") or {}
    where = f"-{p['pool']}" if p.get("pool") else ""
    return f"{p.get('phase')}-{ctx.get('board')}_{ctx.get('players')}p-i{ctx.get('iteration')}{where}"


@flow(name="phase", flow_run_name=run_name, persist_result=True)
def phase(phase: str, ctx: dict[str, Any], upstream: list[str] | None = None, pool: str | None = None
          ) -> dict[str, Any]:
    """Run `phase` for the context the iteration sent; returns the phase's small result (keys, metrics)."""
    context = PhaseContext.model_validate(ctx)
    if context.placed and phase in HOOKS:
        task = placed_task(phase)
    else:
        task, why = load_phase(phase)
        if task is None:
            raise RuntimeError(f"phase '{phase}' cannot run on this worker: {why}")
    with gpu_slot(pool, phase):
        return task.with_options(**retry_options(context.settings.retries))(ctx=context,
                                                                            upstream=list(upstream or []))
