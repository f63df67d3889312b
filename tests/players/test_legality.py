"""Every player returns a legal move, on all 12 board x player configurations, from positions
reached by random selfplay (placement, movement, captures, line and territory decisions)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import is_legal, legal_moves
from engine.players import make_player

from tests.players.helpers import CONFIGS, random_position

# Small budgets: the point is legality, not strength.
SPECS = [
    "random",
    "heuristic",
    "heuristic:temperature=0.5,epsilon=0.2",
    "minimax:max_depth=3,nodes=60,beam=3",
    "mcts:simulations=6",
    "mcts:simulations=6,noise=true,temperature=1.0,batch_size=3",
    "descent:nodes=4,max_line=2",
]


@pytest.mark.parametrize("board,n", CONFIGS)
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_every_player_returns_a_legal_move(board, n, seed):
    s = random_position(board, n, seed)
    legal = legal_moves(s)
    for spec in SPECS:
        if board in ("square19", "hexagonal") and spec.startswith(("minimax", "descent")):
            spec = spec.replace("nodes=60", "nodes=20")
        move = make_player(spec, seed=seed).choose(s)
        assert move in legal, f"{spec} chose {move!r}, not legal in {s!r}"
        assert is_legal(s, move)


@pytest.mark.parametrize("board,n", [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_heuristic_plays_whole_games_legally(board, n):
    from engine import new_game
    from engine.rules import apply_in_place

    players = [make_player("heuristic", seed=i) for i in range(n)]
    s = new_game(board, n)
    while s.status == "active":
        m = players[s.current_player - 1].choose(s)
        assert is_legal(s, m)
        apply_in_place(s, m)
    assert s.move_count > 20


def test_a_finished_game_is_refused():
    from engine import new_game
    from engine.rules import apply_in_place

    s = new_game("square8", 2)
    p = make_player("random", seed=0)
    while s.status == "active":
        apply_in_place(s, p.choose(s))
    for spec in ("heuristic", "minimax", "mcts", "descent"):
        with pytest.raises(ValueError, match="game is over"):
            make_player(spec, seed=0).choose(s)
