"""One of a new model's evaluation games as a full record, for the game viewer.

Matches (engine.arena) keep results, not moves. Every game of a match is decided by the match seed,
the game's index and the specs, so one game is played again here, its moves kept, and the replay is
accepted only when its fingerprint (a hash of every move) equals the one the match recorded: the
record is then exactly the game that was rated. A mismatch (a player that is not reproducible, or a
match runner that plays differently) keeps nothing and says why.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.arena import GameResult, derive_seed, play_seated, seating
from engine.files import write_atomic
from engine.game import new_game
from engine.moves import Move
from engine.records import game_record
from engine.rules import apply_in_place

log = logging.getLogger(__name__)


def pick_game(games: Sequence[GameResult], entrant: int = 0) -> GameResult | None:
    """A game the entrant (the candidate) won, else its first game."""
    for g in games:
        if g.winner == entrant:
            return g
    return games[0] if games else None


def replay_game(board: str, specs: Sequence[str], names: Sequence[str], seed: int, game: GameResult, *,
                factory: Callable[..., Any], move_cap: int | None, opening_plies: int,
                game_id: str) -> dict[str, Any] | None:
    """The record of match game `game` (played with `specs`, `seed`), or None when it does not replay."""
    gseed = derive_seed(seed, game.index)
    seats = seating(len(specs), game.index)
    players = [factory(specs[e], seed=derive_seed(gseed, e)) for e in seats]
    moves: list[Move] = []
    again = play_seated(board, specs, game.index, seed, players, move_cap=move_cap, opening_plies=opening_plies,
                        moves_out=moves)
    if again.fingerprint != game.fingerprint:
        log.warning("evaluation game %s of %s did not replay identically (fingerprint %s, match had %s): not kept",
                    game.index, game_id, again.fingerprint, game.fingerprint)
        return None
    start = new_game(board, len(specs), move_cap=move_cap, game_id=game_id)
    final = start.copy()
    for m in moves:
        apply_in_place(final, m)
    record = game_record(game_id, start, moves, final, engines=[names[e] for e in seats], seed=gseed,
                         metadata={"source": "evaluation", "matchSeed": seed, "matchGame": game.index})
    return record


def keep_evaluation_game(path: Path, board: str, specs: Sequence[str], names: Sequence[str], seed: int,
                         games: Sequence[GameResult], *, factory: Callable[..., Any], move_cap: int | None,
                         opening_plies: int, game_id: str) -> bool:
    """Write one of the candidate's (entrant 0's) games of a match to `path` (JSON lines); never raises:
    a missing viewer game must not fail an evaluation."""
    try:
        game = pick_game(games)
        if game is None:
            return False
        record = replay_game(board, specs, names, seed, game, factory=factory, move_cap=move_cap,
                             opening_plies=opening_plies, game_id=game_id)
        if record is None:
            return False
        import json
        write_atomic(path, json.dumps(record) + "\n")
        return True
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.warning("evaluation game %s not kept: %s", game_id, exc, exc_info=True)
        return False
