"""Ring placement (R080–R082): where rings may go, and when placing is optional."""
from __future__ import annotations

from engine.moves import Move
from engine.rules.movement import player_has_stack_action, stack_can_act
from engine.rules.recovery import is_eligible
from engine.state import GameState, cap_height


def placement_moves(s: GameState, player: int) -> list[Move]:
    """place_ring moves that leave the new stack able to move or capture (no dead placement)."""
    hand = s.hand[player]
    if hand <= 0:
        return []
    keys = s.geo.keys
    stacks, markers, collapsed = s.stacks, s.markers, s.collapsed
    top = min(3, hand)
    out = []
    rays = s.geo.rays
    for c in range(s.geo.num_cells):
        if collapsed[c] or markers[c]:
            continue
        st = stacks[c]
        if st is None:
            ok = _new_stack_counts(rays[c], stacks, collapsed, top)
            for k in range(1, top + 1):
                if ok >> k & 1:
                    out.append(Move("place_ring", player, keys[c], count=k))
        else:
            cap = cap_height(st) + 1 if st[-1] == player else 1
            if stack_can_act(s, c, len(st) + 1, cap):
                out.append(Move("place_ring", player, keys[c], count=1))
    return out


def _new_stack_counts(rays, stacks, collapsed, top: int) -> int:
    """Bitmask of the counts k (bit k, k <= top) for which a new pure stack of k rings
    here could move or capture; one walk per ray answers all three counts at once.

    A plain move needs a free run of at least k cells; a capture needs the first stack's
    cap <= k and a free landing at distance >= k beyond it.
    """
    full = (2 << top) - 2  # bits 1..top
    ok = 0
    for ray in rays:
        n = len(ray)
        f = 0
        while f < n:
            x = ray[f]
            if collapsed[x] or stacks[x] is not None:
                break
            f += 1
        if f:
            ok |= (2 << min(f, top)) - 2
        if f < n and stacks[ray[f]] is not None:
            j = f + 1
            while j < n and not collapsed[ray[j]] and stacks[ray[j]] is None:
                j += 1
            hi = min(top, j)  # farthest landing is at distance j
            lo = max(cap_height(stacks[ray[f]]), 1)
            if j > f + 1 and hi >= lo:
                ok |= ((2 << hi) - 2) & ~((1 << lo) - 1)
        if ok == full:
            break
    return ok


def placement_phase_moves(s: GameState, player: int) -> list[Move]:
    moves = placement_moves(s, player)
    if s.hand[player] > 0 and (player_has_stack_action(s, player) or is_eligible(s, player)):
        moves.append(Move("skip_placement", player))
    if (
        s.swap_enabled and not s.swap_used and player == 2 and s.num_players == 2
        and s.seat_moved[1] and not s.seat_moved[2]
    ):
        moves.append(Move("swap_sides", player))
    if not moves:
        moves.append(Move("no_placement_action", player))
    return moves


def apply_placement(s: GameState, cell: int, count: int, player: int) -> None:
    st = s.stacks[cell]
    if st is None:
        st = ()
        s.stack_arrived(cell)
    s.stacks[cell] = st + (player,) * count
    s.hand[player] -= count
