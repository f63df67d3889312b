"""Waiting for a placed phase's flow run, with a limit on how long it may run on its host.

Why not `run_deployment(timeout=T)`: its timeout counts from creation, so a run still queued for
a GPU host that is coming back would be given up, and a late run is left running. What the
iteration needs is the opposite: wait as long as it takes for a worker of the pool (a dead host's
run is already marked Crashed by the heartbeat automation and scheduled again), but bound the time
a run spends *running* — a host that is alive and heartbeating but stuck (a deadlock, a hung
device) would otherwise hold the iteration forever. Past the limit the run is cancelled the Prefect
way (state Cancelling: its worker stops the process) and the caller schedules it again.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

POLL_S = 5.0
CANCEL_WAIT_S = 120.0  # how long a cancelled run gets to stop before the next one is scheduled


def running_seconds(run: Any, now: datetime | None = None) -> float | None:
    """Seconds `run` has been running, or None when it is not running (queued, final)."""
    state = run.state
    if state is None or not state.is_running() or run.start_time is None:
        return None
    return ((now or datetime.now(timezone.utc)) - run.start_time).total_seconds()


def wait_placed(run_id: UUID | str, timeout_s: float | None, poll_s: float = POLL_S,
                cancel_wait_s: float = CANCEL_WAIT_S) -> tuple[Any, bool]:
    """(the flow run once final, False), or (the run after cancelling it, True) when it ran longer
    than `timeout_s` on its host. Queue time is not counted; None waits without a limit."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    from tasks.continuous_control import wait_final
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run, False
            ran = running_seconds(run)
            if timeout_s is not None and ran is not None and ran > timeout_s:
                client.set_flow_run_state(run_id, Cancelling(
                    message=f"ran {ran:.0f} s on its host, past the phase's limit of {timeout_s:.0f} s "
                            f"(config/pools.yaml phase_timeout_s); the iteration schedules it again"), force=True)
                try:
                    wait_final([run_id], cancel_wait_s)
                except TimeoutError:  # still stopping: the next run is scheduled all the same
                    pass
                return client.read_flow_run(run_id), True
            time.sleep(poll_s)
