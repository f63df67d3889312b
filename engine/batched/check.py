"""replay_check: every batched game must be a legal reference game with the same ending.

Each game's move list is replayed from `engine.new_game` through the reference
engine; every move must be in `legal_moves` at its turn, and the replayed final
state must equal the batched one in every GameState field (board, counters,
winner, phase and turn bookkeeping), not just the winner and scores.
"""
from __future__ import annotations

from engine.game import new_game
from engine.moves import Move
from engine.rules import apply_in_place, legal_moves
from engine.state import GameState


def _sig(s: GameState) -> dict:
    return {k: getattr(s, k) for k in GameState.__slots__ if k not in ("geo", "game_id")}


def replay_check(board: str, players: int, moves_per_game: list[list[Move]],
                 batched_final: list[GameState], *, move_cap: int | None = None,
                 rules_options: dict | None = None) -> list[str]:
    """Mismatch descriptions (empty when every game replays exactly)."""
    problems = []
    for gi, (moves, final) in enumerate(zip(moves_per_game, batched_final)):
        s = new_game(board, players, rules_options=rules_options, move_cap=move_cap)
        bad = None
        for k, m in enumerate(moves):
            if s.status != "active" or m not in legal_moves(s):
                bad = f"game {gi}: move {k + 1} {m!r} is not legal (phase {s.phase})"
                break
            apply_in_place(s, m)
        if bad is None:
            a, b = _sig(s), _sig(final)
            diff = [k for k in a if a[k] != b[k]]
            if diff:
                bad = f"game {gi}: final state differs in {diff}"
        if bad:
            problems.append(bad)
    return problems
