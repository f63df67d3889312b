"""The evaluation's features, and the move scorer that evaluates every move of a position."""
from __future__ import annotations

import numpy as np
import pytest

from engine import legal_moves, new_game
from engine.players.features import FEATURE_NAMES, NRAW, features, raw_stats
from engine.players.move_scoring import child_state, evaluate_state, score_moves
from engine.players.profiles import load_profile
from engine.rules import apply_in_place

from tests.engine.helpers import make_state
from tests.players.helpers import CONFIGS, random_position

F = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.mark.parametrize("board,n", CONFIGS)
def test_features_are_finite_and_named(board, n):
    s = random_position(board, n, seed=7)
    for p in range(1, n + 1):
        f = features(s, p)
        assert f.shape == (len(FEATURE_NAMES),) and np.isfinite(f).all()


def test_start_position_is_even():
    s = new_game("square8", 2)
    assert np.allclose(features(s, 1), features(s, 2))
    assert np.allclose(features(s, 1)[:NRAW], 0.0)


def test_two_player_differences_are_antisymmetric():
    s = random_position("square8", 2, seed=3, plies=60)
    f1, f2 = features(s, 1), features(s, 2)
    assert np.allclose(f1[:NRAW], -f2[:NRAW])
    assert f1[F["victory_proximity"]] == pytest.approx(f2[F["opponent_victory_proximity"]])


def _position(elim, **kw):
    return make_state(
        stacks={"3,3": [1, 1], "5,5": [2]}, hands=[10, 10], eliminated=elim,
        phase="movement", **kw,
    )


def test_more_eliminated_rings_score_higher():
    w = load_profile("square8", 2).vector()
    even = evaluate_state(_position([4, 4]), w)
    ahead = evaluate_state(_position([9, 4]), w)
    assert ahead[0] > even[0] and ahead[1] < even[1]
    f = features(_position([9, 4]), 1)
    assert f[F["eliminated"]] > 0 and f[F["victory_proximity"]] > f[F["opponent_victory_proximity"]]


def test_capture_threat_and_vulnerability():
    # P1's cap-2 stack faces P2's single ring on an open row: P1 threatens it, not vice versa.
    s = make_state(stacks={"1,1": [1, 1], "3,1": [2]}, hands=[5, 5], phase="movement")
    f = features(s, 1)
    assert f[F["capture_threats"]] > 0 and f[F["vulnerable_stacks"]] < 0
    raw = raw_stats(s)
    t, v = F["capture_threats"], F["vulnerable_stacks"]
    assert (raw[1][t], raw[2][t], raw[1][v], raw[2][v]) == (1, 0, 0, 1)


def test_terminal_feature_marks_the_winner():
    s = new_game("square8", 2)
    s.status, s.winner = "completed", 2
    assert features(s, 2)[F["terminal"]] == 1.0 and features(s, 1)[F["terminal"]] == -1.0


@pytest.mark.parametrize("board,n", [("square8", 2), ("hex8", 3), ("square19", 4)])
def test_placement_deltas_match_the_evaluation_of_the_child(board, n):
    """Placements are scored without building child states; the material and control terms
    are exact, the whole score matches for nearly every placement."""
    w = load_profile(board, n).vector()
    close, total = 0, 0
    for seed in range(4):
        s = random_position(board, n, seed, plies=12 + 9 * seed)
        moves = legal_moves(s)
        if moves[0].type != "place_ring":
            continue
        scores, exact = score_moves(s, moves, w)
        for i, m in enumerate(moves):
            if m.type != "place_ring":
                assert i in exact
                continue
            c = s.copy()
            apply_in_place(c, m)
            total += 1
            close += np.allclose(scores[i], evaluate_state(c, w))
    assert total > 50 and close / total > 0.9


def test_refined_and_exact_scores_are_the_child_evaluation():
    w = load_profile("square8", 2).vector()
    s = random_position("square8", 2, seed=5, plies=20)
    moves = legal_moves(s)
    scores, exact = score_moves(s, moves, w, refine=3)
    assert len([i for i in exact if moves[i].type == "place_ring"]) == 3
    for i in exact:
        assert np.allclose(scores[i], evaluate_state(child_state(s, moves[i]), w))
