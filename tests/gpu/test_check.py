"""replay_check catches what it must: a wrong ending, an illegal move (serial and parallel)."""
from __future__ import annotations

import torch

from engine.batched.check import replay_check
from engine.batched.step import BatchedGames
from engine.moves import Move


def test_replay_check_reports_mismatches() -> None:
    torch.set_num_threads(1)
    g = BatchedGames("square8", 2, 4, seed=3)
    g.play()
    moves, finals = g.moves(), g.final_states()
    assert replay_check("square8", 2, moves, finals, workers=2) == []
    truncated = [ms[:-1] for ms in moves]
    assert len(replay_check("square8", 2, truncated, finals)) == 4
    bad = [list(ms) for ms in moves]
    bad[1][0] = Move("move_stack", 1, "0,0", "7,7")
    (problem,) = replay_check("square8", 2, bad, finals, workers=2)
    assert "game 1: move 1" in problem and "not legal" in problem
