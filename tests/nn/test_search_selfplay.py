"""Search on the net: playout-cap selfplay records targets only for full searches, those
targets reach the shards unchanged, and `neural` player specs build and play."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine import Move, apply, legal_moves, new_game
from engine.nn.evaluator import NeuralEvaluator, NeuralPlayer
from engine.nn.model import NetConfig, build_model, save_model
from engine.nn.policy import indices_of
from engine.nn.samples import game_positions, write_game_shard
from engine.nn.selfplay import play_neural_games
from engine.players import MCTSPlayer, make_player
from engine.records import SEARCH_TARGETS
from infra.shards import load_shard


def tiny(board="square8", n=2, seed=0):
    torch.manual_seed(seed)
    return build_model(NetConfig.preset("tiny", board, n)).eval()


@pytest.fixture(scope="module")
def evaluator():
    return NeuralEvaluator.from_model(tiny(), device="cpu")


@pytest.fixture(scope="module")
def capped_games(evaluator):
    return play_neural_games(evaluator, "square8", 2, 3, concurrency=1, seed=7, move_cap=120,
                             full_sims=8, full_prob=0.25, fast_sims=2, search={"batch_size": 4})


def _replay(record):
    """(move index, state, legal moves, recorded target) at every position of the record."""
    state = new_game(record["boardType"], record["numPlayers"])
    for i, raw in enumerate(record["moves"]):
        legal = legal_moves(state)
        yield i, state, legal, record["metadata"][SEARCH_TARGETS][i]
        state = apply(state, Move.from_json(raw) if isinstance(raw, dict) else raw)


def _decisions(record):
    """(move index, had a target) for every move of the record with more than one legal move."""
    return [(i, t is not None) for i, _, legal, t in _replay(record) if len(legal) > 1]


def test_playout_cap_share_of_full_searches_is_near_p_full(capped_games):
    decisions = [d for r in capped_games for d in _decisions(r)]
    full = sum(has for _, has in decisions)
    assert len(decisions) > 150
    assert abs(full / len(decisions) - 0.25) < 0.08, (full, len(decisions))
    for r in capped_games:  # forced moves never carry a target; one entry per move
        targets = r["metadata"][SEARCH_TARGETS]
        assert len(targets) == len(r["moves"]) and r["metadata"]["playoutCap"]["fullSims"] == 8
        assert sum(t is not None for t in targets) == sum(has for _, has in _decisions(r))
    json.dumps(capped_games[0])  # records stay JSON (the game store keeps them as such)


def test_only_full_search_positions_become_samples(capped_games):
    record = capped_games[0]
    positions, _ = game_positions(record)
    assert len(positions) == sum(has for _, has in _decisions(record)) > 0
    for state, played, dist in positions:
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-4) and set(dist) <= set(legal_moves(state))


def test_shard_policy_targets_are_the_recorded_visit_distributions(capped_games, tmp_path):
    info = write_game_shard(tmp_path, capped_games, augment="none")
    shard = load_shard(info)
    expected = []  # straight from the records' targets, not through game_positions
    for record in capped_games:
        for _, state, legal, target in _replay(record):
            if target is not None:
                idx = indices_of(state, [legal[j] for j, _ in target], strict=False)
                expected.append({int(i): p for i, (_, p) in zip(idx, target) if i >= 0})
    assert len(shard) == len(expected)
    pol = shard.policy
    spread = 0
    for k, want in enumerate(expected):
        a, b = pol.offsets[k], pol.offsets[k + 1]
        got = dict(zip(pol.indices[a:b].tolist(), pol.probs[a:b].tolist()))
        total = sum(want.values())
        assert got.keys() == want.keys()
        assert all(got[i] == pytest.approx(want[i] / total, abs=1e-5) for i in got)
        spread += len(got) > 1
    assert spread > len(expected) // 2  # visit distributions, not one-hots of the played move


def test_gumbel_selfplay_records_an_improved_policy_over_every_legal_move(evaluator):
    (record,) = play_neural_games(evaluator, "square8", 2, 1, concurrency=1, seed=3, move_cap=40, full_sims=8,
                                  full_prob=1.0, fast_sims=0, search={"root": "gumbel", "batch_size": 4})
    for state, _, dist in game_positions(record)[0][:5]:
        assert set(dist) == set(legal_moves(state)) and sum(dist.values()) == pytest.approx(1.0, abs=1e-4)


def test_neural_spec_builds_search_and_policy_players(tmp_path):
    path = tmp_path / "tiny.pt"
    save_model(tiny(), path)
    searched = make_player(f"neural:model={path},sims=8,batch_size=4", seed=1)
    policy = make_player(f"neural:model={path},sims=0", seed=1)
    assert isinstance(searched, MCTSPlayer) and isinstance(searched.evaluator, NeuralEvaluator)
    assert isinstance(policy, NeuralPlayer)
    s = new_game("square8", 2)
    for _ in range(30):
        if s.status != "active":
            break
        for p in (searched, policy):
            assert p.choose(s) in legal_moves(s)
        s = apply(s, searched.choose(s))
    with pytest.raises(ValueError, match="model"):
        make_player("neural:sims=8", seed=1)


def test_neural_ladder_tier_uses_the_model_or_falls_back_with_a_warning(tmp_path, monkeypatch, caplog):
    from engine.players import neural
    path = tmp_path / "tiny.pt"
    save_model(tiny(), path)
    monkeypatch.delenv(neural.NEURAL_MODEL_ENV, raising=False)
    monkeypatch.setattr(neural, "_warned", set())
    with caplog.at_level("WARNING"):
        fallback = make_player("D9", seed=0)
    assert not isinstance(fallback, MCTSPlayer) and fallback.name == "D9"
    assert "D9" in caplog.text and neural.NEURAL_MODEL_ENV in caplog.text
    monkeypatch.setenv(neural.NEURAL_MODEL_ENV, str(path))
    net = make_player("D9", seed=0)
    assert isinstance(net, MCTSPlayer) and isinstance(net.evaluator, NeuralEvaluator) and net.name == "D9"
    assert make_player("D10", seed=0, model=str(path)).name == "D10"
    s = new_game("square8", 2)
    assert net.choose(s) in legal_moves(s)
    assert np.isfinite(net.last_simulations)


def _played_share_of_max(record, plies_from: int) -> list[bool]:
    """For each searched move from ply `plies_from` on: was the played move one of the most visited?"""
    out = []
    for i, state, legal, target in _replay(record):
        if target is None or i < plies_from:
            continue
        played = Move.from_json(record["moves"][i]) if isinstance(record["moves"][i], dict) else record["moves"][i]
        probs = {legal[j]: p for j, p in target}
        out.append(probs.get(played, 0.0) == max(probs.values()))
    return out


def test_full_searches_play_greedily_after_the_temperature_plies(evaluator):
    """Temperature 1 samples from the visits for the first `temperature_plies` plies only."""
    kw = dict(concurrency=1, seed=11, move_cap=80, full_sims=8, full_prob=1.0, fast_sims=0, temperature=1.0,
              search={"batch_size": 1})
    (greedy,) = play_neural_games(evaluator, "square8", 2, 1, temperature_plies=10, **kw)
    (sampled,) = play_neural_games(evaluator, "square8", 2, 1, **kw)
    after = _played_share_of_max(greedy, 10)
    assert len(after) > 20 and all(after)
    assert not all(_played_share_of_max(sampled, 10))  # without the limit, temperature keeps sampling
