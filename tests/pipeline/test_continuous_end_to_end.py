"""Continuous mode end to end on a real `prefect server start`: `rift continuous on` turns the triggers
on and starts a selfplay loop through its deployment; nobody starts training or evaluation. The
server's trigger on `rift.games.added` (every 2nd batch) starts `continuous-train`, whose
`rift.model.registered` starts `continuous-evaluate` with the model id from the event."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from infra.gamestore import GameStore
from infra.registry import ModelRegistry

from . import api
from .stack import BIN, Stack, deployed_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from deployed_stack(tmp_path_factory.mktemp("continuous"))


def runs_of(stack: Stack, flow: str) -> list[dict]:
    return api.post(stack.api, "/flow_runs/filter", {"flows": {"name": {"any_": [flow]}}, "limit": 20,
                                                     "sort": "EXPECTED_START_TIME_ASC"})


def wait_for_run(stack: Stack, flow: str, timeout: float = 150) -> dict:
    """The first run of `flow`, once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = runs_of(stack, flow)
        if runs and api.state(runs[0])["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return runs[0]
        time.sleep(1)
    raise TimeoutError(f"no finished {flow} run: {[api.state(r)['name'] for r in runs_of(stack, flow)]}")


def events(stack: Stack, name: str) -> list[dict]:
    found = api.post(stack.api, "/events/filter", {"filter": {"event": {"name": [name]},
                                                              "resource": {"id": ["rift.config.hex8_2p"]}},
                                                   "limit": 50})["events"]
    return sorted(found, key=lambda e: e["occurred"])


def started_by_automation(stack: Stack) -> dict[str, str]:
    """flow run id -> id of the event that made an automation start it (`prefect.automation.action.executed`
    names both among its related resources)."""
    found = api.post(stack.api, "/events/filter", {"filter": {"event": {"name": [
        "prefect.automation.action.executed"]}}, "limit": 50})["events"]
    out = {}
    for e in found:
        related = {r["prefect.resource.role"]: r["prefect.resource.id"] for r in e.get("related", [])}
        if "flow-run" in related and "triggering-event" in related:
            out[related["flow-run"].removeprefix("prefect.flow-run.")] = related["triggering-event"].removeprefix(
                "prefect.event.")
    return out


def triggers_enabled(stack: Stack) -> dict[str, bool]:
    """`<flow>/hex8` -> whether its deployment's trigger (an automation it owns) is enabled."""
    out = {}
    for flow in ("continuous-train", "continuous-evaluate"):
        deployment = api.get(stack.api, f"/deployments/name/{flow}/hex8")
        for automation in api.get(stack.api, f"/automations/related-to/prefect.deployment.{deployment['id']}"):
            out[flow] = automation["enabled"]
    return out


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_training_and_evaluation_start_from_events(stack):
    assert triggers_enabled(stack) == {"continuous-train": False, "continuous-evaluate": False}  # as deployed
    train_deployment = api.get(stack.api, "/deployments/name/continuous-train/hex8")
    assert train_deployment["global_concurrency_limit"]["limit"] == 1
    assert train_deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    stack.worker("w1")
    out = stack.cli(str(BIN / "python"), "-m", "cli.main", "continuous", "on", "--board", "hex8",
                    "--profile", "tiny", "--batches", "3")
    assert "continuous triggers on:" in out and "continuous-selfplay/hex8" in out
    assert triggers_enabled(stack) == {"continuous-train": True, "continuous-evaluate": True}

    selfplay = stack.wait(runs_of(stack, "continuous-selfplay")[0]["id"])
    assert selfplay["state"]["type"] == "COMPLETED", selfplay["state"]
    train = wait_for_run(stack, "continuous-train")
    assert train["state"]["type"] == "COMPLETED", train["state"]
    assert train["parameters"] == {"board": "hex8", "players": 2, "profile": "tiny"}  # from the event's labels
    evaluate = wait_for_run(stack, "continuous-evaluate")
    assert evaluate["state"]["type"] == "COMPLETED", evaluate["state"]

    with ModelRegistry(stack.data / "registry.db") as reg:
        models = reg.models_frame("hex8", 2)
    assert len(models) == 1 and models["rating"].notna().all()
    model = models.iloc[0]["id"]
    assert evaluate["parameters"]["model"] == model and evaluate["parameters"]["iteration"] == 1
    with GameStore(stack.data / "games" / "hex8_2p.db", "t", read_only=True) as store:
        assert store.count() == 18  # three batches of six

    # who started what: the triggers, after the 2nd batch's event and the registration event
    added, registered = events(stack, "rift.games.added"), events(stack, "rift.model.registered")
    assert len(added) == 3 and len(registered) == 1
    assert [e["payload"]["since_training"] for e in added[:2]] == [6, 12]
    started = started_by_automation(stack)
    assert started[train["id"]] == added[1]["id"] and started[evaluate["id"]] == registered[0]["id"]
    train_latency = (stamp(train["created"]) - stamp(added[1]["occurred"])).total_seconds()
    eval_latency = (stamp(evaluate["created"]) - stamp(registered[0]["occurred"])).total_seconds()
    assert 0 <= train_latency < 30 and 0 <= eval_latency < 30
    assert len(runs_of(stack, "continuous-train")) == 1  # the 3rd batch alone does not reach the threshold
    print(f"trigger latency: train {train_latency:.2f} s after the 2nd batch's event, evaluate "
          f"{eval_latency:.2f} s after rift.model.registered; train run {train['total_run_time']:.1f} s, "
          f"evaluate run {evaluate['total_run_time']:.1f} s")

    out = stack.cli(str(BIN / "python"), "-m", "cli.main", "continuous", "off", "--board", "hex8")
    assert "continuous triggers off:" in out
    assert triggers_enabled(stack) == {"continuous-train": False, "continuous-evaluate": False}
