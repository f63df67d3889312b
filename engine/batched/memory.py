"""How many games of one configuration one batched step can hold within a memory budget.

Why: a step's temporaries grow with the batch, mostly with the flat action index (the legal
mask alone is one byte per index per game, 183k indices on square19 and 238k on hexagonal,
and it is built, concatenated and padded), so a 32k-game batch on the large boards needs
tens of GiB. The constant below is the largest peak of a step's tensor bytes per game and
per action index that `bench/gpu_memory.py` measured on the CPU over whole games (square19
and hexagonal 2p, random and heuristic, the heuristic scoring in chunks as it does at 32k
games; docs/benchmarks.md), rounded up; CUDA's caching allocator adds its rounding and
fragmentation on top (ALLOCATOR). Callers that start many games at once (the GPU benchmark,
batched self-play) split a batch that would not fit into sub-batches.
"""
from __future__ import annotations

import torch

from engine.batched.moves import layout
from engine.batched.tables import board_tables

BYTES_PER_ACTION = 6.5  # measured: at most 6.1 (square19 2p heuristic)
ALLOCATOR = 1.25
BUDGET_FRACTION = 0.8  # of the free device memory: room for the context and other tensors


def step_bytes_per_game(board: str, num_players: int) -> float:
    """Estimated peak device bytes of one step, per game."""
    return BYTES_PER_ACTION * ALLOCATOR * layout(board_tables(board), num_players).size


def device_budget(device: str | torch.device) -> float | None:
    """Bytes a batch may use on `device`: a share of the free CUDA memory; None (no limit) for
    the CPU and other devices, whose memory the process does not manage this way."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(dev)
    return free * BUDGET_FRACTION


def games_that_fit(board: str, num_players: int, budget: float | None, floor: int = 64) -> int | None:
    """Most games per step within `budget` bytes (at least `floor`); None when unlimited."""
    if budget is None:
        return None
    return max(floor, int(budget // step_bytes_per_game(board, num_players)))


def split(batch: int, most: int | None) -> list[int]:
    """`batch` games as near-equal sub-batches of at most `most` games ([batch] when it fits)."""
    if most is None or batch <= most:
        return [batch]
    parts = -(-batch // most)
    base, extra = divmod(batch, parts)
    return [base + (i < extra) for i in range(parts)]
