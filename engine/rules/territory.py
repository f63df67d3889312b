"""Territory disconnection and region processing (R140–R145).

Candidate regions are the components of flood fills over non-collapsed cells by
territory adjacency: one fill per marker colour B present (B's markers act as
walls) and one where only collapsed cells are walls (RULES.md §9.1, §16 items 7-8).
"""
from __future__ import annotations

from engine.moves import Move
from engine.rules.board_ops import collapse_cell, credit_elimination
from engine.state import GameState


def _components(s: GameState, wall_colour: int) -> list[frozenset[int]]:
    collapsed = s.collapsed
    markers = s.markers
    adj = s.geo.terr_adj
    seen = bytearray(s.geo.num_cells)
    comps = []
    for start in range(s.geo.num_cells):
        if seen[start] or collapsed[start] or (wall_colour and markers[start] == wall_colour):
            continue
        seen[start] = 1
        comp = [start]
        stack = [start]
        while stack:
            c = stack.pop()
            for n in adj[c]:
                if seen[n] or collapsed[n] or (wall_colour and markers[n] == wall_colour):
                    continue
                seen[n] = 1
                comp.append(n)
                stack.append(n)
        comps.append(frozenset(comp))
    return comps


def find_regions(s: GameState) -> list[frozenset[int]]:
    """Every qualifying disconnected region, de-duplicated by cell set (R141–R142).

    Active colours are the players with any ring on the board, buried rings included
    (RULES.md §16 item 8); a region qualifies when the colours controlling stacks
    inside it are a strict subset of them.
    """
    stacks = s.stacks
    active = set()
    for st in stacks:
        if st is not None:
            active.update(st)
    if not active:
        return []
    colours = sorted(set(m for m in s.markers if m))
    seen: set[frozenset[int]] = set()
    regions = []
    for wall in colours + [0]:
        for comp in _components(s, wall):
            if comp in seen:
                continue
            inside = {stacks[c][-1] for c in comp if stacks[c] is not None}
            # A pocket walled by collapsed cells alone counts only with exactly one colour
            # inside, as in the canonical engine (RULES.md §16 item 7).
            if inside < active and (wall or len(inside) == 1):
                seen.add(comp)
                regions.append(comp)
    return regions


def can_process(s: GameState, region: frozenset[int], player: int) -> bool:
    """Self-elimination prerequisite (R143; in a recovery turn, R114)."""
    stacks = s.stacks
    if s.recovery_turn:
        for c, st in enumerate(stacks):
            if st is not None and c not in region and player in st[:-1]:
                return True
        return False
    for c, st in enumerate(stacks):
        if st is not None and st[-1] == player and c not in region:
            return True
    return False


def processable_regions(s: GameState, player: int) -> list[frozenset[int]]:
    return [r for r in find_regions(s) if can_process(s, r, player)]


def region_moves(s: GameState, player: int, regions: list[frozenset[int]]) -> list[Move]:
    keys = s.geo.keys
    out = []
    for r in regions:
        rk = frozenset(keys[c] for c in r)
        out.append(Move("choose_territory_option", player, keys[min(r)], region=rk))
    return out


def border_markers(s: GameState, region: frozenset[int]) -> set[int]:
    """Markers collapsed with a region (engine behaviour, RULES.md §16 item 6).

    Seed: markers of any colour territory-adjacent to the region. On square8, square19
    and hex8 the seed then grows through markers reachable by 8-neighbour (x, y) steps,
    never entering the region; on hexagonal the border is the seed alone.
    """
    markers = s.markers
    geo = s.geo
    seed = {n for c in region for n in geo.terr_adj[c] if n not in region and markers[n]}
    if geo.board_type == "hexagonal" or not seed:
        return seed
    border = set(seed)
    queue = list(seed)
    while queue:
        c = queue.pop()
        for n in geo.moore_xy[c]:
            if n in border or n in region or not markers[n]:
                continue
            border.add(n)
            queue.append(n)
    return border


def apply_region(s: GameState, region: frozenset[int], player: int) -> None:
    """Eliminate every ring inside, collapse the region and its border markers to `player`."""
    stacks = s.stacks
    border = border_markers(s, region)
    for c in region:
        st = stacks[c]
        if st is not None:
            for owner in st:
                s.lost[owner] += 1
            credit_elimination(s, player, len(st))
            stacks[c] = None
        collapse_cell(s, c, player)
    for c in border:
        collapse_cell(s, c, player)
