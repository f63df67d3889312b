"""Named features of a position from one player's point of view: what the heuristic weighs.

Why this shape: CMA-ES tunes the weights, so the evaluation is linear in a flat feature
vector, and the vector must be cheap. Features are computed in two steps:

1. `raw_stats(state)`: one pass over the stacks (plus bitboard tricks for markers and the
   engine's bitboard flood fill for regions) giving per-player counts (`RAW_NAMES`, rows
   indexed by seat 1..n). Nothing here depends on whose point of view is taken.
2. `combine(state, raw, player)`: the feature vector for one seat. Most features are
   "own minus the mean of the opponents", normalised by board constants (rings per player,
   victory threshold, territory minimum) so one default weight set suits every board; the
   rest look at every opponent (the closest opponent's victory proximity) or the result.

Because step 2 is linear in the raw counts for every feature except the last three, a
move's effect can be scored from a sparse change of raw counts without building the child
state (see `engine.players.move_scoring`); `raw_coefficients` exposes that linear map.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.geometry import Geometry
from engine.rules.territory import _components
from engine.state import GameState, cap_height

RAW_NAMES: tuple[str, ...] = (
    "rings_on_board",     # rings of the player's colour anywhere on the board
    "rings_in_hand",
    "eliminated",         # rings credited to the player (victory progress)
    "territory",          # collapsed cells owned
    "stacks",             # stacks controlled
    "cap_height",         # sum of cap heights of controlled stacks (capture power)
    "stack_height",       # rings in controlled stacks, prisoners included
    "buried_rings",       # the player's rings inside stacks someone else controls
    "markers",
    "line_threats",       # windows of L-1 consecutive own markers along a line axis
    "mobility",           # (stack, direction) pairs with a legal plain move
    "capture_threats",    # opponents' stacks the player can capture now
    "vulnerable_stacks",  # the player's stacks some opponent can capture now
    "region_gain",        # cells + foreign rings of disconnected regions the player could take
    "region_risk",        # the player's rings inside regions an opponent could take
    "centre",             # centrality of controlled stacks (1 at the centre, 0 at the edge)
    "no_stacks",          # 1 when the player controls no stack
)
NRAW = len(RAW_NAMES)
FEATURE_NAMES: tuple[str, ...] = RAW_NAMES + (
    "victory_proximity",           # own max(eliminated/threshold, territory/minimum) squared
    "opponent_victory_proximity",  # the same for the opponent closest to winning
    "terminal",                    # +1 won, -1 lost, 0 otherwise
)
NFEAT = len(FEATURE_NAMES)
(RINGS, HAND, ELIM, TERR, STACKS, CAP, HEIGHT, BURIED, MARKERS, LINES, MOBILITY, THREATS,
 VULNERABLE, REGION_GAIN, REGION_RISK, CENTRE, NO_STACKS) = range(NRAW)
VP, OPP_VP, TERMINAL = NRAW, NRAW + 1, NRAW + 2


@lru_cache(maxsize=None)
def board_tables(geo: Geometry) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Per-board constants: cell centrality, and the bit shifts of the line axes."""
    coords = geo.coords
    if geo.is_hex:
        dist = [max(abs(v) for v in c) for c in coords]
    else:
        mid = (geo.spec.size - 1) / 2
        dist = [max(abs(c[0] - mid), abs(c[1] - mid)) for c in coords]
    far = max(dist) or 1
    centrality = tuple(1.0 - d / far for d in dist)
    pos = [b.bit_length() - 1 for b in geo.bits]
    shifts = []
    for d in geo.axes:
        for c in range(geo.num_cells):
            ray = geo.rays[c][d]
            if ray:
                shifts.append(pos[ray[0]] - pos[c])
                break
    return centrality, tuple(shifts)


def norms(state: GameState) -> tuple[float, ...]:
    """Divisors that put each raw count on a scale of about one on every board."""
    r = float(state.geo.spec.rings_per_player)
    unit = r / 6.0
    return (
        r, r, float(state.victory_threshold), float(state.territory_minimum), unit, r, r, r, r,
        unit, r, unit, unit, r, r, unit, 1.0,
    )


def _shift(mask: int, sh: int) -> int:
    return mask >> sh if sh > 0 else mask << -sh


def raw_stats(s: GameState) -> list[list[float]]:
    """Per-player raw counts, `raw[x][i]` for seat x (row 0 unused) and `RAW_NAMES[i]`."""
    n = s.num_players
    geo = s.geo
    stacks, collapsed, markers = s.stacks, s.collapsed, s.markers
    centrality, axis_shifts = board_tables(geo)
    raw = [[0.0] * NRAW for _ in range(n + 1)]
    for x in range(1, n + 1):
        r = raw[x]
        r[HAND] = s.hand[x]
        r[ELIM] = s.elim[x]
        r[TERR] = s.territory[x]
        r[MARKERS] = markers.count(x)
    cells = [c for c, st in enumerate(stacks) if st is not None]
    caps = {c: cap_height(stacks[c]) for c in cells}
    rays = geo.rays
    threatened: list[set] = [set() for _ in range(n + 1)]
    for c in cells:
        st = stacks[c]
        x = st[-1]
        h = len(st)
        k = caps[c]
        r = raw[x]
        r[STACKS] += 1
        r[CAP] += k
        r[HEIGHT] += h
        r[CENTRE] += centrality[c]
        for owner in st:
            raw[owner][RINGS] += 1
            if owner != x:
                raw[owner][BURIED] += 1
        mob = 0
        for ray in rays[c]:
            ln = len(ray)
            i = 0
            while i < ln:
                q = ray[i]
                if collapsed[q] or stacks[q] is not None:
                    break
                i += 1
            if i >= h:
                mob += 1
            if i < ln:
                t = ray[i]
                if stacks[t] is not None and caps[t] <= k and stacks[t][-1] != x:
                    j = i + 1
                    while j < ln:
                        q = ray[j]
                        if collapsed[q] or stacks[q] is not None:
                            break
                        if j + 1 >= h:
                            threatened[x].add(t)
                            break
                        j += 1
        r[MOBILITY] += mob
    for x in range(1, n + 1):
        raw[x][THREATS] = len(threatened[x])
        if raw[x][STACKS] == 0:
            raw[x][NO_STACKS] = 1.0
    attacked = set().union(*threatened[1:]) if n else set()
    for t in attacked:
        raw[stacks[t][-1]][VULNERABLE] += 1
    masks = _marker_masks(s)
    _line_threats(s, raw, masks, axis_shifts)
    if cells:
        _regions(s, raw, cells, masks)
    return raw


def _marker_masks(s: GameState) -> list[int]:
    bits = s.geo.bits
    masks = [0] * (s.num_players + 1)
    for c, m in enumerate(s.markers):
        if m:
            masks[m] |= bits[c]
    return masks


def _line_threats(s: GameState, raw: list[list[float]], masks: list[int],
                  axis_shifts: tuple[int, ...]) -> None:
    """Windows of L-1 consecutive own markers on an axis, counted with bitboard shifts."""
    n = s.num_players
    need = s.geo.spec.line_length(n) - 1
    for x in range(1, n + 1):
        m = masks[x]
        if not m:
            continue
        total = 0
        for sh in axis_shifts:
            w = m
            for j in range(1, need):
                w &= _shift(m, sh * j)
            total += w.bit_count()
        raw[x][LINES] = total


def _regions(s: GameState, raw: list[list[float]], cells: list[int], masks: list[int]) -> None:
    """Disconnected regions now: what each player could take, and what each could lose.

    The candidate regions are those of the rules (`engine.rules.territory.find_regions`:
    components of the open cells with one marker colour as walls, or collapsed cells only),
    kept as bitmasks: only the stacks inside are looked at cell by cell.
    """
    geo = s.geo
    bits = geo.bits
    stacks = s.stacks
    n = s.num_players
    control = [0] * (n + 1)
    active: set[int] = set()
    for c in cells:
        st = stacks[c]
        control[st[-1]] |= bits[c]
        active.update(st)
    stack_bits = 0
    for m in control:
        stack_bits |= m
    collapsed_bits = 0
    for c, o in enumerate(s.collapsed):
        if o:
            collapsed_bits |= bits[c]
    open_bits = geo.all_bits & ~collapsed_bits
    controllers = [m.bit_count() for m in control]
    seen: set[int] = set()
    walls = [masks[x] for x in range(1, n + 1) if masks[x]] + [0]
    for wall in walls:
        for comp in _components(geo, open_bits & ~wall):
            if comp in seen:
                continue
            inside = {x for x in range(1, n + 1) if control[x] & comp}
            if not (inside < active and (wall or len(inside) == 1)):
                continue
            seen.add(comp)
            inside_ctrl = [(control[x] & comp).bit_count() for x in range(n + 1)]
            rings_in = [0] * (n + 1)
            for c in geo.cells_of(comp & stack_bits):
                for o in stacks[c]:
                    rings_in[o] += 1
            size = comp.bit_count()
            can_take = [controllers[x] > inside_ctrl[x] for x in range(n + 1)]
            for x in range(1, n + 1):
                if can_take[x] and inside_ctrl[x] == 0:
                    raw[x][REGION_GAIN] += size + sum(rings_in) - rings_in[x]
                if rings_in[x] and any(can_take[y] for y in range(1, n + 1) if y != x):
                    raw[x][REGION_RISK] += rings_in[x]


def victory_proximity(s: GameState, raw: list[list[float]], x: int) -> float:
    r = raw[x]
    v = max(r[ELIM] / s.victory_threshold, r[TERR] / s.territory_minimum)
    return v * v


def combine(s: GameState, raw: list[list[float]], player: int) -> list[float]:
    """The feature vector (as a list, in `FEATURE_NAMES` order) for `player`."""
    n = s.num_players
    nm = norms(s)
    own = raw[player]
    others = [raw[x] for x in range(1, n + 1) if x != player]
    inv = 1.0 / len(others)
    out = [0.0] * NFEAT
    for i in range(NRAW):
        opp = 0.0
        for o in others:
            opp += o[i]
        out[i] = (own[i] - opp * inv) / nm[i]
    out[VP] = victory_proximity(s, raw, player)
    out[OPP_VP] = max(victory_proximity(s, raw, x) for x in range(1, n + 1) if x != player)
    if s.status != "active":
        out[TERMINAL] = 1.0 if s.winner == player else (0.0 if s.winner is None else -1.0)
    return out


def features(state: GameState, player: int) -> np.ndarray:
    """The named features of `state` from `player`'s point of view (`FEATURE_NAMES` order)."""
    return np.array(combine(state, raw_stats(state), player))


def seat_scores(s: GameState, raw: list[list[float]], weights: list[float]) -> list[float]:
    """The linear evaluation for every seat (index 0 = seat 1) from one set of raw counts."""
    out = []
    for p in range(1, s.num_players + 1):
        f = combine(s, raw, p)
        out.append(sum(w * v for w, v in zip(weights, f)))
    return out


def raw_coefficients(s: GameState, weights: list[float]) -> np.ndarray:
    """C[seat-1, x, i]: d(score of seat) / d(raw[x][i]) for the linear part of the evaluation.

    Exact for every raw count; the victory-proximity and terminal features are not linear
    and are left out (moves scored through this map must not change them).
    """
    n = s.num_players
    nm = norms(s)
    coef = np.zeros((n, n + 1, NRAW))
    inv = 1.0 / (n - 1)
    for p in range(1, n + 1):
        for i in range(NRAW):
            w = weights[i] / nm[i]
            for x in range(1, n + 1):
                coef[p - 1, x, i] = w if x == p else -w * inv
    return coef
