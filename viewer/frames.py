"""A game record replayed into frames: what every cell holds after each move, and who stands where.

The record is replayed move by move through the rules (engine.rules.apply checks each move is
legal), so what the viewer shows is what the engine computes, not what the record claims. A
cell's content is a short string: "" empty, "m2" a marker of player 2, "c1" a collapsed space
(territory) of player 1, "s1213" a stack listing its rings' owners bottom first (the top ring,
the controller, last). Frames are stored as diffs against the previous frame, so a long game on
the 469-cell hexagonal board stays small.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import IllegalMoveError, StateFormatError
from engine.game import new_game
from engine.moves import Move
from engine.rules import apply
from engine.state import GameState

BOARDS = ("square8", "square19", "hex8", "hexagonal")


def cell_content(state: GameState, cell: int) -> str:
    stack = state.stacks[cell]
    if stack is not None:
        return "s" + "".join(str(p) for p in stack)
    if state.collapsed[cell]:
        return f"c{state.collapsed[cell]}"
    if state.markers[cell]:
        return f"m{state.markers[cell]}"
    return ""


def contents(state: GameState) -> list[str]:
    return [cell_content(state, c) for c in range(state.geo.num_cells)]


def move_text(move: Move) -> str:
    """One line per move: the player, the move type and its cells."""
    t = move.type.replace("_", " ")
    parts = [f"P{move.player} {t}"]
    if move.type == "place_ring":
        parts.append(f"x{move.count} at {move.to}")
    elif move.frm is not None and move.target is not None:
        parts.append(f"{move.frm} over {move.target} to {move.to}")
    elif move.frm is not None:
        parts.append(f"{move.frm} to {move.to}")
    elif move.type in ("eliminate_rings_from_stack", "forced_elimination") and move.to:
        parts.append(f"at {move.to}")
    if move.line:
        parts.append(f"line of {len(move.line)}")
    if move.region:
        parts.append(f"region of {len(move.region)}")
    return " ".join(parts)


def _highlight(move: Move, state: GameState) -> list[int]:
    """Cells the move names (from, target, to, line or region), as cell indices."""
    keys = [k for k in (move.frm, move.target, move.to) if k]
    keys += list(move.line or ()) + sorted(move.region or ())
    index = state.geo.index
    return sorted({index[k] for k in keys if k in index})


def _scores(state: GameState) -> list[list[int]]:
    """Per player [rings in hand, rings eliminated (credited), territory spaces, rings on board]."""
    return [[state.hand[p], state.elim[p], state.territory[p], state.rings_on_board(p)]
            for p in range(1, state.num_players + 1)]


@dataclass
class Replay:
    """Everything the page needs: the initial cells, one diff and one info row per move."""

    board: str
    players: int
    initial: list[str]
    diffs: list[list[tuple[int, str]]] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)
    movers: list[int] = field(default_factory=list)
    highlights: list[list[int]] = field(default_factory=list)
    # after each frame (index 0 = before the first move): [to move, phase, scores per player]
    status: list[list[Any]] = field(default_factory=list)
    error: str | None = None
    final: GameState | None = None

    def frame(self, k: int) -> list[str]:
        """The cells after `k` moves (0 = the empty board)."""
        cells = list(self.initial)
        for diff in self.diffs[:k]:
            for cell, value in diff:
                cells[cell] = value
        return cells


def _check_record(record: dict[str, Any]) -> tuple[str, int, list[Any]]:
    if not isinstance(record, dict):
        raise StateFormatError(f"a game record must be a JSON object, got {type(record).__name__}")
    board, players, moves = record.get("boardType"), record.get("numPlayers"), record.get("moves")
    if board not in BOARDS:
        raise StateFormatError(f"game record {record.get('id', '?')}: boardType {board!r} is not one of "
                               f"{', '.join(BOARDS)}")
    if players not in (2, 3, 4):
        raise StateFormatError(f"game record {record.get('id', '?')}: numPlayers {players!r} is not 2, 3 or 4")
    if not isinstance(moves, list):
        raise StateFormatError(f"game record {record.get('id', '?')}: 'moves' is missing or not a list")
    return board, int(players), moves


def replay_frames(record: dict[str, Any]) -> Replay:
    """Replay `record` into frames. A move the rules refuse ends the replay there: the frames up to
    it are kept and `error` says which move failed and why (a viewer still shows the legal part)."""
    board, players, moves = _check_record(record)
    opts = record.get("rulesOptions") or (record.get("metadata") or {}).get("rulesOptions")
    state = new_game(board, players, rules_options=opts, move_cap=0, game_id=str(record.get("id", "")))
    prev = contents(state)
    rep = Replay(board=board, players=players, initial=list(prev))
    rep.status.append([state.current_player, state.phase, _scores(state)])
    for i, raw in enumerate(moves):
        try:
            move = Move.from_json(raw)
            state = apply(state, move)
        except (IllegalMoveError, StateFormatError, KeyError, ValueError, TypeError) as exc:
            kind = raw.get("type") if isinstance(raw, dict) else raw
            rep.error = f"move {i + 1} ({kind}) could not be replayed: {exc}"
            break
        now = contents(state)
        rep.diffs.append([(c, v) for c, (a, v) in enumerate(zip(prev, now)) if a != v])
        rep.moves.append(move_text(move))
        rep.movers.append(move.player)
        rep.highlights.append(_highlight(move, state))
        rep.status.append([state.current_player, state.phase if state.status == "active" else "game over",
                           _scores(state)])
        prev = now
    rep.final = state
    return rep
