"""Phase logic as plain functions (no Prefect server): selfplay, sync, monitor, keys, errors, plan."""
from __future__ import annotations

import pytest
from prefect.filesystems import LocalFileSystem

from flows.plan import build_plan, describe_settings
from infra.data_config import load_data_config
from infra.gamestore import GameStore
from infra.pipeline_config import RetrySettings, load_pipeline_config, load_pools_config
from infra.storage import ArtifactStore
from tasks import monitor as monitor_phase
from tasks.common import (InjectedFault, PermanentPhaseError, PhaseError, inject_fault, phase_key, retry_options,
                          run_phase)
from tasks.selfplay import play_and_store
from tasks.sync import sync_all


def stored(ctx) -> GameStore:
    data = ctx.data()
    return GameStore(data.game_db_path(ctx.board, ctx.players), data.source_host, read_only=True)


def test_selfplay_stores_tagged_games_and_a_rerun_adds_none(make_ctx):
    ctx = make_ctx()
    first = play_and_store(ctx)
    assert (first["games"], first["inserted"], first["store_games"]) == (6, 6, 6)
    again = play_and_store(ctx)  # the resumed phase: same seeds, same ids
    assert (again["inserted"], again["already_present"], again["store_games"]) == (0, 6, 6)
    assert again["id"] == first["id"]
    with stored(ctx) as store:
        record = store.get(store.ids()[0])
    meta = record["metadata"]
    assert meta["pipeline"]["iteration"] == 1 and meta["pipeline"]["profile"] == "tiny"
    assert meta["playerVersions"] == ["random", "random"] and meta["engines"] == ["random", "random"]
    nxt = play_and_store(make_ctx(iteration=2))
    assert nxt["inserted"] == 6 and nxt["store_games"] == 12 and nxt["id"] != first["id"]


def test_selfplay_process_pool_plays_the_same_games(make_ctx, tmp_path):
    one = make_ctx(data_dir=tmp_path / "one", selfplay={"games": 4})
    two = make_ctx(data_dir=tmp_path / "two", selfplay={"games": 4, "processes": 2})
    play_and_store(one)
    play_and_store(two)
    with stored(one) as a, stored(two) as b:
        # the same games by id and content; the pool stores each chunk as it ends, so not in the same order
        games = {r["id"]: h for h, r in a.iter_records()}
        assert len(games) == 4 and games == {r["id"]: h for h, r in b.iter_records()}


def test_selfplay_refuses_an_engine_this_build_lacks(make_ctx):
    ctx = make_ctx(selfplay={"mix": "heuristic-only"})
    ctx = ctx.model_copy(update={"mix": {"no-such-engine": 1.0}})
    with pytest.raises(PermanentPhaseError, match="phase 'selfplay' failed .*engine 'no-such-engine'"):
        run_phase("selfplay", ctx, lambda: play_and_store(ctx))


def test_sync_ingests_games_published_by_a_placed_selfplay_once(make_ctx, tmp_path):
    worker = make_ctx(data_dir=tmp_path / "worker").model_copy(update={"placed": True})
    produced = play_and_store(worker)
    assert produced["published"].startswith("sync/hex8_2p/")
    shared = ArtifactStore(LocalFileSystem(basepath=str(tmp_path / "worker" / "artifacts")), tmp_path / "outbox")
    coordinator = make_ctx(data_dir=tmp_path / "coord")
    first = sync_all(coordinator, shared)
    assert (first["keys"], first["inserted"], first["store_games"]) == (1, 6, 6)
    second = sync_all(coordinator, shared)
    assert (second["keys"], second["inserted"], second["store_games"]) == (0, 0, 6)
    assert second["id"] != first["id"] or second["store_games"] == first["store_games"]
    shared.close()


def test_monitor_reports_this_machine(make_ctx):
    result = monitor_phase.snapshot(make_ctx())
    row = result["rows"][0]
    assert result["hosts"] == 1 and set(monitor_phase.COLUMNS) <= set(row)
    assert 0 <= row["cpu_pct"] <= 100 and row["health"] in ("healthy", "degraded", "unhealthy")


def test_cache_keys_name_the_phase_and_every_input(make_ctx, tmp_path):
    ctx = make_ctx()
    keys = {phase_key(p, ctx, []) for p in ("selfplay", "sync", "monitor", "train")}
    assert len(keys) == 4, "same inputs, different phases: never one cache entry (the INPUTS trap)"
    base = phase_key("sync", ctx, ["games-a"])
    assert base == phase_key("sync", make_ctx(), ["games-a"])
    assert base != phase_key("sync", ctx, ["games-b"])                                  # upstream artifact
    assert base != phase_key("sync", make_ctx(iteration=2), ["games-a"])                # iteration
    assert base != phase_key("sync", make_ctx(selfplay={"games": 7}), ["games-a"])      # settings
    assert base != phase_key("sync", make_ctx(data_dir=tmp_path / "elsewhere"), ["games-a"])
    assert base != phase_key("sync", make_ctx(board="square8"), ["games-a"])


def test_errors_name_the_phase_and_permanent_ones_are_not_retried(make_ctx, monkeypatch):
    ctx = make_ctx()

    def boom() -> dict:
        raise OSError("disk full")
    with pytest.raises(PhaseError) as err:
        run_phase("train", ctx, boom)
    assert not isinstance(err.value, PermanentPhaseError)
    assert str(err.value) == "phase 'train' failed for hex8_2p iteration 1 (profile tiny): OSError: disk full"
    with pytest.raises(PermanentPhaseError):
        run_phase("train", ctx, lambda: {}["missing"])
    monkeypatch.setenv("RIFT_FAULTS", "gate=fail,sync=fail")
    with pytest.raises(InjectedFault, match="phase sync"):
        inject_fault("sync")
    inject_fault("selfplay")  # not named: nothing happens
    result = run_phase("selfplay", ctx, lambda: {"id": "x"})
    assert result["phase"] == "selfplay" and result["seconds"] >= 0


def test_retry_delays_back_off_exponentially():
    opts = retry_options(RetrySettings(count=3, backoff_s=2, jitter=0.5))
    assert opts["retries"] == 3 and opts["retry_jitter_factor"] == 0.5
    assert opts["retry_delay_seconds"](3) == [2, 4, 8]


def test_plan_lists_unavailable_phases_and_placements(make_ctx):
    cfg = load_pipeline_config()
    pools = load_pools_config().model_copy(update={"placement": {"selfplay": "vast-5090"}})
    ctx = make_ctx()
    plan = build_plan(cfg, pools, ctx)
    steps = {s.phase: s for s in plan.steps}
    assert [s.phase for s in plan.steps] == cfg.phases
    assert steps["selfplay"].deployment == "phase/selfplay-vast-5090" and steps["sync"].where == "in-process"
    for step in plan.steps:
        assert bool(step.task) != bool(step.unavailable), step.phase
    assert "6 games, mix random-only" in describe_settings("selfplay", ctx.settings, ctx.mix)
    local = build_plan(cfg, pools, ctx, ["selfplay"], local=True)
    assert [s.phase for s in local.steps] == ["selfplay"] and local.steps[0].deployment is None
    with pytest.raises(ValueError, match="unknown phase"):
        build_plan(cfg, pools, ctx, ["selfpley"])


def test_data_folder_comes_from_the_context(make_ctx, tmp_path):
    assert make_ctx(data_dir=tmp_path / "x").data().data_dir == load_data_config(data_dir=tmp_path / "x").data_dir


def test_local_backup_skips_unchanged_and_reuploads_what_the_target_lost(make_ctx, tmp_path):
    from infra.pipeline_config import BackupSettings
    from tasks.backup import IncrementalBackup
    ctx = make_ctx()
    play_and_store(ctx)
    cfg = ctx.data()
    store = ArtifactStore(LocalFileSystem(basepath=str(tmp_path / "target")), tmp_path / "outbox")
    assert store.list_keys("backups/incremental/latest.json") == []
    job = IncrementalBackup(cfg, store, BackupSettings())
    assert job.run()["uploaded_objects"] == 1 and job.run()["uploaded_objects"] == 0
    assert store.list_keys("backups/incremental/latest.json") == ["backups/incremental/latest.json"]
    for key in store.list_keys("backups/incremental/objects"):
        (tmp_path / "target" / key).unlink()  # the target lost the object; the local state still knows it
    for key in store.list_keys("backups/incremental/"):
        (tmp_path / "target" / key).unlink()
    assert job.run()["uploaded_objects"] == 1
    assert job.restore(tmp_path / "restored")["restored"] == 1
    store.close()
