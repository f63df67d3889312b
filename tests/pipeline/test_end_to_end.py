"""Must show 1 and 2, end to end through Prefect's own command line: a real `prefect server start` on
loopback, process workers, `prefect --no-prompt deploy --all` from prefect.yaml, and
`prefect deployment run iteration/hex8 -p profile=tiny`; then a worker killed in the middle of an
iteration, and the re-run that skips the phases which had finished (their task runs show as Cached)."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from infra.gamestore import GameStore
from infra.registry import ModelRegistry

from . import api
from .stack import Stack, deployed_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    yield from deployed_stack(tmp_path_factory.mktemp("e2e"))


def games(stack: Stack) -> int:
    with GameStore(stack.data / "games" / "hex8_2p.db", "t", read_only=True) as store:
        return store.count()


def phase_states(stack: Stack, flow_run_id: str) -> dict[str, str]:
    return {name: api.state(run)["name"] for name, run in api.task_runs(stack.api, flow_run_id).items()}


def test_deployment_run_through_the_cli_completes_every_phase(stack):
    """Must show 1: every phase completes, artifacts present, games, a model and ratings in the stores."""
    worker = stack.worker("w1")
    run_id = stack.run_deployment("iteration/hex8", "profile=tiny")
    run = stack.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert phase_states(stack, run_id) == dict.fromkeys(
        ("selfplay", "sync", "cmaes", "train", "profile_sync", "evaluate", "gate", "monitor"), "Completed")
    found = api.artifacts(stack.api, run_id)
    assert {"iteration-hex8-2p", "seat-win-rates", "resources-hex8-2p", "selfplay-progress-hex8-2p"} <= set(found)
    summary = found["iteration-hex8-2p"]["data"]
    assert "# Iteration 1 · hex8_2p · profile tiny" in summary
    assert games(stack) == 6
    assert "leaderboard-hex8-2p" in found and "| gate | in-process | Completed |" in summary
    with ModelRegistry(stack.data / "registry.db") as reg:
        models = reg.models_frame("hex8", 2)
        assert len(models) == 1 and models["rating"].notna().all() and len(reg.ratings_frame()) == 1
    stack.kill(worker)


def test_killed_worker_then_rerun_skips_finished_phases(stack):
    """Must show 2: the worker dies while sync runs; the re-run serves selfplay from its cache."""
    hung = stack.worker("w2", RIFT_FAULTS="sync=hang")
    first = stack.run_deployment("iteration/hex8", "profile=tiny")
    deadline = time.monotonic() + 120
    while phase_states(stack, first).get("sync") != "Running":
        assert time.monotonic() < deadline, f"sync never started: {phase_states(stack, first)}"
        time.sleep(0.5)
    assert phase_states(stack, first)["selfplay"] == "Completed" and games(stack) == 12
    stack.kill(hung)
    assert api.flow_run(stack.api, first)["state"]["type"] == "RUNNING"  # nobody left to finish it

    stack.worker("w3")
    second = stack.run_deployment("iteration/hex8", "profile=tiny")
    run = stack.wait(second)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert phase_states(stack, second) == {"selfplay": "Cached", **dict.fromkeys(
        ("sync", "cmaes", "train", "profile_sync", "evaluate", "gate", "monitor"), "Completed")}
    summary = api.artifacts(stack.api, second)["iteration-hex8-2p"]["data"]
    assert "# Iteration 2 · hex8_2p" in summary and "| selfplay | in-process | Cached |" in summary
    assert games(stack) == 12  # iteration 2's six games, stored once
