"""Work pools, concurrency limits and automations on the Prefect server, from `config/pools.yaml`.

`strict=True` concurrency fails on a limit that does not exist, and a non-strict
one silently limits nothing (shared/PREFECT.md), so the limits the pipeline takes
are created here before use: by `rift up` for the whole fleet, and by the selfplay
task for its per-host limit when it runs against a server nobody has set up.
"""
from __future__ import annotations

import logging

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from infra.pipeline_config import PoolsConfig

log = logging.getLogger(__name__)


def ensure_limit(name: str, limit: int) -> None:
    """Create the global concurrency limit `name` with `limit` slots unless it exists."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
            log.info("created concurrency limit %s with %d slots", name, limit)
        except ObjectAlreadyExists:  # another run created it first
            pass


def ensure_pools(pools: PoolsConfig, only: list[str] | None = None) -> list[str]:
    """Create (or update the limits of) the process work pools and their `gpu-<pool>` limits."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker
    template = ProcessWorker.get_default_base_job_template()
    made = []
    with get_client(sync_client=True) as client:
        for name, pool in pools.pools.items():
            if only is not None and name not in only:
                continue
            client.create_work_pool(WorkPoolCreate(name=name, type=pool.type, description=pool.description,
                                                   base_job_template=template,
                                                   concurrency_limit=pool.concurrency), overwrite=True)
            made.append(name)
    for name, pool in pools.pools.items():
        if pool.gpu_slots and (only is None or name in only):
            ensure_limit(f"gpu-{name}", pool.gpu_slots)
    return made


ZOMBIE_AUTOMATION = "rift: crash flow runs without heartbeats"


def ensure_zombie_automation(within_s: int = 90) -> bool:
    """Mark flow runs Crashed when their heartbeats stop (a worker's machine died), so a dead run does not
    stay Running forever. Workers must run with PREFECT_FLOWS_HEARTBEAT_FREQUENCY (>= 30 s; `rift up` sets
    it). Returns False when the automation already existed."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification
    try:
        Automation.read(name=ZOMBIE_AUTOMATION)
        return False
    except ValueError:  # not found
        pass
    Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=within_s)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {within_s} s: its worker or machine died")],
    ).create()
    return True


CONTINUOUS_TRIGGERED = ("continuous-train", "continuous-evaluate")  # flows whose deployments have triggers


def set_continuous_triggers(boards: list[str], enabled: bool) -> list[str]:
    """Turn the continuous-mode triggers of `boards` on or off; returns the automations changed.

    `prefect deploy` creates a deployment's triggers as automations owned by it, `enabled` as
    prefect.yaml declares (off); they are switched here through the API rather than by deploying
    a second copy of prefect.yaml, so turning continuous mode on or off never redeploys anything.
    """
    changed = []
    with get_client(sync_client=True) as client:
        for flow in CONTINUOUS_TRIGGERED:
            for board in boards:
                try:
                    deployment = client.read_deployment_by_name(f"{flow}/{board}")
                except ObjectNotFound:
                    raise ValueError(f"deployment {flow}/{board} not found: deploy prefect.yaml first "
                                     "(`rift up` or `prefect --no-prompt deploy --all`)") from None
                for automation in client.read_resource_related_automations(f"prefect.deployment.{deployment.id}"):
                    (client.resume_automation if enabled else client.pause_automation)(automation.id)
                    changed.append(f"{flow}/{board}")
    return changed
