"""Random games on all 12 configurations keep every invariant and end by a rule or the cap."""
from __future__ import annotations

import random

import pytest

from engine import apply_in_place, legal_moves, new_game
from engine.invariants import progress_measure, violations
from engine.rules.movement import stack_has_action

CONFIGS = [(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)]
# Small boards are fast: more games there; large boards a couple each (hundreds of moves).
GAMES = {"square8": 50, "hex8": 50, "square19": 3, "hexagonal": 2}
ENDINGS = {"ring_elimination", "territory_control", "last_player_standing", "move_cap"}


def play_checked(board: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    s = new_game(board, n)
    last_s = progress_measure(s)
    while s.status == "active":
        moves = legal_moves(s)
        assert moves, f"no legal move for player {s.current_player} in {s.phase}"
        move = moves[rng.randrange(len(moves))]
        assert move.player == s.current_player
        apply_in_place(s, move)
        if move.type == "place_ring":
            cell = s.geo.index[move.to]
            assert stack_has_action(s, cell), f"dead placement {move!r}"
        problems = violations(s)
        assert not problems, f"{board} {n}p seed {seed} after {move!r}: {problems}"
        now = progress_measure(s)
        assert now >= last_s, f"progress measure fell from {last_s} to {now} after {move!r}"
        last_s = now
    assert s.victory_reason in ENDINGS | {"stalemate"} or s.outcome == "stalemate"
    assert s.outcome is not None
    return s.outcome


@pytest.mark.parametrize("board,n", CONFIGS, ids=[f"{b}-{n}p" for b, n in CONFIGS])
def test_random_games_keep_invariants(board: str, n: int) -> None:
    outcomes = [play_checked(board, n, seed) for seed in range(GAMES[board])]
    assert len(outcomes) == GAMES[board]
