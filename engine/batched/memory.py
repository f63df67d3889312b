"""How many games of one configuration one batched step can hold within a memory budget.

Why: a step's temporaries grow with the batch, mostly with the flat action index (the legal
mask alone is one byte per index per game, 183k indices on square19 and 238k on hexagonal,
and it is built, concatenated and padded), so a 32k-game batch on the large boards needs
tens of GiB. The heuristic adds its float score tensors, but scores in chunks of at most
`SCORE_BUDGET` elements (players.py), so that part stops growing past one chunk.

The constants are the largest peaks of a step's tensor bytes that `bench/gpu_memory.py`
measured on the CPU over whole games (docs/benchmarks.md), rounded up: per game and action
index for every step (BASE, per board: small boards carry relatively more per-cell
tensors beside the mask), and per scored element for the heuristic (SCORE, measured where
it scores the whole batch at once). CUDA's caching allocator adds rounding and
fragmentation on top (ALLOCATOR). Callers that start many games at once (the GPU benchmark,
batched self-play) split a batch that would not fit into sub-batches.
"""
from __future__ import annotations

import torch

from engine.batched.moves import layout
from engine.batched.players import SCORE_BUDGET
from engine.batched.tables import board_tables

# Bytes per game and action index of a step (measured, random player: square8 13.6,
# hex8 10.5, square19 5.7, hexagonal 3.9); an unknown board gets the largest.
BASE = {"square8": 14.0, "hex8": 11.0, "square19": 6.0, "hexagonal": 4.5}
SCORE = 30.0  # bytes per heuristic score element (measured: at most 29.4 per action and game)
ALLOCATOR = 1.25
BUDGET_FRACTION = 0.8  # of the free device memory: room for the context and other tensors


def _actions(board: str, num_players: int) -> int:
    return layout(board_tables(board), num_players).size


def _scores(player: str | list[str]) -> bool:
    return "heuristic" in ([player] if isinstance(player, str) else player)


def _base_per_game(board: str, num_players: int) -> float:
    """Bytes of a step per game, beside the heuristic's scores."""
    return BASE.get(board, max(BASE.values())) * _actions(board, num_players)


def step_bytes(board: str, num_players: int, batch: int, player: str | list[str] = "random",
               score_budget: float = SCORE_BUDGET) -> float:
    """Estimated peak device bytes of one step of `batch` games."""
    score = SCORE * min(batch * _actions(board, num_players), score_budget) if _scores(player) else 0.0
    return (_base_per_game(board, num_players) * batch + score) * ALLOCATOR


def device_budget(device: str | torch.device) -> float | None:
    """Bytes a batch may use on `device`: a share of the free CUDA memory, counting what this
    process's caching allocator holds unused (an earlier batch's freed tensors) as free; None
    (no limit) for the CPU and other devices, whose memory the process does not manage this way."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(dev)
    cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    return (free + cached) * BUDGET_FRACTION


def games_that_fit(board: str, num_players: int, budget: float | None, player: str | list[str] = "random",
                   score_budget: float = SCORE_BUDGET, floor: int = 64) -> int | None:
    """Most games per step within `budget` bytes (at least `floor`); None when unlimited."""
    if budget is None:
        return None
    room = budget / ALLOCATOR - (SCORE * score_budget if _scores(player) else 0.0)
    return max(floor, int(room // _base_per_game(board, num_players)))


def fitted_batch(board: str, num_players: int, batch: int, device: str | torch.device,
                 player: str | list[str] = "random") -> int:
    """`batch`, lowered to the games one step fits in `device`'s free memory (unchanged off CUDA)."""
    return min(batch, games_that_fit(board, num_players, device_budget(device), player) or batch)


def split(batch: int, most: int | None) -> list[int]:
    """`batch` games as near-equal sub-batches of at most `most` games ([batch] when it fits)."""
    if most is None or batch <= most:
        return [batch]
    parts = -(-batch // most)
    base, extra = divmod(batch, parts)
    return [base + (i < extra) for i in range(parts)]
