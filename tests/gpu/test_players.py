"""The batched random player draws uniformly from the legal mask."""
from __future__ import annotations

import torch

from engine.batched.players import random_choice


def test_random_choice_is_legal_and_uniform() -> None:
    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(3, 1000, dtype=torch.bool)
    mask[0, [3, 300, 999]] = True
    mask[1, [255, 256]] = True  # straddles a block boundary
    mask[2, 512:] = True
    counts = torch.zeros(3, 1000)
    rows = torch.arange(3)
    for _ in range(3000):
        a = random_choice(mask, gen)
        assert mask[rows, a].all()
        counts[rows, a] += 1
    assert counts[0, [3, 300, 999]].min() > 900
    assert counts[1, [255, 256]].min() > 1400
    assert counts[2, 512:].sum() == 3000


def test_heuristic_scoring_in_chunks_plays_the_same_games() -> None:
    """Chunking the score tensors (for GPU memory on the large boards) changes nothing."""
    from engine.batched.check import replay_check
    from engine.batched.step import BatchedGames

    torch.set_num_threads(1)
    played = []
    for budget in (4e8, 3e4):  # one chunk, or about 3 games per chunk
        g = BatchedGames("square8", 2, 8, player="heuristic", seed=5)
        g.score_budget = budget
        g.play()
        moves = g.moves()
        assert replay_check("square8", 2, moves, g.final_states()) == []
        played.append([[m.sig() for m in ms] for ms in moves])
    assert played[0] == played[1]


def test_batched_heuristic_beats_random_per_seat() -> None:
    """Mixed seats in one batch replay exactly, and the linear heuristic is a real player."""
    from engine.batched.check import replay_check
    from engine.batched.step import BatchedGames

    torch.set_num_threads(1)
    wins = games = 0
    for seats in (["heuristic", "random"], ["random", "heuristic"]):
        g = BatchedGames("square8", 2, 20, player=seats, seed=9)
        g.play()
        finals = g.final_states()
        assert replay_check("square8", 2, g.moves(), finals) == []
        wins += sum(s.winner == seats.index("heuristic") + 1 for s in finals)
        games += 20
    assert wins >= 0.65 * games
