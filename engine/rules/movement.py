"""Non-capture movement and overtaking captures (R090–R103).

Generation walks the precomputed rays; nothing is copied. The `has_*` helpers
answer "does any move exist" without building Move objects, which placement
legality, forced elimination and last-player-standing ask constantly.
"""
from __future__ import annotations

from engine.moves import Move
from engine.rules.board_ops import eliminate_top_ring, process_path_markers
from engine.state import GameState, cap_height


def stack_can_act(s: GameState, cell: int, height: int, cap: int) -> bool:
    """Whether a stack of this height and cap at `cell` has a move or capture."""
    stacks = s.stacks
    collapsed = s.collapsed
    for ray in s.geo.rays[cell]:
        n = len(ray)
        if n < height:
            # A plain move needs distance >= height; a capture's landing too.
            continue
        i = 0
        while i < n:
            c = ray[i]
            if collapsed[c]:
                break
            t = stacks[c]
            if t is None:
                if i + 1 >= height:
                    return True
                i += 1
                continue
            # First stack on the ray: only a capture can pass it.
            if cap_height(t) <= cap:
                j = i + 1
                while j < n:
                    l = ray[j]
                    if collapsed[l] or stacks[l] is not None:
                        break
                    if j + 1 >= height:
                        return True
                    j += 1
            break
    return False


def stack_has_action(s: GameState, cell: int) -> bool:
    st = s.stacks[cell]
    return stack_can_act(s, cell, len(st), cap_height(st))


def player_has_stack_action(s: GameState, player: int) -> bool:
    for c, st in enumerate(s.stacks):
        if st is not None and st[-1] == player and stack_can_act(s, c, len(st), cap_height(st)):
            return True
    return False


# Moves are immutable and reused: one Move per (board, type, player, cells), built once.
_MOVE_CACHE: dict[tuple, Move] = {}


def gen_stack_moves(s: GameState, cell: int, player: int, out: list) -> None:
    stacks = s.stacks
    collapsed = s.collapsed
    keys = s.geo.keys
    frm = keys[cell]
    h = len(stacks[cell])
    cache = _MOVE_CACHE
    bt = s.board_type
    for ray in s.geo.rays[cell]:
        if len(ray) < h:
            continue
        for i, c in enumerate(ray):
            if collapsed[c] or stacks[c] is not None:
                break
            if i + 1 >= h:
                k = (bt, player, cell, c)
                m = cache.get(k)
                if m is None:
                    m = cache[k] = Move("move_stack", player, keys[c], frm)
                out.append(m)


def gen_captures(s: GameState, cell: int, player: int, mtype: str, out: list) -> None:
    stacks = s.stacks
    collapsed = s.collapsed
    keys = s.geo.keys
    frm = keys[cell]
    st = stacks[cell]
    h = len(st)
    cap = cap_height(st)
    for ray in s.geo.rays[cell]:
        n = len(ray)
        for i in range(n):
            c = ray[i]
            if collapsed[c]:
                break
            t = stacks[c]
            if t is None:
                continue
            if cap_height(t) <= cap:
                tk = keys[c]
                for j in range(i + 1, n):
                    l = ray[j]
                    if collapsed[l] or stacks[l] is not None:
                        break
                    if j + 1 >= h:
                        out.append(Move(mtype, player, keys[l], frm, tk))
            break


def has_capture_from(s: GameState, cell: int) -> bool:
    out: list = []
    gen_captures(s, cell, 0, "overtaking_capture", out)
    return bool(out)


def apply_move_stack(s: GameState, frm: int, to: int, player: int) -> None:
    """Move a whole stack; departure marker, path markers, landing-on-marker cost (R092)."""
    st = s.stacks[frm]
    s.stacks[frm] = None
    s.markers[frm] = player
    process_path_markers(s, s.geo.between(frm, to), player)
    s.stacks[to] = st
    s.stack_arrived(to)
    if s.markers[to]:
        s.markers[to] = 0
        eliminate_top_ring(s, to, player)


def apply_capture(s: GameState, frm: int, target: int, to: int, player: int) -> None:
    """One capture segment (R102): the target's top ring goes to the bottom of the attacker."""
    geo = s.geo
    attacker = s.stacks[frm]
    s.stacks[frm] = None
    s.markers[frm] = player
    process_path_markers(s, geo.between(frm, target), player)
    process_path_markers(s, geo.between(target, to), player)
    t = s.stacks[target]
    if t is not None:
        s.stacks[target] = t[:-1] or None
        attacker = (t[-1],) + attacker
    s.stacks[to] = attacker
    # Map order as in RingRift's mutateCapture: the target's entry is deleted, the landing
    # stack is added, then the surviving target is added back after it. An unchosen
    # recovery extraction takes the first eligible stack in this order (recovery.py).
    s.stack_arrived(to)
    if t is not None and len(t) > 1:
        s.stack_arrived(target)
    if s.markers[to]:
        s.markers[to] = 0
        eliminate_top_ring(s, to, player)
