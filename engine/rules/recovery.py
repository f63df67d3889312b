"""Recovery for a player with no stacks but markers and buried rings (R110–R115).

A recovery slide moves one of the player's markers one step. Line mode (the slide
completes a line of at least L markers) takes precedence; only when no line slide
exists anywhere may the player slide to an empty neighbour (fallback) or onto a
neighbouring stack (stack-strike). The cost is a buried-ring extraction.
"""
from __future__ import annotations

from engine.moves import Move
from engine.rules.board_ops import collapse_cell, eliminate_top_ring, extract_buried_ring
from engine.rules.lines import line_length, runs_through
from engine.state import GameState


def is_eligible(s: GameState, player: int) -> bool:
    """R110: controls no stack, owns a marker, has a buried ring."""
    if player not in s.markers:
        return False
    has_buried = False
    for st in s.stacks:
        if st is not None:
            if st[-1] == player:
                return False
            if not has_buried and player in st:
                has_buried = True
    return has_buried


def extraction_stacks(s: GameState, player: int) -> list[int]:
    return [c for c, st in enumerate(s.stacks) if st is not None and player in st[:-1]]


def _formed_line(s: GameState, frm: int, to: int, player: int) -> tuple[int, ...]:
    """The longest line of `player` through `to` after sliding a marker frm -> to."""
    markers = s.markers
    markers[frm] = 0
    markers[to] = player
    try:
        runs = runs_through(s, to, player)
    finally:
        markers[to] = 0
        markers[frm] = player
    return max(runs, key=len)


def recovery_moves(s: GameState, player: int) -> list[Move]:
    """Every legal recovery slide, each with its cost choices, plus skip_recovery."""
    geo = s.geo
    keys = geo.keys
    markers, stacks, collapsed = s.markers, s.stacks, s.collapsed
    L = line_length(s)
    sources = [c for c, m in enumerate(markers) if m == player]
    extract = [keys[c] for c in extraction_stacks(s, player)]
    line_moves: list[Move] = []
    fallback: list[Move] = []
    for frm in sources:
        fk = keys[frm]
        for to in geo.adj[frm]:
            if collapsed[to] or markers[to]:
                continue
            tk = keys[to]
            if stacks[to] is not None:
                for e in extract:
                    fallback.append(Move("recovery_slide", player, tk, fk, mode="stack_strike",
                                         extraction=(e,)))
                continue
            line = _formed_line(s, frm, to, player)
            if len(line) >= L:
                lk = tuple(keys[c] for c in line)
                for e in extract:
                    line_moves.append(Move("recovery_slide", player, tk, fk, mode="line",
                                           option=1, extraction=(e,)))
                if len(line) > L:
                    i_to = line.index(to)
                    for i in range(max(0, i_to - L + 1), min(i_to, len(line) - L) + 1):
                        line_moves.append(Move("recovery_slide", player, tk, fk, mode="line",
                                               option=2, cells=lk[i:i + L], extraction=()))
            else:
                for e in extract:
                    fallback.append(Move("recovery_slide", player, tk, fk, mode="fallback",
                                         extraction=(e,)))
    moves = line_moves if line_moves else fallback
    moves.append(Move("skip_recovery", player))
    return moves


def apply_recovery(s: GameState, move: Move, player: int) -> None:
    index = s.geo.index
    frm, to = index[move.frm], index[move.to]
    auto = None
    if not move.extraction and not (move.mode == "line" and move.option == 2):
        # Recorded without a choice: the canonical host pays the cost (R113) from the
        # first eligible stack in its stack map's insertion order, before the slide.
        eligible = extraction_stacks(s, player)
        if eligible:
            auto = min(eligible, key=lambda c: s.stack_born[c])
    if move.mode == "stack_strike":
        s.markers[frm] = 0
        eliminate_top_ring(s, to, player)
    else:
        s.markers[frm] = 0
        s.markers[to] = player
        if move.mode != "fallback":
            if move.option == 2 and move.cells:
                cells = [index[k] for k in move.cells]
            else:
                cells = _line_after_slide(s, to, player)
            for c in cells:
                collapse_cell(s, c, player)
    for k in move.extraction or ():
        extract_buried_ring(s, index[k], player)
    if auto is not None:
        extract_buried_ring(s, auto, player)


def _line_after_slide(s: GameState, to: int, player: int) -> tuple[int, ...]:
    return max(runs_through(s, to, player), key=len)
