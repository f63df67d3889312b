"""Search players: MCTS's visit distribution and evaluator plug, wins found, determinism."""
from __future__ import annotations

import pytest

from engine import Move, legal_moves, new_game
from engine.players import MCTSPlayer, make_player
from engine.players.evaluator import Evaluator, HeuristicEvaluator
from engine.players.move_scoring import child_state
from engine.rules import apply_in_place

from tests.engine.helpers import make_state
from tests.players.helpers import random_position


def _winning_position():
    """P1 has 17 of the 18 rings it needs; moving its lone ring onto a marker eliminates that
    ring (credited to P1) and wins at the end of the turn. Most moves do not win."""
    return make_state(
        stacks={"0,0": [1], "7,7": [2, 2], "6,2": [2]}, markers={"2,0": 1, "0,5": 2},
        hands=[0, 3], eliminated=[17, 0], phase="movement",
    )


def _wins(s, m) -> bool:
    return child_state(s, m).winner == 1


@pytest.mark.parametrize("spec", [
    "heuristic", "minimax:max_depth=3,nodes=300", "mcts:simulations=12", "descent:nodes=6",
    "D2", "D4", "D6", "D7",
])
def test_players_take_an_immediate_win(spec):
    s = _winning_position()
    legal = legal_moves(s)
    assert 0 < sum(_wins(s, m) for m in legal) <= len(legal) // 4
    if spec == "D2":  # epsilon-random: most seeds still take it
        assert sum(_wins(s, make_player(spec, seed=k).choose(s)) for k in range(20)) >= 8
        return
    assert _wins(s, make_player(spec, seed=0).choose(s))


def test_mcts_visit_distribution_covers_legal_moves_and_sums_to_one():
    s = random_position("square8", 2, seed=11, plies=30)
    legal = legal_moves(s)
    move, dist = MCTSPlayer(seed=1, simulations=40).search(s)
    assert move in legal
    assert set(dist) == set(legal)
    assert sum(dist.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in dist.values())
    assert max(dist, key=dist.get) == move  # temperature 0: the most visited


def test_mcts_forced_move_is_played_without_search():
    s = new_game("square8", 2)
    s.hand[1] = 0  # nothing to place: no_placement_action is the only move
    (only,) = legal_moves(s)
    p = MCTSPlayer(seed=0, simulations=50)
    assert p.search(s) == (only, {only: 1.0}) and p.last_simulations == 0


class CountingUniform:
    """An evaluator that knows nothing: uniform priors, zero values; records batch sizes."""

    def __init__(self):
        self.batches = []

    def evaluate(self, states):
        self.batches.append(len(states))
        return [(None, [0.0] * st.num_players) for st in states]


def test_mcts_uses_a_pluggable_evaluator_in_batches():
    ev = CountingUniform()
    assert isinstance(ev, Evaluator) and isinstance(HeuristicEvaluator(), Evaluator)
    s = random_position("hex8", 3, seed=2, plies=40)
    move, dist = MCTSPlayer(seed=0, simulations=32, evaluator=ev, batch_size=8).search(s)
    assert move in legal_moves(s) and sum(dist.values()) == pytest.approx(1.0)
    assert max(ev.batches) > 1 and max(ev.batches) <= 8
    assert sum(dist.values()) == pytest.approx(1.0)


def test_heuristic_evaluator_values_and_priors():
    s = random_position("square8", 3, seed=4, plies=50)
    (priors, values), = HeuristicEvaluator().evaluate([s])
    assert len(values) == 3 and all(-1 <= v <= 1 for v in values)
    legal = legal_moves(s)
    assert set(priors) == set(legal) and sum(priors.values()) == pytest.approx(1.0)
    (none_priors, _), = HeuristicEvaluator(priors=False).evaluate([s])
    assert none_priors is None


def _game(spec: str, seed: int, board="square8", n=2, max_moves=60) -> list[Move]:
    players = [make_player(spec, seed=seed + i) for i in range(n)]
    s = new_game(board, n)
    out = []
    while s.status == "active" and len(out) < max_moves:
        m = players[s.current_player - 1].choose(s)
        out.append(m)
        apply_in_place(s, m)
    return out


@pytest.mark.parametrize("spec", [
    "random", "heuristic:temperature=0.3", "D2", "minimax:max_depth=3,nodes=80",
    "mcts:simulations=8,noise=true,temperature=1.0", "descent:nodes=5,exploration=0.3",
])
def test_same_seed_same_game(spec):
    a = _game(spec, 5)
    assert a == _game(spec, 5)
    if spec.startswith(("random", "D2", "mcts", "heuristic:")):
        assert a != _game(spec, 6)  # the seed matters where the player draws from it
