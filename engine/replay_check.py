"""Is a game record a real game? Replay it through the rules before anyone learns from it.

`first_problem(record)` replays every recorded move from the initial position with the
checked `apply` (no move cap: recorded games are replayed as played) and returns the first
thing wrong, or None for a sound game:

- a move that cannot be read (unknown type such as `teleport`, a cell `{"x": "a"}`),
- a move the rules do not allow at that point (wrong player, illegal target),
- a move list that stops before the game is over although the record claims a result
  (a truncated record), or a result that differs from the one the moves produce.

A game that ends still active is accepted only when its record says it hit the move cap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import RulesError
from engine.game import new_game
from engine.moves import Move
from engine.rules import apply
from engine.state import GameState


@dataclass(frozen=True)
class GameProblem:
    """Why a record was refused: `move` is the 1-based number of the first bad move (0: none)."""

    reason: str
    move: int = 0
    move_json: Any = None

    def __str__(self) -> str:
        if not self.move:
            return self.reason
        shown = _short(self.move_json)
        return f"move {self.move} {shown}: {self.reason}"


def _short(move_json: Any, limit: int = 160) -> str:
    text = repr(move_json)
    return text if len(text) <= limit else text[:limit] + "...}"


def _rules_options(record: dict) -> dict | None:
    for holder in (record, record.get("metadata") or {}):
        if isinstance(holder, dict) and isinstance(holder.get("rulesOptions"), dict):
            return holder["rulesOptions"]
    return None


def _capped(record: dict) -> bool:
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    return record.get("outcome") == "move_cap" or bool(meta.get("hitMoveCap"))


def replay_record(record: dict) -> tuple[GameState | None, GameProblem | None]:
    """(final state, None) for a record whose every move is legal, else (None, the first problem)."""
    if not isinstance(record, dict):
        return None, GameProblem(f"a game record must be a JSON object, got {type(record).__name__}")
    try:
        state = new_game(record.get("boardType"), record.get("numPlayers"),
                         rules_options=_rules_options(record), move_cap=0, game_id=str(record.get("id", "")))
    except (ValueError, TypeError) as exc:
        return None, GameProblem(f"cannot start the game: {exc}")
    moves = record.get("moves")
    if not isinstance(moves, list):
        return None, GameProblem("'moves' must be a list of moves")
    for number, move_json in enumerate(moves, 1):
        try:
            state = apply(state, Move.from_json(move_json, state.board_type))
        except RulesError as exc:
            return None, GameProblem(str(exc), number, move_json)
    return state, None


def first_problem(record: dict) -> GameProblem | None:
    """The first reason `record` is not a sound game (see the module doc), or None."""
    state, problem = replay_record(record)
    if problem is not None:
        return problem
    assert state is not None
    count = len(record["moves"])
    if state.status == "active":
        if _capped(record):
            return None
        if record.get("winner") is not None or record.get("outcome") is not None:
            return GameProblem(
                f"truncated: the moves stop after move {count} with the game still going (player "
                f"{state.current_player} to move in {state.phase}), but the record claims winner "
                f"{record.get('winner')!r}, outcome {record.get('outcome')!r}")
        return GameProblem(f"truncated: the moves stop after move {count} with the game still going "
                           f"(player {state.current_player} to move in {state.phase}) and no result")
    if record.get("winner") != state.winner:
        return GameProblem(f"the record says winner {record.get('winner')!r}; its {count} moves "
                           f"give winner {state.winner!r}")
    outcome = record.get("outcome")
    meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    # RingRift labels every bare-board ending `stalemate` and keeps its own reason in metadata
    ended_by = {state.outcome, state.victory_reason} - {None}
    if outcome is not None and outcome not in ended_by and not (
            outcome == "stalemate" and meta.get("engineVictoryReason") in ended_by):
        return GameProblem(f"the record says outcome {outcome!r}; its {count} moves end by "
                           f"{state.outcome or state.victory_reason!r}")
    return None
