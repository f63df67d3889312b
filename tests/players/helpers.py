"""Positions for player tests: states reached by random selfplay, reproducible by seed."""
from __future__ import annotations

import random

from engine import GameState, legal_moves, new_game
from engine.rules import apply_in_place

CONFIGS = [(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)]
SMALL = [(b, n) for b, n in CONFIGS if b in ("square8", "hex8")]


def random_position(board: str, n: int, seed: int, plies: int | None = None) -> GameState:
    """The position after `plies` random moves (a random count when None), stopped early at
    the last active position, and advanced to a decision with more than one legal move."""
    rng = random.Random(seed)
    s = new_game(board, n)
    target = rng.randrange(0, 400 if board in ("square8", "hex8") else 1500) if plies is None else plies
    for _ in range(target):
        ms = legal_moves(s)
        nxt = s.copy()
        apply_in_place(nxt, ms[rng.randrange(len(ms))])
        if nxt.status != "active":
            break
        s = nxt
    for _ in range(64):
        ms = legal_moves(s)
        if len(ms) > 1:
            break
        nxt = s.copy()
        apply_in_place(nxt, ms[0])
        if nxt.status != "active":
            break
        s = nxt
    return s
