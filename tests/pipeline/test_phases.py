"""The train, evaluate, gate, cmaes and profile_sync phases as plain functions on the tiny profile."""
from __future__ import annotations

import json

import pytest

from infra.pipeline_config import GateSettings
from infra.registry import ModelRegistry
from infra.storage import ArtifactStore
from tasks import cmaes as cmaes_phase
from tasks import evaluate as evaluate_phase
from tasks import gate as gate_phase
from tasks import profile_sync as profile_sync_phase
from tasks import train as train_phase
from tasks.gate import decide
from tasks.selfplay import play_and_store


def registry(ctx) -> ModelRegistry:
    return ModelRegistry(ctx.data().registry_path)


def test_train_registers_a_candidate_with_metrics_then_one_with_its_parent(make_ctx):
    ctx = make_ctx(selfplay={"games": 2})
    play_and_store(ctx)
    first = train_phase.train.fn(ctx=ctx, upstream=[])
    assert first["phase"] == "train" and first["parent"] is None and first["shard_samples"] > 0
    assert first["metrics"]["samples"] > 0 and first["metrics"]["train_policy_loss"] > 0
    with registry(ctx) as reg:
        model = reg.get(first["model"])
        assert model["status"] == "candidate" and model["iteration"] == 1 and model["metrics"]["samples"] > 0
        reg.promote(first["model"])
    nxt = make_ctx(iteration=2, selfplay={"games": 2})
    play_and_store(nxt)
    second = train_phase.train.fn(ctx=nxt, upstream=[])
    assert second["parent"] == first["model"]
    with registry(ctx) as reg:
        assert [m["id"] for m in reg.lineage(second["model"])] == [second["model"], first["model"]]


def test_evaluate_records_ratings_and_gate_decides(make_ctx):
    ctx = make_ctx(selfplay={"games": 2}, evaluate={"games": 4})
    play_and_store(ctx)
    model = train_phase.train.fn(ctx=ctx, upstream=[])["model"]
    ev = evaluate_phase.evaluate.fn(ctx=ctx, upstream=["games-x", model])
    assert ev["candidate"] == model and ev["games"] == 4 and set(ev["vs"]) == {"D1"}
    with registry(ctx) as reg:
        history = reg.ratings_frame(model)
        assert len(history) == 1 and round(history.iloc[0]["rating"], 1) == ev["rating"]
    record = json.loads(evaluate_phase.evaluation_path(ctx.data(), ctx).read_text())
    assert record["matches"]["D1"]["games"] == 4 and len(record["matches"]["D1"]["seat_win_rates"]) == 2
    g = gate_phase.gate.fn(ctx=ctx, upstream=[])
    assert g["reference"] == "D1" and g["games"] == 4
    assert g["rule"] in ("sprt", "too-few-games") and "llr" in g["sprt"]
    with registry(ctx) as reg:
        assert reg.get(model)["status"] == ("active" if g["promoted"] else "deprecated")


def test_gate_rules_on_constructed_results():
    gate = GateSettings()  # 55% over >= 10 games, SPRT [0, 35]
    assert decide(7, 0, 3, gate)["promote"] and decide(7, 0, 3, gate)["rule"] == "threshold"
    assert not decide(5, 0, 5, gate)["promote"] and decide(5, 0, 5, gate)["rule"] == "threshold"
    few = decide(5, 0, 1, gate)
    assert not few["promote"] and few["rule"] == "too-few-games"
    strong = decide(150, 0, 50, gate)
    assert strong["promote"] and strong["rule"] == "sprt" and strong["sprt"]["decision"] == "H1"
    weak = decide(300, 100, 300, gate)
    assert not weak["promote"] and weak["rule"] == "sprt" and weak["sprt"]["decision"] == "H0"


def test_cmaes_saves_a_confirmed_profile_and_profile_sync_keeps_the_best(make_ctx):
    """The tuned profile's fitness is its confirmation score against the fixed reference, recorded
    with games, seed and interval; profile_sync keeps it only when it beats the current best (here
    the repository's default, which is the reference itself: 0.5 by symmetry)."""
    ctx = make_ctx(cmaes={"population": 2, "generations": 1, "games_per_candidate": 2})
    out = cmaes_phase.cmaes.fn(ctx=ctx, upstream=[])
    assert out["candidates"] == 2 and 0.0 <= out["fitness"] <= 1.0
    store = ArtifactStore.from_config(ctx.data())
    saved = json.loads(store.read_bytes(out["key"]))
    confirm = saved["metadata"]["confirm"]
    assert saved["fitness"] == out["fitness"] == confirm["score"] and saved["version"] == out["version"]
    assert confirm["reference"] == out["reference"] == saved["metadata"]["reference"]["id"]
    assert confirm["games"] == 4 and confirm["ci95"][0] <= confirm["score"] <= confirm["ci95"][1]
    assert confirm["seed"] not in saved["metadata"]["tuning"]["seeds"]
    worse = json.loads(json.dumps(saved))
    worse["metadata"]["confirm"]["score"] = worse["fitness"] = confirm["score"] - 0.25
    worse["weights"]["mobility"] += 1.0
    store.write_bytes("profiles/hex8_2p/other-host/worse.json", json.dumps({**worse, "version": "worse"}).encode())
    store.write_bytes("profiles/hex8_2p/other-host/broken.json", b"{not json")
    store.close()
    synced = profile_sync_phase.profile_sync.fn(ctx=ctx, upstream=[])
    better = out["fitness"] > 0.5
    assert synced["invalid"] == 1 and synced["changed"] == better and synced["refused"] == []
    assert synced["best"] == (out["version"] if better else "default-v1") and synced["remeasured"] == 0
    if better:
        best = json.loads((ctx.data().data_dir / "profiles" / "hex8_2p.json").read_text())
        assert best["fitness"] == out["fitness"] and best["metadata"]["confirm"] == confirm
    again = profile_sync_phase.profile_sync.fn(ctx=ctx, upstream=[])
    assert not again["changed"] and again["best"] == synced["best"]


def test_evaluate_refuses_a_baseline_that_plays_the_current_net(make_ctx):
    """A baseline anchors the ratings at 0 Elo: one that plays whatever net is best (D9, nn) would
    move the anchor between iterations, so it is refused before any game, naming it."""
    ctx = make_ctx(evaluate={"games": 2, "baselines": ["D1", "D9"]})
    with pytest.raises(ValueError, match=r"evaluate.baselines \['D9'\]"):
        evaluate_phase.run_evaluation(ctx, [])
