"""The iteration flow in-process against the session's Prefect server: resume from cache, and a phase
that keeps failing (Must show 3)."""
from __future__ import annotations

from datetime import datetime

import pytest
from flows.iteration import iteration
from infra.gamestore import GameStore
from . import api


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def task_runs(flow_run_id, settled: tuple[str, ...] = ()) -> dict:
    return api.task_runs(api.current_api(), flow_run_id, settled)

PHASES = ("selfplay", "sync", "cmaes", "train", "profile_sync", "evaluate", "gate", "monitor")


def artifacts(flow_run_id) -> dict:
    return api.artifacts(api.current_api(), flow_run_id)


def test_iteration_runs_then_resumes_from_cache(prefect_api, tmp_path):
    data = str(tmp_path / "data")
    first = iteration("hex8", 2, "tiny", data_dir=data, return_state=True)
    assert first.is_completed(), first.message
    summary = first.result()
    assert summary["iteration"] == 1
    ran = {p: i["state"] for p, i in summary["phases"].items() if i["state"] != "Skipped"}
    assert ran == dict.fromkeys(PHASES, "Completed")
    runs = task_runs(first.state_details.flow_run_id, tuple(ran))
    assert {name: run["state"]["name"] for name, run in runs.items()} == ran
    found = artifacts(first.state_details.flow_run_id)
    assert {"iteration-hex8-2p", "seat-win-rates", "resources-hex8-2p", "selfplay-progress-hex8-2p",
            "leaderboard-hex8-2p"} <= set(found)
    assert "| selfplay | in-process | Completed |" in found["iteration-hex8-2p"]["data"]
    # the same iteration again: every finished phase is served from its cache, nothing is played twice
    again = iteration("hex8", 2, "tiny", data_dir=data, iteration=1)
    assert {p: i["state"] for p, i in again["phases"].items() if i["state"] != "Skipped"} == dict.fromkeys(
        PHASES, "Cached")
    nxt = iteration("hex8", 2, "tiny", data_dir=data, phases=["selfplay"])  # iteration 2: new games
    assert nxt["iteration"] == 2 and nxt["phases"]["selfplay"]["state"] == "Completed"
    with GameStore(tmp_path / "data" / "games" / "hex8_2p.db", "t", read_only=True) as store:
        assert store.count() == 12


def test_a_failing_phase_is_retried_with_backoff_then_fails_the_run_by_name(prefect_api, tmp_path,
                                                                            monkeypatch):
    """Must show 3: sync fails every time (injected); it is tried 1 + 2 times with growing delays, the
    run fails naming the phase and the cause, and selfplay's games stay stored."""
    monkeypatch.setenv("RIFT_FAULTS", "sync=fail")
    state = iteration("square8", 2, "tiny", data_dir=str(tmp_path / "data"), return_state=True)
    assert state.is_failed()
    assert "phase 'sync' failed for square8_2p iteration 1 (profile tiny) (attempt 3)" in state.message
    assert "InjectedFault: injected fault in phase sync" in state.message
    runs = task_runs(state.state_details.flow_run_id, ("selfplay", "sync"))
    sync_run = runs["sync"]
    assert sync_run["state"]["type"] == "FAILED" and sync_run["run_count"] == 3
    delays = [(parse(s["state_details"]["scheduled_time"]) - parse(s["timestamp"])).total_seconds()
              for s in sync_run["history"] if s["name"] == "AwaitingRetry"]
    assert len(delays) == 2  # backoff 0.2 s then 0.4 s, each scaled by 0.5..1.5 (jitter)
    assert 0.1 - 0.05 <= delays[0] <= 0.3 + 0.05 and 0.2 - 0.05 <= delays[1] <= 0.6 + 0.05
    assert runs["selfplay"]["state"]["type"] == "COMPLETED"
    with GameStore(tmp_path / "data" / "games" / "square8_2p.db", "t", read_only=True) as store:
        assert store.count() == 6 and not store.check()  # earlier phase's output intact
    summary = artifacts(state.state_details.flow_run_id)["iteration-square8-2p"]["data"]
    assert "**Failed:** phase 'sync' failed" in summary and "| sync | in-process | Failed |" in summary
    assert not (tmp_path / "data" / "pipeline" / "square8_2p" / "iterations.json").exists()


@pytest.mark.parametrize("phases", [["monitor"]])
def test_one_phase_alone_does_not_complete_the_iteration(prefect_api, tmp_path, phases):
    out = iteration("hex8", 3, "tiny", data_dir=str(tmp_path / "data"), phases=phases)
    assert list(out["phases"]) == phases and out["phases"]["monitor"]["state"] == "Completed"
    assert not (tmp_path / "data" / "pipeline" / "hex8_3p" / "iterations.json").exists()


def test_selfplay_takes_a_slot_of_its_host_limit(prefect_api, tmp_path):
    """host_slots: the per-host limit is created on first use (strict, so a typo cannot limit nothing)."""
    import socket

    import yaml
    from prefect.client.orchestration import get_client

    from infra.pipeline_config import PROJECT_ROOT
    data = yaml.safe_load((PROJECT_ROOT / "config" / "pipeline.yaml").read_text())
    data["profiles"]["tiny"]["selfplay"]["host_slots"] = 2
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(data))
    out = iteration("hex8", 4, "tiny", data_dir=str(tmp_path / "data"), phases=["selfplay"],
                    pipeline_config=str(config))
    assert out["phases"]["selfplay"]["state"] == "Completed"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(f"selfplay-{socket.gethostname()}".lower())
    assert limit.limit == 2 and limit.active_slots == 0  # taken during the phase, released after


def test_pools_limits_and_zombie_automation_are_created_once(prefect_api):
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client

    from infra.pipeline_config import load_pools_config
    from tasks.limits import ZOMBIE_AUTOMATION, ensure_pools, ensure_zombie_automation
    pools = load_pools_config()
    assert ensure_pools(pools) == list(pools.pools) == ensure_pools(pools)  # idempotent
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("vast-5090").concurrency_limit == 8
        assert client.read_global_concurrency_limit_by_name("gpu-vast-5090").limit == 2
    assert ensure_zombie_automation() is True and ensure_zombie_automation() is False
    assert Automation.read(name=ZOMBIE_AUTOMATION).actions[0].state.value == "CRASHED"
