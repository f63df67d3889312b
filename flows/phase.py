"""One phase as a flow of its own: what a work pool's worker runs when the iteration places a phase there.

The iteration sends the phase's context (settings already validated by the
coordinator) and upstream ids; this flow runs the same task, with the same cache
key, on the pool's machine, against that machine's data folder. Deployments of it
(`phase/<phase>-<pool>` in prefect.yaml) are also what event triggers start.
"""
from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.common import PhaseContext, retry_options
from tasks.phases import load_phase


@flow(name="phase", flow_run_name="{phase}", persist_result=True)
def phase(phase: str, ctx: dict[str, Any], upstream: list[str] | None = None) -> dict[str, Any]:
    """Run `phase` for the context the iteration sent; returns the phase's small result."""
    task, why = load_phase(phase)
    if task is None:
        raise RuntimeError(f"phase '{phase}' cannot run on this worker: {why}")
    context = PhaseContext.model_validate(ctx)
    return task.with_options(**retry_options(context.settings.retries))(ctx=context, upstream=list(upstream or []))
