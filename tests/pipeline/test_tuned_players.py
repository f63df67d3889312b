"""Which players take the synced (tuned) profile, as tasks/players.py documents: selfplay's
heuristic-weighted seats do, a neural tier without a model does through its fallback; the
fixed yardsticks (ladder tiers in evaluate and gate, the CMA-ES reference) do not."""
from __future__ import annotations

import dataclasses
import logging

from engine.players.profiles import load_profile, save_profile
from tasks.players import pipeline_player, tuned_player
from tasks.selfplay import player_version
from tasks.tuning import resolve_reference


def test_selfplay_seats_take_the_tuned_profile_and_yardsticks_keep_theirs(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("RIFT_NEURAL_MODEL", raising=False)
    default = load_profile("hex8", 2)
    path = tmp_path / "hex8_2p.json"
    save_profile(dataclasses.replace(default, version="tuned-3"), path)
    with caplog.at_level(logging.ERROR):  # D9's "no model, plays its fallback" warning
        for spec in ("heuristic", "minimax", "mcts:simulations=4", "descent", "D4", "D9"):
            player = tuned_player(spec, 1, str(path))
            assert player_version(player, "hex8", 2).endswith("@tuned-3"), spec
    for baseline in ("D2", "D4", "D6", "D8"):  # evaluate / gate baselines: the repository's profile
        assert player_version(pipeline_player(baseline, seed=1), "hex8", 2) == f"{baseline}@{default.version}"
    reference = resolve_reference("default", "hex8", 2)
    assert reference.profile.weights == default.weights and reference.id.startswith(default.version + "#")
