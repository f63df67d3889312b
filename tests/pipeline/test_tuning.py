"""The fixed-reference CMA-ES library (tasks/tuning.py) and the bench that reuses it (bench/profiles.py):
a tuned profile records how it was measured, and the independent match never replays a tuning seed."""
from __future__ import annotations

import json

from bench import profiles as bench
from engine.arena import play_match
from engine.players.profiles import load_profile, load_profile_file
from infra.pipeline_config import CmaesSettings
from tasks.players import pipeline_player
from tasks.tuning import block_estimate, resolve_reference, tune_and_confirm, used_seeds


def test_tuned_profile_records_reference_games_seeds_and_interval(tmp_path):
    ref = resolve_reference("default", "hex8", 2)
    settings = CmaesSettings(population=2, generations=1, games_per_candidate=3, confirm_games=4, opening_plies=4)
    tuned = tune_and_confirm("hex8", 2, load_profile("hex8", 2), ref, settings, seed=7, move_cap=None,
                             work=tmp_path, version_prefix="t")
    meta = tuned.metadata
    assert meta["reference"] == {"name": "default", "id": ref.id} and meta["tuning"]["games_per_candidate"] == 4
    assert meta["tuning"]["games"] == 8 and len(meta["tuning"]["seeds"]) == 1
    c = meta["confirm"]
    assert c["games"] == 4 and c["reference"] == ref.id and tuned.fitness == c["score"]
    assert c["ci95"][0] <= c["score"] <= c["ci95"][1] and c["seed"] not in meta["tuning"]["seeds"]
    assert bench.match_seed("hex8", 2, 1) not in used_seeds(tuned)


def test_bench_tunes_then_plays_an_independent_match(tmp_path, capsys):
    out, result = tmp_path / "tuned.json", tmp_path / "match.json"
    assert bench.main(["--tune", "--board", "hex8", "--players", "2", "--profile", str(out), "--population", "2",
                       "--generations", "1", "--games-per-candidate", "2", "--confirm-games", "2", "--games", "4",
                       "--json", str(result)]) == 0
    assert load_profile_file(out).metadata["confirm"]["games"] == 2
    r = json.loads(result.read_text())
    assert r["games"] == 4 and r["wins"] + r["draws"] + r["losses"] == 4 and r["ci95"][0] <= r["score"] <= r["ci95"][1]
    assert "95% CI" in capsys.readouterr().out


def test_block_estimate_keeps_the_mean_and_counts_games():
    spec = "profile:" + str(resolve_reference("default", "hex8", 2).path)
    m = play_match("hex8", [spec, spec], 6, seed=3, opening_plies=4, factory=pipeline_player)
    est = block_estimate(m)
    assert est.games == 6 and abs(est.score - m.score(0).score) < 1e-12 and est.lo <= est.score <= est.hi
