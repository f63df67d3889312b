"""Uniformly random legal moves: the D1 baseline and the fastest data generator."""
from __future__ import annotations

import random

from engine.moves import Move
from engine.rules import legal_moves
from engine.state import GameState


class RandomPlayer:
    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def choose(self, state: GameState) -> Move:
        moves = legal_moves(state)
        if not moves:
            raise ValueError(f"no legal move: the game is over ({state.victory_reason})")
        return moves[self.rng.randrange(len(moves))]
