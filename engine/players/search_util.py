"""Small pieces the search players share: position keys and budgets."""
from __future__ import annotations

import time

from engine.moves import Move
from engine.rules import legal_moves
from engine.state import GameState


def decision_moves(state: GameState) -> list[Move]:
    """The legal moves of a position a player is asked to move in; a finished game is refused."""
    moves = legal_moves(state)
    if not moves:
        raise ValueError(f"no legal move: the game is over ({state.victory_reason})")
    return moves


def best_index(values: list[float], rng, tol: float = 1e-9) -> int:
    """Index of the highest value, ties (within `tol`) broken by the player's seeded `rng`
    (a `random.Random`), so a deterministic search still varies between equal moves."""
    top = max(values)
    cands = [i for i, v in enumerate(values) if v >= top - tol]
    return cands[rng.randrange(len(cands))] if len(cands) > 1 else cands[0]


def state_key(s: GameState) -> tuple:
    """Everything the rules look at, as a hashable tuple: equal keys mean equal futures.

    Used as the transposition-table key (a tuple, not a Zobrist hash: exact, and a 64-cell
    board costs about a microsecond to key).
    """
    return (
        tuple(s.stacks), tuple(s.markers), tuple(s.collapsed), tuple(s.hand), tuple(s.elim),
        s.current_player, s.phase, s.must_move, s.chain_pos, s.pending, s.acted,
        s.recovery_turn, s.status, s.lps_candidate, s.lps_count, s.lps_first, s.lps_actors,
    )


class OutOfBudget(Exception):
    """Raised inside a search when its node or time budget is spent."""


class Budget:
    """A node budget (deterministic) with an optional wall-clock cap."""

    def __init__(self, nodes: int | None, time_limit: float | None):
        self.limit = nodes
        self.deadline = time.perf_counter() + time_limit if time_limit else None
        self.used = 0

    def spend(self, n: int = 1) -> None:
        self.used += n
        if self.limit is not None and self.used > self.limit:
            raise OutOfBudget
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise OutOfBudget
