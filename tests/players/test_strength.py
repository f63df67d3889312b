"""Quick strength checks: seat-rotated games on square8 2p."""
from __future__ import annotations

import pytest

from engine.arena import play_match
from engine.players import make_player
from engine.selfplay import play_game


def _score(a: str, b: str, games: int) -> float:
    """Points of `a` (win 1, draw 1/2) with seats alternating."""
    pts = 0.0
    for g in range(games):
        pa, pb = make_player(a, seed=g), make_player(b, seed=10_000 + g)
        seats = [pa, pb] if g % 2 == 0 else [pb, pa]
        rec = play_game("square8", 2, seats, game_id=f"t{g}", seed=g)
        a_seat = 1 if g % 2 == 0 else 2
        pts += 1.0 if rec["winner"] == a_seat else (0.5 if rec["winner"] is None else 0.0)
    return pts


def test_heuristic_beats_random():
    assert _score("heuristic", "random", 20) >= 14


@pytest.mark.slow
@pytest.mark.parametrize("tier", ["D5", "D6", "D7"])
def test_search_tiers_beat_the_heuristic(tier):
    """Minimax and MCTS at their ladder budgets against the plain heuristic (D3). Games open with
    two random plies, as in bench/ladder.py: from the empty board both deterministic players
    would replay one or two games eight times, which measures an opening, not strength."""
    match = play_match("square8", [tier, "D3"], 8, seed=11, opening_plies=2)
    assert len({g.fingerprint for g in match.games}) >= 6  # distinct games
    assert sum(match.scores(0)) >= 6
