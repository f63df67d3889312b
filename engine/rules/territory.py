"""Territory disconnection and region processing (R140–R145).

Candidate regions are the components of flood fills over non-collapsed cells by
territory adjacency: one fill per marker colour B present (B's markers act as
walls) and one where only collapsed cells are walls (RULES.md §9.1, §16 items 7-8).
"""
from __future__ import annotations

from engine.moves import Move
from engine.rules.board_ops import collapse_cell, credit_elimination
from engine.state import GameState


def _components(geo, passable: int) -> list[int]:
    """Connected components (territory adjacency) of a cell bitmask, each as a bitmask."""
    comps = []
    while passable:
        comp = passable & -passable
        while True:
            grown = geo.grow(comp, passable)
            if grown == comp:
                break
            comp = grown
        comps.append(comp)
        passable &= ~comp
    return comps


def find_regions(s: GameState) -> list[frozenset[int]]:
    """Every qualifying disconnected region, de-duplicated by cell set (R141–R142).

    Active colours are the players with any ring on the board, buried rings included
    (RULES.md §16 item 8); a region qualifies when the colours controlling stacks
    inside it are a strict subset of them.
    """
    geo = s.geo
    bits = geo.bits
    active: set[int] = set()
    control = {}
    for c, st in enumerate(s.stacks):
        if st is not None:
            active.update(st)
            top = st[-1]
            control[top] = control.get(top, 0) | bits[c]
    if not active:
        return []
    collapsed_bits = 0
    marker_bits: dict[int, int] = {}
    for c, o in enumerate(s.collapsed):
        if o:
            collapsed_bits |= bits[c]
    for c, m in enumerate(s.markers):
        if m:
            marker_bits[m] = marker_bits.get(m, 0) | bits[c]
    open_bits = geo.all_bits & ~collapsed_bits
    seen: set[int] = set()
    regions = []
    walls = [(colour, marker_bits[colour]) for colour in sorted(marker_bits)] + [(0, 0)]
    for colour, wall in walls:
        for comp in _components(geo, open_bits & ~wall):
            if comp in seen:
                continue
            inside = {p for p, mask in control.items() if comp & mask}
            # A pocket walled by collapsed cells alone counts only with exactly one colour
            # inside, as in the canonical engine (RULES.md §16 item 7).
            if inside < active and (colour or len(inside) == 1):
                seen.add(comp)
                regions.append(frozenset(geo.cells_of(comp)))
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
