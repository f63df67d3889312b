"""The documented per-game fallback for the phases not vectorized.

Which positions take it (flagged by `legal.legal_mask`): line_processing,
territory_processing and forced_elimination (line and region decisions, rewards,
self-elimination, and the end of the turn with its victory check, seat rotation and
last-player-standing rounds), a recovery-eligible player in movement, a possible
pie-rule swap, and a chain capture without its position.

How: the affected games are read out as `GameState`s (exact, `state.read_states`),
the reference engine lists the legal moves, the same player policy picks one
(uniform, or the best change of the linear value for the heuristic), the reference
engine applies it, and the game keeps going on this path while it stays in a
decision phase (so one turn's bookkeeping costs one round trip). The states are then
written back. Every move made here is counted, so the bench reports the share honestly.
"""
from __future__ import annotations

import random

from engine.batched.players import linear_value
from engine.batched.state import BatchState, read_states, write_states
from engine.moves import Move
from engine.rules import apply_in_place, legal_moves
from engine.state import GameState

DECISION_PHASES = ("line_processing", "territory_processing", "forced_elimination")


def choose(s: GameState, player: str, rng: random.Random) -> Move:
    moves = legal_moves(s)
    if player == "random" or len(moves) == 1:
        return moves[rng.randrange(len(moves))]
    p = s.current_player
    base = linear_value(s, p)
    best, pick = None, []
    for m in moves:
        c = s.copy()
        apply_in_place(c, m)
        v = linear_value(c, p) - base
        if best is None or v > best + 1e-9:
            best, pick = v, [m]
        elif abs(v - best) <= 1e-9:
            pick.append(m)
    return pick[rng.randrange(len(pick))]


def run_fallback(bs: BatchState, idx: list[int], player: str,
                 rng: random.Random) -> list[list[Move]]:
    """Advance games `idx` on the reference engine; returns the moves played per game."""
    states = read_states(bs, idx)
    played: list[list[Move]] = []
    for s in states:
        moves = []
        while True:
            m = choose(s, player, rng)
            apply_in_place(s, m)
            moves.append(m)
            if s.status != "active" or s.phase not in DECISION_PHASES:
                break
        played.append(moves)
    write_states(bs, idx, states)
    return played
