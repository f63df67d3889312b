"""The loop's stages (engine.nn.learning) and the data they make: random openings, one-hot teacher
targets, value rows for every position, held-out games split by id, held-out validation."""
import numpy as np
import pytest
import torch

from engine.moves import Move
from engine.game import new_game
from engine.nn.learning import is_holdout, run_chunks, split_by_game, teacher_games
from engine.nn.model import NetConfig, build_model
from engine.nn.evaluator import NeuralEvaluator
from engine.nn.samples import samples_from_games
from engine.nn.selfplay import play_neural_games, play_teacher_games
from engine.nn.train import TrainConfig, train_on_samples
from engine.records import SEARCH_TARGETS
from engine.rules import apply_in_place, legal_moves

TINY = {"channels": 8, "blocks": 1, "policy_channels": 4, "value_channels": 4, "value_hidden": 8}


def test_holdout_is_stable_and_about_one_in_ten():
    ids = [f"g-{i}" for i in range(4000)]
    first = [is_holdout(i) for i in ids]
    assert first == [is_holdout(i) for i in ids]
    assert 0.07 < sum(first) / len(ids) < 0.13
    recs = [{"id": i} for i in ids[:200]]
    train, held = split_by_game(recs)
    assert {r["id"] for r in train}.isdisjoint({r["id"] for r in held})
    assert len(train) + len(held) == 200


def test_teacher_games_log_random_openings_and_one_hot_targets():
    recs = play_teacher_games("hex8", 2, ["D3"], 3, seed=5, opening_plies=(3, 3), move_cap=60)
    for r in recs:
        targets = r["metadata"][SEARCH_TARGETS]
        assert len(targets) == len(r["moves"]) and r["metadata"]["openingPlies"] == 3
        assert targets[:3] == [None] * 3
        state = new_game("hex8", 2, move_cap=0)
        for raw, t in zip(r["moves"], targets):
            move = Move.from_json(raw)
            legal = legal_moves(state)
            if t is not None:
                (idx, p), = t
                assert legal[idx] == move and p == 1.0
            apply_in_place(state, move)
    assert len({tuple(map(str, r["moves"][:3])) for r in recs}) > 1  # openings differ


def test_value_rows_cover_positions_without_a_policy_target():
    recs = play_teacher_games("hex8", 2, ["D3"], 2, seed=1, opening_plies=(4, 4), move_cap=60)
    plain = samples_from_games(recs, seed=0)
    full = samples_from_games(recs, seed=0, value_rows=True)
    assert len(full) > len(plain)
    empty = np.diff(full.policy.offsets) == 0
    assert empty.sum() == len(full) - len(plain)


def test_neural_games_start_from_random_openings():
    net = build_model(NetConfig(board_type="hex8", num_players=2, **TINY)).eval()
    recs = play_neural_games(NeuralEvaluator.from_model(net), "hex8", 2, 3, concurrency=1, full_sims=4,
                             fast_sims=2, search={"root": "gumbel"}, opening_plies=(2, 6), move_cap=40)
    for r in recs:
        k = r["metadata"]["openingPlies"]
        assert 2 <= k <= 6 and r["metadata"][SEARCH_TARGETS][:k] == [None] * k


def test_validation_uses_the_held_out_samples_given():
    recs = play_teacher_games("hex8", 2, ["D3"], 4, seed=2, opening_plies=(1, 2), move_cap=80)
    train = samples_from_games(recs[:3], seed=0)
    held = samples_from_games(recs[3:], seed=0)
    torch.manual_seed(0)
    model = build_model(NetConfig(board_type="hex8", num_players=2, **TINY))
    res = train_on_samples(model, train, TrainConfig(epochs=1, batch_size=32, device="cpu", amp=False),
                           val_samples=held)
    m = res.epochs[-1]
    assert m.val_policy_loss is not None
    assert m.samples_per_s * m.seconds == pytest.approx(len(train))  # every given sample trained on


def test_run_chunks_in_process_keeps_game_order():
    recs = teacher_games("hex8", 2, ["D1"], 5, seed=9, workers=1, move_cap=20)
    assert [r["id"] for r in recs] == [f"teach-hex8-2p-{9 + i}" for i in range(5)]
    seen = []
    run_chunks(lambda *a: [{"id": a}], lambda first, count: (first, count), 70, 1, per_chunk=32, on_chunk=seen.append)
    assert [c[0]["id"] for c in seen] == [(0, 32), (32, 32), (64, 6)]
