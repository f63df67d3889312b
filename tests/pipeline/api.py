"""Reading flow runs, task runs, their states and artifacts over the Prefect REST API (plain httpx),
the same way for the in-process test server and a `prefect server start` process."""
from __future__ import annotations

import time
from typing import Any

import httpx


def current_api() -> str:
    from prefect.settings import PREFECT_API_URL
    return str(PREFECT_API_URL.value())


def post(api: str, path: str, body: dict[str, Any]) -> Any:
    resp = httpx.post(f"{api}{path}", json=body, timeout=30)
    resp.raise_for_status()
    return resp.json()


def get(api: str, path: str) -> Any:
    resp = httpx.get(f"{api}{path}", timeout=30)
    resp.raise_for_status()
    return resp.json()


def delete(api: str, path: str) -> None:
    httpx.delete(f"{api}{path}", timeout=30).raise_for_status()


def logs(api: str, flow_run_id: str) -> str:
    """The flow run's log messages, oldest first, one per line."""
    found = post(api, "/logs/filter", {"logs": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "limit": 200,
                                       "sort": "TIMESTAMP_ASC"})
    return "\n".join(entry["message"] for entry in found)


def state(run: dict[str, Any]) -> dict[str, Any]:
    """A run's state, or an empty one: a task run is first recorded (from its event) before its state
    arrives, so a run read while it starts may have `"state": null`."""
    return run.get("state") or {"type": None, "name": None}


def flow_run(api: str, flow_run_id: str) -> dict[str, Any]:
    return get(api, f"/flow_runs/{flow_run_id}")


FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def task_runs(api: str, flow_run_id: str, settled: tuple[str, ...] = (),
              timeout: float = 300) -> dict[str, dict[str, Any]]:
    """Task runs of a flow run by phase name (the first word of the run name), with their state history,
    once each phase named in `settled` is there in a final state. Prefect records task runs from events
    the server consumes in the background, so right after a flow returns they may not all be written
    yet (a loaded machine showed none): poll until they are, up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        runs = post(api, "/task_runs/filter", {"flow_runs": {"id": {"any_": [str(flow_run_id)]}}, "limit": 200,
                                                "sort": "EXPECTED_START_TIME_ASC"})
        out = {run["name"].split()[0]: run for run in runs}
        if all(p in out and state(out[p])["type"] in FINAL for p in settled) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for run in out.values():
        run["history"] = get(api, f"/task_run_states/?task_run_id={run['id']}")
    return out


def artifacts(api: str, flow_run_id: str) -> dict[str, dict[str, Any]]:
    found = post(api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}},
                                            "limit": 200, "sort": "CREATED_DESC"})
    return {a["key"] or a["type"]: a for a in found}
