"""Tiny players for arena tests, so they need no search player from engine/players.

`tiny_factory` is a module-level function: match workers unpickle it by name.
"""
from __future__ import annotations

import random

from engine import GameState, Move, apply_in_place, legal_moves
from engine.players import make_player


class FirstMove:
    """Always the first legal move: deterministic whatever its seed."""

    name = "first"

    def __init__(self, seed: int | None = None):
        pass

    def choose(self, state: GameState) -> Move:
        return legal_moves(state)[0]


class Greedy:
    """One ply of lookahead: the move that most helps its own rings-eliminated count (a win
    first), ties broken at random. Clearly stronger than random."""

    name = "greedy"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def choose(self, state: GameState) -> Move:
        me = state.current_player
        best, best_key = [], None
        for m in legal_moves(state):
            after = state.copy()
            apply_in_place(after, m)
            key = (after.winner == me, after.elim[me] - max(after.elim[p] for p in range(1, state.num_players + 1) if p != me))
            if best_key is None or key > best_key:
                best, best_key = [m], key
            elif key == best_key:
                best.append(m)
        return self.rng.choice(best)


def tiny_factory(spec: str, seed: int | None = None):
    """'first', 'greedy', else whatever make_player builds."""
    if spec == "first":
        return FirstMove(seed)
    if spec == "greedy":
        return Greedy(seed)
    return make_player(spec, seed=seed)
