"""replay_check: every batched game must be a legal reference game with the same ending.

Each game's move list is replayed from `engine.new_game` through the reference
engine; every move must be in `legal_moves` at its turn, and the replayed final
state must equal the batched one in every GameState field (board, counters,
winner, phase and turn bookkeeping), not just the winner and scores.
`workers > 1` spreads the replays over processes (the reference engine is pure
Python: 100,000 games want every core of the machine).
"""
from __future__ import annotations

import multiprocessing as mp

from engine.game import new_game
from engine.moves import Move
from engine.rules import apply_in_place, legal_moves
from engine.state import GameState


def state_sig(s: GameState) -> dict:
    """Every field of a state except the shared geometry and the game id."""
    return {k: getattr(s, k) for k in GameState.__slots__ if k not in ("geo", "game_id")}


def replay_against(start: GameState, moves: list[Move], final: dict) -> tuple[GameState, str | None]:
    """Replay `moves` from a copy of `start` through the reference engine and compare the end
    with `final` (a `state_sig`): the replayed state, and what is wrong (None when exact)."""
    s = start.copy()
    for k, m in enumerate(moves):
        if s.status != "active" or m not in legal_moves(s):
            return s, f"move {k + 1} {m!r} is not legal (phase {s.phase})"
        apply_in_place(s, m)
    got = state_sig(s)
    diff = [k for k in got if got[k] != final[k]]
    return s, (f"final state differs in {diff}" if diff else None)


def _replay_one(args: tuple) -> str | None:
    gi, board, players, moves, final, move_cap, rules_options = args
    _, problem = replay_against(new_game(board, players, rules_options=rules_options, move_cap=move_cap),
                                moves, final)
    return f"game {gi}: {problem}" if problem else None


def replay_check(board: str, players: int, moves_per_game: list[list[Move]],
                 batched_final: list[GameState], *, move_cap: int | None = None,
                 rules_options: dict | None = None, workers: int = 1) -> list[str]:
    """Mismatch descriptions (empty when every game replays exactly)."""
    jobs = [(gi, board, players, moves, state_sig(final), move_cap, rules_options)
            for gi, (moves, final) in enumerate(zip(moves_per_game, batched_final))]
    if workers > 1 and len(jobs) > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.map(_replay_one, jobs, chunksize=max(1, len(jobs) // (workers * 8)))
    else:
        results = [_replay_one(j) for j in jobs]
    return [r for r in results if r]
