"""State invariants every reachable position satisfies; the fuzz test and bench check them.

`violations(state)` returns human-readable problems (empty when all hold), so a
failing fuzz run says what broke rather than just that something did.
"""
from __future__ import annotations

from engine.rules import legal_moves
from engine.state import GameState


def progress_measure(s: GameState) -> int:
    """S = markers + collapsed cells + eliminated rings (R191): never decreases."""
    return sum(1 for m in s.markers if m) + sum(1 for c in s.collapsed if c) + sum(s.lost)


def violations(s: GameState) -> list[str]:
    problems = []
    rpp = s.geo.spec.rings_per_player
    keys = s.geo.keys
    on_board = [0] * (s.num_players + 1)
    for c, st in enumerate(s.stacks):
        if st is None:
            continue
        if not st:
            problems.append(f"empty stack tuple at {keys[c]}")
        if s.collapsed[c]:
            problems.append(f"stack on collapsed cell {keys[c]}")
        if s.markers[c]:
            problems.append(f"stack and marker share cell {keys[c]}")
        for owner in st:
            on_board[owner] += 1
    for c in range(s.geo.num_cells):
        if s.markers[c] and s.collapsed[c]:
            problems.append(f"marker on collapsed cell {keys[c]}")
    for p in range(1, s.num_players + 1):
        total = s.hand[p] + on_board[p] + s.lost[p]
        if total != rpp:
            problems.append(
                f"rings of player {p} not conserved: hand {s.hand[p]} + board {on_board[p]} "
                f"+ eliminated {s.lost[p]} = {total} != {rpp}"
            )
        if s.hand[p] < 0:
            problems.append(f"player {p} has negative rings in hand")
    if sum(s.board_elim) != s.total_elim:
        problems.append(f"board eliminations {sum(s.board_elim)} != total {s.total_elim}")
    terr = [0] * (s.num_players + 1)
    for o in s.collapsed:
        if o > 0:
            terr[o] += 1
    if terr[1:] != s.territory[1:]:
        problems.append(f"territory counters {s.territory[1:]} != collapsed cells {terr[1:]}")
    if s.status == "active" and not legal_moves(s):
        problems.append(f"player {s.current_player} has no legal move in {s.phase}")
    return problems
