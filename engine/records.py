"""Game records in RingRift's format: writing our games, reading and replaying theirs.

A record holds the board type, players, every move (bookkeeping moves included),
the winner and outcome, and the final state, so that RingRift's tools and ours can
replay each other's games move by move.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from engine.errors import IllegalMoveError, StateFormatError
from engine.files import write_atomic
from engine.game import new_game
from engine.moves import Move
from engine.rules import apply
from engine.state import GameState

RECORD_VERSION = "1.0.0"
# metadata key of the policy targets of searched selfplay (engine.nn.selfplay): one entry per
# move, None for a move without a target, else [[index in legal_moves(state), probability], ...]
SEARCH_TARGETS = "searchTargets"
# metadata key of the search's value of each position: one entry per move, None where the move
# had no search, else a value per seat (index 0 = seat 1) in [-1, 1], from the searcher's view
SEARCH_VALUES = "searchValues"


def record_outcome(state: GameState) -> str | None:
    """The record's `outcome` (RingRift's word): how the game ended, 'stalemate' for a bare
    board resolved by tiebreak; None while the game goes on."""
    if state.status == "active":
        return None
    return state.outcome or state.victory_reason


def final_score(state: GameState) -> dict:
    n = state.num_players
    return {
        "ringsEliminated": {str(p): state.elim[p] for p in range(1, n + 1)},
        "territorySpaces": {str(p): state.territory[p] for p in range(1, n + 1)},
        "ringsRemaining": {str(p): state.hand[p] for p in range(1, n + 1)},
    }


def game_record(
    game_id: str,
    initial: GameState,
    moves: list[Move],
    final: GameState,
    *,
    engines: list[str],
    seed: int | None = None,
    started_at: datetime | None = None,
    duration_ms: int = 0,
    metadata: dict | None = None,
) -> dict:
    """A complete RingRift game record for a finished (or capped) game."""
    now = datetime.now(timezone.utc)
    started = started_at or now
    meta = {
        "recordVersion": RECORD_VERSION,
        "createdAt": now.isoformat(),
        "source": "self_play",
        "engineVictoryReason": final.victory_reason,
        "finalGameStatus": final.status,
        "finalPhase": final.phase,
        "hitMoveCap": final.victory_reason == "move_cap",
        "engines": list(engines),
    }
    meta.update(metadata or {})
    return {
        "id": game_id,
        "boardType": initial.board_type,
        "numPlayers": initial.num_players,
        "rngSeed": seed,
        "isRated": False,
        "players": [
            {"playerNumber": p, "username": f"Player {p}", "playerType": "ai", "aiType": engines[p - 1]}
            for p in range(1, initial.num_players + 1)
        ],
        "winner": final.winner,
        "outcome": record_outcome(final),
        "finalScore": final_score(final),
        "startedAt": started.isoformat(),
        "endedAt": now.isoformat(),
        "totalMoves": len(moves),
        "totalDurationMs": duration_ms,
        "moves": [
            m.to_json({"moveNumber": i + 1}) for i, m in enumerate(moves)
        ],
        "metadata": meta,
        "seed": seed,
        "rulesOptions": dict(initial.rules_options),
        "finalState": final.to_json(),
    }


def replay(record: dict, *, move_cap: int = 0) -> GameState:
    """Replay a record from the initial position, checking each move is legal.

    Raises IllegalMoveError naming the move number when a move is refused.
    """
    try:
        board, n = record["boardType"], int(record["numPlayers"])
    except (KeyError, TypeError, ValueError):
        raise StateFormatError("game record needs 'boardType' and 'numPlayers'") from None
    opts = record.get("rulesOptions") or (record.get("metadata") or {}).get("rulesOptions")
    state = new_game(board, n, rules_options=opts, move_cap=move_cap, game_id=str(record.get("id", "")))
    for i, m in enumerate(record.get("moves") or []):
        move = Move.from_json(m)
        try:
            state = apply(state, move)
        except IllegalMoveError as e:
            raise IllegalMoveError(f"move {i + 1} ({m.get('type')}): {e}") from None
    return state


def iter_records(path: str | Path) -> Iterator[dict]:
    """Records in a file: one record, a list of records, {games: [...]}, or JSON lines."""
    p = Path(path)
    if p.suffix == ".jsonl":
        try:
            lines = p.read_text().splitlines()
        except OSError as e:
            raise StateFormatError(f"{p}: cannot read ({e})") from None
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise StateFormatError(
                    f"{p}: line {i + 1} is not valid JSON ({e}); a crash mid-write leaves at "
                    "most the last line truncated: delete that line to recover the rest"
                ) from None
        return
    try:
        data: Any = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise StateFormatError(f"{p}: not a readable JSON game-record file ({e})") from None
    if isinstance(data, dict) and isinstance(data.get("games"), list):
        yield from data["games"]
    elif isinstance(data, list):
        yield from data
    elif isinstance(data, dict) and "moves" in data:
        yield data
    else:
        raise StateFormatError(f"{p}: no game records found (expected 'games' or 'moves')")


def write_records(path: str | Path, records: Iterable[dict], **header: Any) -> None:
    """Write records as {..header, games: [...]} atomically (temp file, then rename)."""
    write_atomic(path, json.dumps({**header, "games": list(records)}))
