"""Search values as value targets: teacher games record the heuristic's value of each position, net
selfplay records each search's root value, and samples blend them with the outcome (value_mix)."""
import numpy as np
import pytest

from engine.game import new_game
from engine.moves import Move
from engine.nn.encoding import seats_to_values
from engine.nn.evaluator import NeuralEvaluator
from engine.nn.model import NetConfig, build_model
from engine.nn.samples import samples_from_games, value_target
from engine.nn.selfplay import play_neural_games, play_teacher_games
from engine.players.evaluator import HeuristicEvaluator
from engine.records import SEARCH_TARGETS, SEARCH_VALUES
from engine.rules import apply_in_place, legal_moves

TINY = {"channels": 8, "blocks": 1, "policy_channels": 4, "value_channels": 4, "value_hidden": 8}


def test_value_target_blends_outcome_and_search():
    assert value_target([1.0, -1.0], [0.2, -0.2], 0.5) == pytest.approx([0.6, -0.6])
    assert value_target([1.0, -1.0], None, 0.5) == [1.0, -1.0]
    assert value_target([1.0, -1.0], [0.2, -0.2], 0.0) == [1.0, -1.0]


def test_teacher_games_record_the_heuristic_value_of_each_chosen_position():
    recs = play_teacher_games("hex8", 2, ["D3"], 2, seed=3, opening_plies=(2, 2), move_cap=50)
    ev = HeuristicEvaluator(priors=False)
    for r in recs:
        vals = r["metadata"][SEARCH_VALUES]
        assert len(vals) == len(r["moves"]) and vals[:2] == [None, None]
        state = new_game("hex8", 2, move_cap=0)
        checked = 0
        for raw, v in zip(r["moves"], vals):
            if len(legal_moves(state)) > 1 and v is not None:
                assert v == pytest.approx(ev.evaluate([state])[0][1], abs=1e-4)
                checked += 1
            apply_in_place(state, Move.from_json(raw))
        assert checked > 10


def test_neural_selfplay_records_root_values_for_every_searched_move():
    net = build_model(NetConfig(board_type="hex8", num_players=2, **TINY)).eval()
    recs = play_neural_games(NeuralEvaluator.from_model(net), "hex8", 2, 2, concurrency=1, full_sims=4,
                             fast_sims=2, search={"root": "gumbel"}, opening_plies=(2, 2), move_cap=30)
    for r in recs:
        vals, targets = r["metadata"][SEARCH_VALUES], r["metadata"][SEARCH_TARGETS]
        assert len(vals) == len(targets) == len(r["moves"])
        searched = [v for v in vals if v is not None]
        assert searched and all(len(v) == 2 and all(-1.0 <= x <= 1.0 for x in v) for v in searched)
        # every full search (a policy target) has a root value
        assert all(v is not None for v, t in zip(vals, targets) if t is not None)


def test_value_mix_moves_value_targets_toward_the_recorded_values():
    recs = play_teacher_games("hex8", 2, ["D3"], 2, seed=4, opening_plies=(2, 2), move_cap=60)
    plain = samples_from_games(recs, augment="none", value_rows=True)
    mixed = samples_from_games(recs, augment="none", value_rows=True, value_mix=0.5)
    assert len(plain) == len(mixed)
    # rebuild the expected targets from the records: outcome blended where a value was recorded
    from engine.nn.encoding import outcome_values
    from engine.nn.samples import _indexed_positions
    expected = []
    for r in recs:
        positions, final = _indexed_positions(r, None, True)
        z = outcome_values(final)
        for i, state, _, _ in positions:
            expected.append(seats_to_values(state, value_target(z, r["metadata"][SEARCH_VALUES][i], 0.5)))
    assert np.allclose(mixed.values, np.asarray(expected, np.float32), atol=1e-5)
    assert not np.allclose(mixed.values, plain.values)
    assert set(np.unique(np.abs(plain.values))) <= {0.0, 1.0}


def test_minimax_teachers_record_their_own_root_value():
    """D5 (minimax) records its full-depth value, not the one-ply heuristic's: opposite in 2p."""
    rec, = play_teacher_games("hex8", 2, ["D5"], 1, seed=8, opening_plies=(2, 2), move_cap=24)
    ev = HeuristicEvaluator(priors=False)
    state, differs, checked = new_game("hex8", 2, move_cap=0), 0, 0
    for raw, v in zip(rec["moves"], rec["metadata"][SEARCH_VALUES]):
        if v is not None:
            assert v[0] == pytest.approx(-v[1])
            differs += v != pytest.approx(ev.evaluate([state])[0][1], abs=1e-3)
            checked += 1
        apply_in_place(state, Move.from_json(raw))
    assert checked > 5 and differs > 0
