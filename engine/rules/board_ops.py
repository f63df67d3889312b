"""The small set of board mutations every rule is built from (RULES.md §3, R023).

Each function credits eliminations and collapses to the acting player and keeps
the three elimination counters (player, board, total) consistent.
"""
from __future__ import annotations

from engine.state import GameState, cap_height


def credit_elimination(s: GameState, player: int, rings: int) -> None:
    s.elim[player] += rings
    s.board_elim[player] += rings
    s.total_elim += rings


def collapse_cell(s: GameState, cell: int, player: int) -> None:
    """Marker (if any) removed, cell collapsed and owned by `player`."""
    s.markers[cell] = 0
    s.collapsed[cell] = player
    s.territory[player] += 1


def eliminate_top_ring(s: GameState, cell: int, player: int) -> None:
    st = s.stacks[cell]
    s.stacks[cell] = st[:-1] or None
    s.lost[st[-1]] += 1
    credit_elimination(s, player, 1)


def eliminate_cap(s: GameState, cell: int, player: int) -> int:
    """Remove the whole cap of the stack at `cell`; returns the rings removed."""
    st = s.stacks[cell]
    cap = cap_height(st)
    s.stacks[cell] = st[:-cap] or None
    s.lost[st[-1]] += cap
    credit_elimination(s, player, cap)
    return cap


def extract_buried_ring(s: GameState, cell: int, player: int) -> bool:
    """Remove `player`'s bottom-most ring from the stack at `cell` (recovery cost, R113).

    Credited to the player's own counter only: the canonical engine leaves the board
    and total counters alone for extractions (RULES.md §16 item 13), and replays of
    its games must reach the same counters.
    """
    st = s.stacks[cell]
    if st is None or player not in st:
        return False
    i = st.index(player)
    rest = st[:i] + st[i + 1:]
    s.stacks[cell] = rest or None
    s.lost[player] += 1
    s.elim[player] += 1
    return True


def process_path_markers(s: GameState, path, player: int) -> None:
    """Markers passed over: opponents' flip to `player`, own ones collapse (R092)."""
    markers = s.markers
    for c in path:
        m = markers[c]
        if m:
            if m == player:
                collapse_cell(s, c, player)
            else:
                markers[c] = player
