"""The turn as an explicit phase state machine: `legal_moves` and `apply`.

Phase order in a turn (RULES.md §4): ring_placement → movement → [capture] →
[chain_capture] → line_processing → territory_processing → [forced_elimination],
then the next player's ring_placement. Every phase is left by a recorded move;
the rules never fabricate moves, they only list them.
"""
from __future__ import annotations

from engine.errors import IllegalMoveError, StateFormatError
from engine.moves import PASSIVE_MOVES, Move
from engine.rules import lines as L
from engine.rules import territory as T
from engine.rules.board_ops import eliminate_cap, eliminate_top_ring, extract_buried_ring
from engine.rules.movement import (
    apply_capture, apply_move_stack, gen_captures, gen_stack_moves, has_capture_from,
)
from engine.rules.placement import apply_placement, placement_phase_moves
from engine.rules.recovery import apply_recovery, is_eligible, recovery_moves
from engine.rules.victory import check_victory, update_lps
from engine.state import GameState

# --- legal moves ---------------------------------------------------------------------------------


def legal_moves(s: GameState) -> list[Move]:
    """Every legal move of the player to move; empty only when the game is over."""
    if s.status != "active":
        return []
    p = s.current_player
    phase = s.phase
    if phase == "ring_placement":
        return placement_phase_moves(s, p)
    if phase == "movement":
        return _movement_moves(s, p)
    if phase == "capture":
        out: list[Move] = []
        if s.must_move >= 0:
            gen_captures(s, s.must_move, p, "overtaking_capture", out)
        out.append(Move("skip_capture", p))
        return out
    if phase == "chain_capture":
        out = []
        if s.chain_pos >= 0:
            gen_captures(s, s.chain_pos, p, "continue_capture_segment", out)
        else:
            # A serialized chain without its position (older RingRift states): any of the
            # mover's stacks may be the one in the chain.
            for c in s.controlled_stacks(p):
                gen_captures(s, c, p, "continue_capture_segment", out)
        return out
    if phase == "line_processing":
        return _line_moves(s, p)
    if phase == "territory_processing":
        return _territory_moves(s, p)
    if phase == "forced_elimination":
        keys = s.geo.keys
        return [Move("forced_elimination", p, keys[c]) for c in s.controlled_stacks(p)]
    return []


def _movement_moves(s: GameState, p: int) -> list[Move]:
    out: list[Move] = []
    stacks = s.stacks
    if s.must_move >= 0:
        cells = [s.must_move] if stacks[s.must_move] is not None else []
    else:
        cells = [c for c, st in enumerate(stacks) if st is not None and st[-1] == p]
    for c in cells:
        gen_stack_moves(s, c, p, out)
        gen_captures(s, c, p, "overtaking_capture", out)
    if not cells and is_eligible(s, p):
        out.extend(recovery_moves(s, p))
    if not out:
        out.append(Move("no_movement_action", p))
    return out


def _line_moves(s: GameState, p: int) -> list[Move]:
    keys = s.geo.keys
    if s.pending == "line":
        return [
            Move("eliminate_rings_from_stack", p, keys[c], context="line")
            for c in s.controlled_stacks(p)
        ]
    lines = L.find_lines(s, p)
    if lines:
        return L.line_moves(s, p, lines)
    return [Move("no_line_action", p)]


def _territory_moves(s: GameState, p: int) -> list[Move]:
    keys = s.geo.keys
    if s.pending == "territory":
        return [
            Move("eliminate_rings_from_stack", p, keys[c], context="territory")
            for c in s.controlled_stacks(p)
        ]
    if s.pending == "recovery":
        return [
            Move("eliminate_rings_from_stack", p, keys[c], context="recovery")
            for c, st in enumerate(s.stacks) if st is not None and p in st[:-1]
        ]
    regions = T.processable_regions(s, p)
    if regions:
        return T.region_moves(s, p, regions) + [Move("skip_territory_processing", p)]
    return [Move("no_territory_action", p)]


# --- applying ------------------------------------------------------------------------------------

def is_legal(s: GameState, move: Move) -> bool:
    if s.geo.is_hex:
        move = move.with_cube_keys()
    if s.status != "active" or move.player != s.current_player:
        return False
    if move in legal_moves(s):
        return True
    return _tolerated(s, move)


def _tolerated(s: GameState, move: Move) -> bool:
    """Recorded forms the canonical engine accepts that are not separate legal moves here.

    - `process_line` naming an overlength line: a no-op selection (RULES.md §14).
    - `choose_territory_option` without a region: resolved by its cell (RULES.md §14).
    - `recovery_slide` recorded without extraction stacks, as the canonical host records it.
    """
    t = move.type
    legal = legal_moves(s)
    if t == "process_line" and s.phase == "line_processing" and s.pending is None:
        line = L.match_line(s, move.player, move.line)
        return line is not None and len(line) > s.geo.spec.collapse_length(s.num_players)
    if t == "choose_territory_option" and move.region is None:
        return any(m.type == t and move.to in m.region for m in legal)
    if t == "recovery_slide" and not move.extraction:
        return any(
            m.type == t and m.frm == move.frm and m.to == move.to and m.mode == move.mode
            and (m.option or 1) == (move.option or 1)
            for m in legal
        )
    return False


def apply(s: GameState, move: Move, *, trusted: bool = False) -> GameState:
    """The state after `move`; `s` is never changed. Raises IllegalMoveError unless trusted.
    On a hex board, "x,y" keys in the move are read as cube cells (`Move.with_cube_keys`)."""
    if not isinstance(move, Move):
        raise StateFormatError(f"apply needs a Move, got {type(move).__name__}: read JSON with Move.from_json")
    if s.geo.is_hex:
        move = move.with_cube_keys()
    if not trusted:
        if s.status != "active":
            raise IllegalMoveError(f"the game is over ({s.victory_reason}); no move is legal")
        if move.player != s.current_player:
            raise IllegalMoveError(
                f"{move!r}: it is player {s.current_player}'s turn, not player {move.player}'s"
            )
        if not is_legal(s, move):
            raise IllegalMoveError(
                f"{move!r} is not legal in phase {s.phase} for player {s.current_player}"
            )
    ns = s.copy()
    try:
        apply_in_place(ns, move)
    except (KeyError, IndexError, TypeError) as e:
        raise IllegalMoveError(f"{move!r} cannot be applied to this state: {e!r}") from None
    return ns


def apply_in_place(s: GameState, move: Move) -> None:
    """Mutating apply for callers that own `s` (selfplay, search). No legality check."""
    p = move.player
    t = move.type
    index = s.geo.index
    s.move_count += 1
    s.turn_number += 1
    s.seat_moved[p] = True
    if t not in PASSIVE_MOVES:
        s.acted = True
        s.last_actor = p
    _HANDLERS[t](s, move, p, index)
    if s.status == "active" and s.move_cap and s.move_count >= s.move_cap:
        s.status = "completed"
        s.winner = None
        s.victory_reason = s.outcome = "move_cap"
        s.phase = "game_over"


def _place(s, m, p, index):
    c = index[m.to]
    apply_placement(s, c, m.count, p)
    s.phase = "movement"
    s.must_move = c


def _to_movement(s, m, p, index):
    s.phase = "movement"


def _swap(s, m, p, index):
    s.swap_used = True


def _move_stack(s, m, p, index):
    to = index[m.to]
    apply_move_stack(s, index[m.frm], to, p)
    st = s.stacks[to]
    if st is not None and st[-1] == p and has_capture_from(s, to):
        s.phase = "capture"
        s.must_move = to
    else:
        s.must_move = to if st is not None else -1
        _enter_lines(s)


def _capture(s, m, p, index):
    to = index[m.to]
    apply_capture(s, index[m.frm], index[m.target], to, p)
    st = s.stacks[to]
    if st is not None and st[-1] == p and has_capture_from(s, to):
        s.phase = "chain_capture"
        s.chain_pos = to
        s.must_move = to
    else:
        s.chain_pos = -1
        _enter_lines(s)


def _to_lines(s, m, p, index):
    _enter_lines(s)


def _recovery(s, m, p, index):
    apply_recovery(s, m, p)
    s.recovery_turn = True
    _enter_lines(s)


def _enter_lines(s: GameState) -> None:
    s.phase = "line_processing"


def _line_choice(s, m, p, index):
    line = L.match_line(s, p, m.line)
    if line is None:
        return
    Lmin = s.geo.spec.collapse_length(s.num_players)
    if m.type == "process_line":
        if len(line) > Lmin:
            return  # overlength: a selection that changes nothing
        cells = line
    else:
        cells = tuple(index[k] for k in (m.cells or m.line)) if m.cells else line
    for c in cells:
        if s.markers[c] == p:
            from engine.rules.board_ops import collapse_cell

            collapse_cell(s, c, p)
    owes = len(cells) >= len(line)
    if owes and s.controls_any_stack(p):
        s.pending = "line"
    elif L.find_lines(s, p):
        pass
    else:
        _leave_lines(s, p)


def _leave_lines(s: GameState, p: int) -> None:
    if T.processable_regions(s, p):
        s.phase = "territory_processing"
    elif not s.acted and s.controls_any_stack(p):
        s.phase = "forced_elimination"
    else:
        s.phase = "territory_processing"


def _no_line(s, m, p, index):
    _leave_lines(s, p)


def _eliminate(s, m, p, index):
    c = index[m.to]
    ctx = m.context or "territory"
    s.pending = None
    if ctx == "line":
        eliminate_top_ring(s, c, p)
        return
    if ctx == "recovery":
        # A region's recovery-context cost is an elimination like any other: unlike the
        # extraction paid inside a recovery slide, it counts on the board too.
        if extract_buried_ring(s, c, p):
            s.board_elim[p] += 1
            s.total_elim += 1
    else:
        eliminate_cap(s, c, p)
    if ctx == "forced":
        _end_turn(s, forced=True)
        return
    _after_region(s, p)


def _after_region(s: GameState, p: int) -> None:
    if T.processable_regions(s, p):
        s.phase = "territory_processing"
    else:
        _end_territory(s, p)


def _choose_region(s, m, p, index):
    if m.region is not None:
        region = frozenset(index[k] for k in m.region if k in index)
    else:
        cell = index.get(m.to, -1)
        found = [r for r in T.processable_regions(s, p) if cell in r]
        if not found:
            return
        region = found[0]
    T.apply_region(s, region, p)
    if s.recovery_turn:
        owed = any(st is not None and p in st[:-1] for st in s.stacks)
        s.pending = "recovery" if owed else None
    else:
        s.pending = "territory" if s.controls_any_stack(p) else None
    if s.pending is None:
        _after_region(s, p)


def _end_territory_move(s, m, p, index):
    _end_territory(s, p)


def _end_territory(s: GameState, p: int) -> None:
    if not s.acted and s.controls_any_stack(p):
        s.phase = "forced_elimination"
    else:
        _end_turn(s)


def _forced(s, m, p, index):
    eliminate_cap(s, index[m.to], p)
    _end_turn(s, forced=True)


def _resign(s, m, p, index):
    s.status = "completed"
    s.phase = "game_over"
    s.winner = 3 - p if s.num_players == 2 else None
    s.victory_reason = s.outcome = "resignation" if m.type == "resign" else "timeout"


def _end_turn(s: GameState, forced: bool = False) -> None:
    """Victory check, then rotation to the next seat still holding rings (R201)."""
    if not forced and check_victory(s):
        s.phase = "game_over"
        return
    prev = s.current_player
    n = s.num_players
    nxt = prev
    for i in range(1, n + 1):
        cand = (prev - 1 + i) % n + 1
        if s.has_any_ring(cand):
            nxt = cand
            break
    s.current_player = nxt
    s.phase = "ring_placement"
    s.must_move = -1
    s.chain_pos = -1
    s.pending = None
    s.recovery_turn = False
    s.acted = False
    if forced and check_victory(s):
        return
    update_lps(s, nxt, prev)


_HANDLERS = {
    "place_ring": _place,
    "skip_placement": _to_movement,
    "no_placement_action": _to_movement,
    "swap_sides": _swap,
    "move_stack": _move_stack,
    "overtaking_capture": _capture,
    "continue_capture_segment": _capture,
    "skip_capture": _to_lines,
    "no_movement_action": _to_lines,
    "recovery_slide": _recovery,
    "skip_recovery": _to_lines,
    "process_line": _line_choice,
    "choose_line_option": _line_choice,
    "no_line_action": _no_line,
    "eliminate_rings_from_stack": _eliminate,
    "choose_territory_option": _choose_region,
    "skip_territory_processing": _end_territory_move,
    "no_territory_action": _end_territory_move,
    "forced_elimination": _forced,
    "resign": _resign,
    "timeout": _resign,
}
