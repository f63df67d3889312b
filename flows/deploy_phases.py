"""The `phase/<phase>-<pool>` deployments, generated from config/pools.yaml, and the check that a
placement has its deployment before an iteration runs anything.

prefect.yaml lists the flows people start by name; the phase deployments are a product of two
lists (placeable phases x pools), so they are made here through the API, not hand-listed: a pool
added to pools.yaml gets every phase by the next `rift deploy` (or `rift up`). Each deployment
has the phase and pool as default parameters and the same pull step as prefect.yaml's (the
worker enters its own checkout).
"""
from __future__ import annotations

import os

from infra.pipeline_config import PLACEABLE, PoolsConfig

ENTRYPOINT = "flows/phase.py:phase"
PULL_STEPS = [{"flows.steps.enter_project": {}}]


class PlacementError(RuntimeError):
    """A placement that cannot run: its deployment is missing on the server."""


def deployment_name(phase: str, pool: str) -> str:
    return f"phase/{phase}-{pool}"


def deploy_phases(pools: PoolsConfig) -> list[str]:
    """Create or update `phase/<phase>-<pool>` for every placeable phase and pool; returns their names."""
    from prefect.client.orchestration import get_client
    from prefect.utilities.callables import parameter_schema

    from flows.phase import phase as phase_flow
    schema = parameter_schema(phase_flow).model_dump_for_openapi()
    made = []
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("phase")
        for pool, settings in pools.pools.items():
            for phase in PLACEABLE:
                tags = ["phase", phase, pool] + (["gpu"] if settings.gpu else [])
                client.create_deployment(
                    flow_id=flow_id, name=f"{phase}-{pool}", entrypoint=ENTRYPOINT, work_pool_name=pool,
                    parameters={"phase": phase, "pool": pool}, parameter_openapi_schema=schema,
                    pull_steps=PULL_STEPS, tags=tags, enforce_parameter_schema=False,
                    description=f"The {phase} phase on pool {pool} ({settings.description or 'no description'}); "
                                "started by an iteration whose config/pools.yaml places it there.")
                made.append(deployment_name(phase, pool))
    return made


def check_placements(pools: PoolsConfig, placed: dict[str, str]) -> None:
    """Refuse, before any phase runs, a placement {phase: pool} whose deployment the server lacks."""
    if not placed:
        return
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    missing = []
    with get_client(sync_client=True) as client:
        for phase, pool in placed.items():
            try:
                client.read_deployment_by_name(deployment_name(phase, pool))
            except ObjectNotFound:
                missing.append(f"phase {phase} on pool {pool} (deployment {deployment_name(phase, pool)})")
    if missing:
        api = os.environ.get("PREFECT_API_URL") or "the Prefect server"
        raise PlacementError(
            f"{pools.source} places {'; '.join(missing)}, but {api} has no such deployment: run `rift deploy` "
            "(or `rift up`), which creates phase/<phase>-<pool> for every pool in pools.yaml, or remove the "
            "placement")
