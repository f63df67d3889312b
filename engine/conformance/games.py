"""Golden game records and random-game records: replay every move from a new game.

A game is one counted unit. It passes when every recorded move is accepted by the
engine's checked `apply` (no trusted replay: these are real games) and the end agrees
with the record: winner, outcome, final score, and for random games the full
`finalState`, key path by key path.
"""
from __future__ import annotations

from pathlib import Path

from engine.conformance import states as st
from engine.conformance.api import engine_api
from engine.conformance.model import GOLDEN, Result, describe_error


def rules_options(record: dict) -> dict | None:
    """Rules options a record carries, wherever RingRift put them (none in our data yet)."""
    for holder in (record, record.get("metadata") or {}, record.get("finalState") or {}):
        if isinstance(holder.get("rulesOptions"), dict):
            return holder["rulesOptions"]
    return None


def run_game(record: dict, source: Path, kind: str = GOLDEN, defaults: dict | None = None) -> Result:
    """Replay one game record; `defaults` supplies a random-games file's board/players."""
    api = engine_api()
    defaults = defaults or {}
    result = Result(str(record.get("id", "?")), kind, source)
    board = record.get("boardType", defaults.get("boardType"))
    players = record.get("numPlayers", defaults.get("numPlayers"))
    try:
        # A recorded game is replayed as it was played: the default move cap is for our
        # own selfplay and would end a long canonical game early (hexagonal runs past 1,200).
        state = api.new_game(board, players, rules_options=rules_options(record), move_cap=0)
    except Exception as exc:
        result.fail("new_game", f"a {board} game for {players} players", describe_error(exc))
        return result
    moves = record.get("moves") or []
    for index, move_json in enumerate(moves, 1):
        number = move_json.get("moveNumber", index)
        try:
            state = api.apply(state, api.move_from_json(move_json, board))
        except Exception as exc:
            legal = _legal_summary(api, state)
            result.fail(f"move {number} ({move_json.get('type')} by player {move_json.get('player')})",
                        "accepted as legal", f"{describe_error(exc)} [engine: {legal}]")
            return result
    _check_end(record, state, result, len(moves))
    return result


def _legal_summary(api, state) -> str:
    """Where the engine stood when it refused a move: player, phase and its legal move types."""
    try:
        types = sorted({m.to_json().get("type") for m in api.legal_moves(state)})
    except Exception as exc:
        types = [describe_error(exc)]
    return f"player {state.current_player} in {state.phase}, status {state.status}, legal types {types}"


def _check_end(record: dict, state, result: Result, count: int) -> None:
    where = f"after move {count}: "
    final = state.to_json()
    has_winner = "winner" in record
    if has_winner or state.status != "active":
        if record.get("winner") != state.winner:
            result.fail(where + "winner", record.get("winner"), state.winner)
        accepted = {record.get("outcome")}
        if record.get("outcome") == "stalemate":
            # Records label every bare-board ending `stalemate` and keep the canonical
            # engine's own reason (which may be a territory win) in metadata.
            accepted.add((record.get("metadata") or {}).get("engineVictoryReason"))
        if state.victory_reason not in accepted:
            result.fail(where + "outcome", record.get("outcome"), state.victory_reason)
    else:
        # A record without a winner whose replay is still going is a snippet of a game;
        # its `outcome` is a placeholder the generator filled in, not a result to match.
        result.notes.append(f"record has no winner and the game is still active after move {count}; "
                            f"outcome {record.get('outcome')!r} not checked")
    _check_score(record.get("finalScore") or {}, final, result, where)
    if isinstance(record.get("finalState"), dict):
        diff, total = st.first_state_diff(record["finalState"], final, where + "finalState.")
        if diff is not None:
            result.failures.append(diff)
            if total > 1:
                result.notes.append(f"{total} key paths of finalState differ; first shown")


_SCORE_FIELDS = {"ringsEliminated": "eliminatedRings", "territorySpaces": "territorySpaces", "ringsRemaining": "ringsInHand"}


def _check_score(score: dict, final: dict, result: Result, where: str) -> None:
    """finalScore per player: eliminated rings, territory, rings still in hand."""
    for name, per_player in score.items():
        field_name = _SCORE_FIELDS.get(name)
        if field_name is None or not isinstance(per_player, dict):
            result.fail(f"{where}finalScore.{name}", per_player, "unknown finalScore field")
            continue
        for player, want in sorted(per_player.items()):
            got = st.player_entry(final, int(player)).get(field_name)
            if name == "ringsRemaining" and got != want:
                # The random-game generator counts rings of the colour still in play (hand +
                # board); the older golden records count rings in hand only. Either agrees.
                in_play = (got or 0) + st.rings_of_player(final, int(player))
                got = in_play if in_play == want else f"{got} in hand, {in_play} in play"
            if got != want:
                result.fail(f"{where}finalScore.{name}[{player}]", want, got)
