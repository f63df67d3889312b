"""Continuous mode end to end on a real `prefect server start` with a process worker: `rift continuous on`
turns the evaluation trigger on and starts a selfplay loop through its deployment; nobody starts training
or evaluation by hand. The loop queues `continuous-train` when `--train-every` new games are stored, whose
`rift.model.registered` makes the server's trigger start `continuous-evaluate` with the model id from the
event. `rift continuous off --wait` with batches and a training in flight drains: nothing is created
after it returns, every model is rated, no game is stored twice (Must show 1 and 2 of issue 18)."""
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
    for s in deployed_stack(tmp_path_factory.mktemp("continuous")):
        s.worker("w1")
        yield s


def runs_of(stack: Stack, flow: str) -> list[dict]:
    return api.post(stack.api, "/flow_runs/filter", {"flows": {"name": {"any_": [flow]}}, "limit": 200,
                                                     "sort": "EXPECTED_START_TIME_ASC"})


def wait_for_run(stack: Stack, flow: str, timeout: float = 900) -> dict:
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


def all_runs(stack: Stack) -> list[dict]:
    """Every run of the continuous flows (backup/hourly's cron schedule creates runs of its own)."""
    flows = {"flows": {"name": {"any_": ["continuous-selfplay", "continuous-train", "continuous-evaluate"]}}}
    out: list[dict] = []
    while page := api.post(stack.api, "/flow_runs/filter", {**flows, "limit": 200, "offset": len(out)}):
        out += page
    return out


def test_training_and_evaluation_start_from_new_data_and_events(stack):
    assert triggers_enabled(stack) == {"continuous-evaluate": False}  # as deployed; training has no trigger
    train_deployment = api.get(stack.api, "/deployments/name/continuous-train/hex8")
    assert train_deployment["global_concurrency_limit"]["limit"] == 1
    assert train_deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    out = stack.cli(str(BIN / "python"), "-m", "cli.main", "continuous", "on", "--board", "hex8",
                    "--profile", "tiny", "--batches", "3", "--train-every", "12")
    assert "continuous triggers on:" in out and "continuous-selfplay/hex8" in out
    assert triggers_enabled(stack) == {"continuous-evaluate": True}

    selfplay = stack.wait(runs_of(stack, "continuous-selfplay")[0]["id"], timeout=900)
    assert selfplay["state"]["type"] == "COMPLETED", selfplay["state"]
    train = wait_for_run(stack, "continuous-train")
    assert train["state"]["type"] == "COMPLETED", train["state"]
    assert train["parameters"] == {"board": "hex8", "players": 2, "profile": "tiny", "min_games": 12}
    evaluate = wait_for_run(stack, "continuous-evaluate")
    assert evaluate["state"]["type"] == "COMPLETED", evaluate["state"]

    with ModelRegistry(stack.data / "registry.db") as reg:
        models = reg.models_frame("hex8", 2)
    assert len(models) == 1 and models["rating"].notna().all()
    model = models.iloc[0]["id"]
    assert evaluate["parameters"]["model"] == model and evaluate["parameters"]["iteration"] == 1
    with GameStore(stack.data / "games" / "hex8_2p.db", "t", read_only=True) as store:
        assert store.count() == 18  # three batches of six

    # who started what: the loop after the 2nd batch (12 new games), the trigger on the registration
    added, registered = events(stack, "rift.games.added"), events(stack, "rift.model.registered")
    assert len(added) == 3 and len(registered) == 1
    assert [e["payload"]["since_training"] for e in added[:2]] == [6, 12]
    started = started_by_automation(stack)
    assert train["id"] not in started and started[evaluate["id"]] == registered[0]["id"]
    assert stamp(added[1]["occurred"]) <= stamp(train["created"])
    assert len(runs_of(stack, "continuous-train")) == 1  # the 3rd batch: 6 new games, or a training alive
    out = stack.cli(str(BIN / "python"), "-m", "cli.main", "continuous", "off", "--board", "hex8")
    assert "continuous triggers off:" in out and "drained" in out
    assert triggers_enabled(stack) == {"continuous-evaluate": False}


def test_off_waits_for_work_in_flight_and_leaves_nothing_behind(stack):
    """Selfplay without a batch limit, a training every 12 new games; `off --wait` once a training is
    running: afterwards no run is created or alive, every model is rated, no game is stored twice, and
    every training found its games (one model per training, at most one per 12 games)."""
    out = stack.cli(str(BIN / "python"), "-m", "cli.main", "continuous", "on", "--board", "hex8",
                    "--profile", "tiny", "--train-every", "12")
    assert "continuous-selfplay/hex8" in out
    trainings_before = len(runs_of(stack, "continuous-train"))
    deadline = time.monotonic() + 900
    while not any(api.state(r)["type"] == "RUNNING" for r in runs_of(stack, "continuous-train")[trainings_before:]):
        assert time.monotonic() < deadline, "no training started within 900 s"
        time.sleep(1)
    out = stack.cli(str(BIN / "python"), "-m", "cli.main", "continuous", "off", "--board", "hex8", "--wait",
                    timeout=1800)
    assert "drained" in out, out
    ended = {r["id"]: api.state(r)["type"] for r in all_runs(stack)}
    assert not {k: v for k, v in ended.items() if v not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")}
    time.sleep(30)  # anything still on its way from before `off` returned would show up now
    assert {r["id"] for r in all_runs(stack)} == set(ended), "a flow run was created after `off` returned"

    trains = runs_of(stack, "continuous-train")
    bad = [(r["name"], api.state(r)["type"], api.state(r).get("message")) for r in trains
           if api.state(r)["type"] not in ("COMPLETED", "CANCELLED")]
    assert not bad, f"trainings that neither completed nor were cancelled (of {len(trains)}): {bad}"
    trained = [r for r in trains if api.state(r)["type"] == "COMPLETED"]
    with ModelRegistry(stack.data / "registry.db") as reg:
        models = reg.models_frame("hex8", 2)
    assert len(models) == len(trained) >= 1  # every training that ran trained (none found nothing new)
    assert models["rating"].notna().all() and (models["status"] != "candidate").all(), models
    with GameStore(stack.data / "games" / "hex8_2p.db", "t", read_only=True) as store:
        ids, stored = store.ids(), store.count()
    assert len(set(ids)) == len(ids) == stored
    assert len(trains) <= stored // 12
    print(f"off --wait: {out.strip()}; {stored} games, {len(trained)} trainings, {len(models)} models rated")
