"""The documented per-game fallback for the phases not vectorized.

Which positions take it (flagged by `legal.legal_mask`): a recovery-eligible player in
movement (recovery slides, R110-R115: line-mode precedence, per-slide extraction
choices), a recovery-context self-elimination owed after a region in a recovery turn, a
possible pie-rule swap (not enabled by default), and a chain capture without its
position (only in imported states). Everything else is vectorized.

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
from engine.rules.recovery import is_eligible
from engine.state import GameState



def needs_fallback(s: GameState) -> bool:
    """Whether the batched engine would hand this position to the fallback again."""
    if s.status != "active":
        return False
    p = s.current_player
    if s.phase == "territory_processing":
        return s.pending == "recovery"
    if s.phase == "movement":
        return ((s.must_move < 0 or s.stacks[s.must_move] is None)
                and not s.controls_any_stack(p) and is_eligible(s, p))
    return False


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


def run_fallback(bs: BatchState, idx: list[int], seats: list[str],
                 rng: random.Random) -> list[list[Move]]:
    """Advance games `idx` on the reference engine; returns the moves played per game."""
    states = read_states(bs, idx)
    played: list[list[Move]] = []
    for s in states:
        moves = []
        while True:
            m = choose(s, seats[s.current_player - 1], rng)
            apply_in_place(s, m)
            moves.append(m)
            if not needs_fallback(s):
                break
        played.append(moves)
    write_states(bs, idx, states)
    return played
