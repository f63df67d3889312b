"""Scoring every legal move of a position with the linear evaluation, fast.

The heuristic player, the MCTS priors, the minimax leaves and the descent expansions all
ask the same question: "what is the evaluation (for every seat) of the position after each
of these moves?" Answering it by copying the state per move costs a copy, an apply and a
full feature pass per move; on square8 a placement decision has about 140 moves, and
placements are most of a game's decisions. So moves are scored in two ways:

- `place_ring` moves by a *delta*: one table of free runs and first stacks per cell and
  direction (`_ray_table`, one linear scan per direction) gives, for each placement, the
  sparse change of the raw counts (material, control, caps, mobility of the new stack and
  of the stacks it blocks, the captures it threatens and whether it can be captured);
  `raw_coefficients` turns the changes of all placements into per-seat scores in one numpy
  product. Second-order effects (threats that other stacks lose) are ignored.
- every other move exactly: copy, apply, play the forced bookkeeping moves that follow
  (so a capture that wins shows as a win), and evaluate. Such decisions have few moves.

`refine=k` re-scores the k best placements exactly, so a player choosing among them never
acts on an approximation.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.geometry import Geometry
from engine.moves import Move
from engine.players.features import (
    BURIED, CAP, CENTRE, HAND, HEIGHT, MOBILITY, NO_STACKS, NRAW, RINGS, STACKS, THREATS,
    VULNERABLE, board_tables, raw_coefficients, raw_stats, seat_scores,
)
from engine.rules import apply_in_place, legal_moves
from engine.rules.victory import count_legal_placements
from engine.state import GameState, cap_height


def _several_placements(s: GameState) -> bool:
    """True when the player to move has at least two ring placements (a search asks this for
    every child it builds, to skip positions with a single legal move)."""
    if s.phase != "ring_placement":
        return False
    return count_legal_placements(s, s.current_player, 2) >= 2


def advance_forced(s: GameState, limit: int = 64) -> None:
    """Play moves while the player to move has exactly one (bookkeeping), in place."""
    for _ in range(limit):
        if s.status != "active" or _several_placements(s):
            return
        ms = legal_moves(s)
        if len(ms) != 1:
            return
        apply_in_place(s, ms[0])


def child_state(s: GameState, move: Move) -> GameState:
    """The next decision point after `move`: a copy with the move and its forced tail applied."""
    c = s.copy()
    apply_in_place(c, move)
    advance_forced(c)
    return c


def evaluate_state(s: GameState, weights: list[float]) -> list[float]:
    """The evaluation for every seat (index 0 = seat 1)."""
    return seat_scores(s, raw_stats(s), weights)


@lru_cache(maxsize=None)
def _scan_orders(geo: Geometry) -> tuple[tuple[int, ...], ...]:
    """Per direction, the cells ordered so that each cell's neighbour in that direction
    comes first: one pass then fills free runs and first stacks for the whole board."""
    orders = []
    for d in geo.dirs:
        orders.append(tuple(sorted(
            range(geo.num_cells),
            key=lambda c: -sum(a * b for a, b in zip(geo.coords[c], d)),
        )))
    return tuple(orders)


def _ray_table(s: GameState) -> tuple[list[list[int]], list[list[int]]]:
    """free[d][c]: empty (no stack, not collapsed) cells in a row beyond c in direction d;
    first[d][c]: the stack ending that run, or -1 (edge or collapsed cell)."""
    geo = s.geo
    stacks, collapsed = s.stacks, s.collapsed
    nc = geo.num_cells
    adj = geo.adj_by_dir
    free_all, first_all = [], []
    for d, order in enumerate(_scan_orders(geo)):
        free = [0] * nc
        first = [-1] * nc
        for c in order:
            m = adj[c][d]
            if m < 0 or collapsed[m]:
                continue
            if stacks[m] is not None:
                first[c] = m
            else:
                free[c] = free[m] + 1
                first[c] = first[m]
        free_all.append(free)
        first_all.append(first)
    return free_all, first_all


class _Placements:
    """What the delta scorer needs about a position, computed once per decision: the ray
    table, caps, who threatens which stack, the base scores and the linear coefficients."""

    def __init__(self, s: GameState, weights: list[float]):
        self.s = s
        self.raw = raw = raw_stats(s)
        self.base = seat_scores(s, raw, weights)
        self.coef = [row.reshape(-1).tolist() for row in raw_coefficients(s, weights)]
        self.free, self.first = _ray_table(s)
        stacks = s.stacks
        self.caps = {c: cap_height(st) for c, st in enumerate(stacks) if st is not None}
        self.opp = s.geo.opposite
        self.centrality = board_tables(s.geo)[0]
        # threat[x][t]: how many of x's stacks can capture the stack at t; attacked[t]: by anyone.
        n = s.num_players
        self.threat: list[dict[int, int]] = [dict() for _ in range(n + 1)]
        self.attacked: dict[int, int] = {}
        for c, k in self.caps.items():
            st = stacks[c]
            x = st[-1]
            for t, tcap, dist in self._target_rays(c, x):
                if tcap <= k and dist >= len(st):
                    self.threat[x][t] = self.threat[x].get(t, 0) + 1
                    self.attacked[t] = self.attacked.get(t, 0) + 1

    def _target_rays(self, c: int, owner: int) -> list[tuple[int, int, int]]:
        """(stack t, its cap, farthest landing distance) for each direction from c whose
        first stack is someone else's with a free cell beyond it: capturable by a stack
        at c with cap >= t's cap and height <= that distance."""
        stacks, caps, free, first = self.s.stacks, self.caps, self.free, self.first
        out = []
        for d in range(len(free)):
            t = first[d][c]
            if t >= 0 and stacks[t][-1] != owner:
                beyond = free[d][t]
                if beyond >= 1:
                    out.append((t, caps[t], free[d][c] + 1 + beyond))
        return out

    def _attacker_rays(self, c: int, owner: int) -> list[tuple[int, int]]:
        """(cap, player) of the stacks that could capture a stack at c owned by `owner` whose
        cap is at most that cap (the first stack on each ray, with a landing beyond c)."""
        stacks, caps, free, first, opp = self.s.stacks, self.caps, self.free, self.first, self.opp
        out = []
        for d in range(len(free)):
            t = first[d][c]
            if t < 0:
                continue
            st = stacks[t]
            if st[-1] != owner:
                land = free[opp[d]][c]
                if land >= 1 and free[d][c] + 1 + land >= len(st):
                    out.append((caps[t], st[-1]))
        return out

    def scores(self, c: int, p: int, counts: list[int]) -> dict[int, list[float]]:
        """Per-seat scores after p places k rings at c, for each k in `counts`."""
        s = self.s
        free, first, opp, caps = self.free, self.first, self.opp, self.caps
        stacks, raw, coef = s.stacks, self.raw, self.coef
        threat, attacked = self.threat, self.attacked
        seats = range(len(coef))

        def add(acc: list[float], x: int, i: int, v: float) -> None:
            j = x * NRAW + i
            for seat in seats:
                acc[seat] += coef[seat][j] * v

        nd = len(free)
        runs = [free[d][c] for d in range(nd)]
        cent = self.centrality[c]
        common = list(self.base)
        st = stacks[c]
        if st is None:
            if raw[p][STACKS] == 0:
                add(common, p, NO_STACKS, -1.0)
            # Stacks whose runs pass through c now stop before it, and a capture they made
            # through c, of the stack beyond it, is blocked.
            for d in range(nd):
                t = first[d][c]
                if t < 0:
                    continue
                tst = stacks[t]
                th, y = len(tst), tst[-1]
                fd, fo = runs[d], free[opp[d]][c]
                if fd + 1 + fo >= th > fd:
                    add(common, y, MOBILITY, -1.0)
                u = first[opp[d]][c]
                if u >= 0 and stacks[u][-1] != y and caps[u] <= caps[t]:
                    land = free[opp[d]][u]
                    if land >= 1 and fd + fo + 2 + land >= th and threat[y].get(u, 0) == 1:
                        add(common, y, THREATS, -1.0)
                        if attacked.get(u, 0) == 1:
                            add(common, stacks[u][-1], VULNERABLE, -1.0)
        else:
            q = st[-1]
            h, kc = len(st), caps[c]
            for i, v in ((STACKS, 1), (CAP, kc), (HEIGHT, h), (CENTRE, cent)):
                add(common, q, i, -v)
            add(common, q, MOBILITY, -sum(1 for r in runs if r >= h))
            for t, tcap, dist in self._target_rays(c, q):
                if tcap <= kc and dist >= h and threat[q].get(t, 0) == 1:
                    add(common, q, THREATS, -1.0)
                    if attacked.get(t, 0) == 1:
                        add(common, stacks[t][-1], VULNERABLE, -1.0)
            if attacked.get(c, 0):
                add(common, q, VULNERABLE, -1.0)
            if q != p:
                add(common, q, BURIED, st.count(q))
                add(common, p, BURIED, -st.count(p))
                if raw[q][STACKS] == 1:
                    add(common, q, NO_STACKS, 1.0)
                if raw[p][STACKS] == 0:
                    add(common, p, NO_STACKS, -1.0)
        own = [cf[p * NRAW:(p + 1) * NRAW] for cf in coef]
        targets = self._target_rays(c, p)
        attackers = self._attacker_rays(c, p)
        out = {}
        for k in counts:
            if st is None:
                h2 = k2 = k
            else:
                h2, k2 = len(st) + 1, (caps[c] + 1 if st[-1] == p else 1)
            mob = sum(1 for r in runs if r >= h2)
            acc = [
                common[seat] + (r[RINGS] - r[HAND]) * k + r[STACKS] + r[CAP] * k2
                + r[HEIGHT] * h2 + r[CENTRE] * cent + r[MOBILITY] * mob
                for seat, r in enumerate(own)
            ]
            for t, tcap, dist in targets:
                if tcap <= k2 and dist >= h2 and not threat[p].get(t):
                    add(acc, p, THREATS, 1.0)
                    if not attacked.get(t):
                        add(acc, stacks[t][-1], VULNERABLE, 1.0)
            by = {y for acap, y in attackers if acap >= k2}
            if by:
                add(acc, p, VULNERABLE, 1.0)
                for y in by:
                    add(acc, y, THREATS, 1.0)
            out[k] = acc
        return out


def score_moves(
    s: GameState,
    moves: list[Move],
    weights: list[float],
    *,
    refine: int = 0,
    children: dict[int, GameState] | None = None,
    delta: bool = True,
) -> tuple[np.ndarray, list[int]]:
    """Per-seat evaluation of the position after each move: array (len(moves), num_players).

    Returns the scores and the indices scored exactly (all non-placement moves, plus the
    `refine` best placements for the player to move). Placement scores are deltas from the
    current position (see the module docstring). When `children` is given, the child states
    built for the exact scores are put there by move index, for a search to reuse.
    `delta=False` scores every move exactly, one state copy per move (the baseline).
    """
    n = s.num_players
    out = np.zeros((len(moves), n))
    exact: list[int] = []
    place = [i for i, m in enumerate(moves) if delta and m.type == "place_ring"]
    if place:
        prep = _Placements(s, weights)
        index = s.geo.index
        by_cell: dict[int, list[int]] = {}
        for i in place:
            by_cell.setdefault(index[moves[i].to], []).append(i)
        p = s.current_player
        for c, idx in by_cell.items():
            sc = prep.scores(c, p, [moves[i].count for i in idx])
            for i in idx:
                out[i] = sc[moves[i].count]
    todo = [i for i, m in enumerate(moves) if not (delta and m.type == "place_ring")]
    if place and refine > 0:
        me = s.current_player - 1
        todo += sorted(place, key=lambda i: -out[i, me])[:refine]
    for i in todo:
        child = child_state(s, moves[i])
        out[i] = evaluate_state(child, weights)
        if children is not None:
            children[i] = child
    return out, todo
