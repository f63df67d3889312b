"""Refilling: a slot whose game has ended starts the next game, so a batch stays full.

Every refilled game must still be a whole, legal reference game from the initial position, logged
under its own index (not its slot's), with its own final state read out before the slot is reused."""
from __future__ import annotations

import pytest
import torch

from engine.batched.check import replay_check
from engine.batched.step import BatchedGames


@pytest.mark.parametrize("board,players,player", [("square8", 2, "random"), ("hex8", 2, "heuristic"),
                                                   ("square8", 3, "random")])
def test_refilled_games_replay_exactly(board: str, players: int, player: str) -> None:
    torch.set_num_threads(1)
    g = BatchedGames(board, players, 6, player=player, seed=3, games=20, refill_every=0.3)
    g.play()
    moves, finals = g.moves(), g.final_states()
    assert len(moves) == len(finals) == 20 and g.started == 20 and g.active == 0
    assert all(s.status == "completed" for s in finals)
    assert len({s.game_id for s in finals}) == 20  # one id per game, not per slot
    assert all(ms for ms in moves)
    assert replay_check(board, players, moves, finals) == []


def test_refilling_plays_the_games_in_fewer_steps_than_batches_would() -> None:
    """The point of refilling: 24 games on 8 slots take fewer steps than 3 batches of 8, since a
    slot does not wait for the longest game of its batch."""
    torch.set_num_threads(1)
    refilled = BatchedGames("square8", 2, 8, seed=11, games=24, refill_every=0.01)
    refilled.play()
    batches = 0
    for k in range(3):
        one = BatchedGames("square8", 2, 8, seed=100 + k)
        one.play()
        batches += one.steps
    assert refilled.started == 24 and len(refilled.final_states()) == 24
    assert refilled.steps < batches


def test_games_below_batch_shrink_the_batch_and_bad_counts_are_refused() -> None:
    g = BatchedGames("square8", 2, 64, seed=1, games=5)
    assert g.bs.batch == 5
    with pytest.raises(ValueError, match="games must be at least 1"):
        BatchedGames("square8", 2, 8, games=0)
