"""The closed loop on Prefect: three iterations of the `tiny-az` profile through the iteration flow
against the session's Prefect server, every phase in order. It checks the machinery, never strength,
and no clock: iteration 1 bootstraps from teachers and its net is accepted as the first model; from
iteration 2 the best net plays selfplay (the records name the neural player and the model); training
continues the lineage's newest model; no held-out game (by id) reaches a training shard; the gate
plays the deployed player against the best with the truncated SPRT, and its report (the gate record
and the iteration's markdown) states the rule's false-promotion rate and power at +50 Elo.

tiny-az's gate (at most 4 games, H1 at +50 Elo) cannot promote: the test reads which model was best
from the gate records instead of assuming it, so it holds for any rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.nn.learning import is_holdout
from engine.records import SEARCH_TARGETS
from flows.iteration import iteration
from infra.gamestore import GameStore
from infra.registry import ModelRegistry

from . import api

pytestmark = pytest.mark.slow

PHASES = ("selfplay", "sync", "cmaes", "train", "profile_sync", "evaluate", "gate", "monitor")


def manifests(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "hex8_2p").glob("*.json"))]


def test_closed_loop_bootstraps_then_plays_the_net_holds_out_games_and_reports_the_gate(prefect_api, tmp_path):
    data = tmp_path / "data"
    runs = []
    for _ in range(3):
        state = iteration("hex8", 2, "tiny-az", data_dir=str(data), return_state=True)
        assert state.is_completed(), state.message
        summary = state.result()
        assert {p: i["state"] for p, i in summary["phases"].items()} == dict.fromkeys(PHASES, "Completed")
        runs.append((summary, state.state_details.flow_run_id))
    assert [s["iteration"] for s, _ in runs] == [1, 2, 3]
    gates = [json.loads((data / "pipeline" / "hex8_2p" / f"gate-i{k}.json").read_text()) for k in (1, 2, 3)]
    with ModelRegistry(data / "registry.db") as reg:
        models = {k: reg.get(g["candidate"]) for k, g in zip((1, 2, 3), gates)}

    # the first candidate is accepted without a match; later ones meet the best's deployed player
    assert gates[0]["reference_kind"] == "accept" and gates[0]["promoted"] and gates[0]["games"] == 0
    best_before = {2: models[1]["id"]}
    best_before[3] = models[2]["id"] if gates[1]["promoted"] else models[1]["id"]
    for k in (2, 3):
        g, m = gates[k - 1], models[k]
        assert g["reference_kind"] == "best" and g["reference"] == best_before[k]
        assert g["players"]["candidate"] == f"neural:sims=4,model={m['path']}" and 0 < g["games"] <= 4
        assert m["status"] == ("active" if g["promoted"] else "deprecated")

    # training continues the lineage's newest model (promoted or not), validated on held-out games
    assert [models[k]["parent_id"] for k in (1, 2, 3)] == [None, models[1]["id"], models[2]["id"]]
    for m in models.values():
        assert m["metrics"]["val_samples"] > 0 and m["metrics"]["validation"].startswith("held-out games")
        assert m["metrics"]["val_policy_loss"] > 0 and m["metrics"]["gate"]["rule"] in ("first-model",
                                                                                          "truncated-sprt")

    # selfplay: teachers before the first promotion, then the best net with search
    with GameStore(data / "games" / "hex8_2p.db", "t", read_only=True) as store:
        records = [r for _, r in store.iter_records()]
    by_iteration: dict[int, list[dict]] = {}
    for r in records:
        by_iteration.setdefault(r["metadata"]["pipeline"]["iteration"], []).append(r)
    assert [len(by_iteration[k]) for k in (1, 2, 3)] == [8, 6, 6]  # net iterations: 4 net + 2 teacher games
    for r in by_iteration[1]:
        meta = r["metadata"]
        assert meta["pipeline"]["source"] == "bootstrap" and meta["engines"] == ["D2", "D2"]
    for k in (2, 3):
        teachers = [r for r in by_iteration[k] if r["metadata"]["pipeline"]["source"] == "teacher"]
        assert len(teachers) == 2 and all(r["metadata"]["engines"] == ["D2", "D2"] for r in teachers)
        for r in by_iteration[k]:
            if r in teachers:  # closed_loop.bootstrap.per_iteration: the teachers' share of the window
                continue
            meta = r["metadata"]
            assert meta["pipeline"]["source"] == "net" and meta["engines"] == ["neural-mcts"] * 2
            assert meta["playerVersions"] == [best_before[k]] * 2 and meta["pipeline"]["model"] == best_before[k]
            assert len(meta[SEARCH_TARGETS]) == len(r["moves"]) and meta["openingPlies"] >= 2

    # held out by game id: every game on exactly one side, no held-out game in a training shard
    every = 3  # tiny-az's closed_loop.train.holdout_every
    train_ids = {g for m in manifests(data / "shards") for g in m["sourceGames"]}
    held_ids = {g for m in manifests(data / "holdout") for g in m["sourceGames"]}
    assert train_ids and held_ids and not train_ids & held_ids
    assert train_ids | held_ids == {r["id"] for r in records}
    assert not any(is_holdout(g, every) for g in train_ids) and all(is_holdout(g, every) for g in held_ids)

    # the gate's report: the rule and its error rates, in the record and in the iteration's markdown
    for g in gates:
        rates = g["error_rates"]
        assert {"false_promotion", "power", "trials"} <= set(rates) and rates["power_elo"] == 50
        assert "truncated SPRT" in g["rule"] and "false promotion at equal strength" in g["error_rates_text"]
    summary_md = api.artifacts(api.current_api(), runs[1][1])["iteration-hex8-2p"]["data"]
    assert "truncated SPRT, H0 +0 Elo vs H1 +50 Elo" in summary_md
    assert "false promotion at equal strength" in summary_md and "power at +50 Elo" in summary_md
    assert f"net {models[1]['id']}" in summary_md and "held-out" in summary_md
