"""Applying the chosen vectorized moves to every game at once (one masked op per rule).

Mirrors `engine.rules.turn.apply_in_place` and the handlers it calls for placement,
move_stack, captures and the skip / no-action moves of those phases: per-move
bookkeeping (move and turn counters, seat_moved, acted / last_actor), departure
markers, path markers (flip / collapse, R092), landing-on-marker eliminations, stack
arrival order, the phase transition that follows, and the move-cap ending.
"""
from __future__ import annotations

import torch

from engine.batched.legal import Legal
from engine.batched.lines import apply_line_choice
from engine.batched.recovery import apply_slide, extract_buried
from engine.batched.decisions import (
    after_choose_region, after_region, apply_region, eliminate_cap, end_territory,
    forced_elimination,
)
from engine.batched.moves import (
    NO_LINE, NO_MOVEMENT, NO_PLACEMENT, NO_TERRITORY, SKIP_CAPTURE, SKIP_PLACEMENT,
    SKIP_RECOVERY, SKIP_TERRITORY, layout,
)
from engine.batched.scan import Scan, capture_exists, tops_at
from engine.batched.state import (
    CAPTURE, CHAIN_CAPTURE, FORCED_ELIMINATION, GAME_OVER, LINE_PROCESSING, MOVEMENT, REASONS,
    TERRITORY_PROCESSING, BatchState,
)
from engine.batched.victory import seat_facts

MOVE_CAP = REASONS.index("move_cap")


def _arrive(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, where: torch.Tensor | None = None) -> None:
    """stack_arrived(cell) for games g (only where `where`, when given)."""
    if where is not None:
        g, cell = g[where], cell[where]
    bs.born_seq[g] += 1
    bs.stack_born[g, cell] = bs.born_seq[g].to(torch.int32)


def _eliminate_top(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, p: torch.Tensor) -> None:
    """Top ring of the stack on `cell` eliminated, credited to p (games g)."""
    h = bs.height[g, cell].long()
    owner = bs.stacks[g, cell, h - 1].long()
    bs.stacks[g, cell, h - 1] = 0
    bs.height[g, cell] = (h - 1).to(torch.int32)
    bs.lost[g, owner] += 1
    bs.elim[g, p] += 1
    bs.board_elim[g, p] += 1
    bs.total_elim[g] += 1


def _path_markers(bs: BatchState, g: torch.Tensor, path: torch.Tensor, on: torch.Tensor,
                  p: torch.Tensor) -> None:
    """Markers on path[on] ([M, R]): opponents' flip to p, p's own collapse to p's territory."""
    m = bs.markers[g.unsqueeze(1), path].long()
    pc = p.unsqueeze(1)
    mine = on & (m == pc)
    flip = on & (m != 0) & ~mine
    new_m = torch.where(mine, torch.zeros_like(m), torch.where(flip, pc, m))
    bs.markers[g.unsqueeze(1), path] = new_m.to(torch.int8)
    col = bs.collapsed[g.unsqueeze(1), path].long()
    bs.collapsed[g.unsqueeze(1), path] = torch.where(mine, pc, col).to(torch.int8)
    bs.territory[g, p] += mine.sum(1)


def _land(bs: BatchState, g: torch.Tensor, to: torch.Tensor, p: torch.Tensor) -> None:
    """Landing on a marker: remove it and eliminate the top ring of the arriving stack."""
    lm = bs.markers[g, to] != 0
    if lm.any():
        g2, to2 = g[lm], to[lm]
        bs.markers[g2, to2] = 0
        _eliminate_top(bs, g2, to2, p[lm])


def _capture_from(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """[M] bool: the stack on `cell` is p's and has an overtaking capture (has_capture_from)."""
    top, _ = tops_at(bs, g, cell)
    return capture_exists(bs, g, cell) & (top == p)


def apply_actions(bs: BatchState, a: torch.Tensor, legal: Legal, sc: Scan, top: torch.Tensor,
                  cap: torch.Tensor, extraction: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Apply action a[b] to every game with legal.vec[b] (`extraction`: the stack each
    recovery slide pays from).

    Returns each capture's target or line's length (-1 else) and what the move log needs
    beside the index: {'regions': (games, cell sets), 'recovery': (games, mode, stack, cells)}.

    `sc`, `top` and `cap` describe the board the legal mask was built from (the scan's
    targets name the captured stacks; the seat facts at a turn's end come from it).
    """
    vec = legal.vec
    tb = bs.tables
    lo = layout(tb, bs.num_players)
    target = torch.full_like(a, -1)
    extras: dict = {}
    g_all = torch.nonzero(vec).squeeze(1)
    if g_all.numel() == 0:
        return target, extras
    p_all = bs.current_player[g_all]
    a_all = a[g_all]
    # apply_in_place bookkeeping
    bs.move_count[g_all] += 1
    bs.turn_number[g_all] += 1
    bs.seat_moved[g_all, p_all] = True
    passive = a_all >= lo.special0
    act_g = g_all[~passive]
    bs.acted[act_g] = True
    bs.last_actor[act_g] = p_all[~passive]

    # no_line_action / no_territory_action (first, while the scan still describes every board)
    sp = a_all - lo.special0
    sel = sp == NO_LINE
    if sel.any():
        g = g_all[sel]
        fe = ~legal.regions[g] & ~bs.acted[g] & legal.controls[g]
        bs.phase[g] = torch.where(fe, FORCED_ELIMINATION, TERRITORY_PROCESSING)
    sel = (sp == NO_TERRITORY) | (sp == SKIP_TERRITORY)
    if sel.any():
        g = g_all[sel]
        end_territory(bs, g, seat_facts(bs, top, cap, sc).take(g))

    # territory decisions and forced elimination (their boards change; transitions rescan)
    sel = (a_all >= lo.region0) & (a_all < lo.elim0)
    if sel.any():
        g, p, x = g_all[sel], p_all[sel], a_all[sel] - lo.region0
        w, root = x // lo.n, x % lo.n
        member = legal.labels[g, w] == root[:, None]
        extras["regions"] = (g, member)
        apply_region(bs, g, member, p)
        after_choose_region(bs, g, p)
    sel = (a_all >= lo.elim0) & (a_all < lo.forced0)
    if sel.any():
        g, p = g_all[sel], p_all[sel]
        bs.pending[g] = 0
        eliminate_cap(bs, g, a_all[sel] - lo.elim0, p)
        after_region(bs, g)
    sel = (a_all >= lo.forced0) & (a_all < lo.line0)
    if sel.any():
        forced_elimination(bs, g_all[sel], a_all[sel] - lo.forced0, p_all[sel])

    # line decisions and the line reward
    sel = (a_all >= lo.line0) & (a_all < lo.lelim0)
    if sel.any():
        g, p, x = g_all[sel], p_all[sel], a_all[sel] - lo.line0
        c, rest = x // (lo.a * lo.o), x % (lo.a * lo.o)
        ax, o = rest // lo.o, rest % lo.o
        length = legal.line_len[g, c, ax]
        target[g] = length
        apply_line_choice(bs, g, c, ax, o, length, p, legal.controls[g])
    sel = (a_all >= lo.lelim0) & (a_all < lo.rec0)
    if sel.any():
        g, p = g_all[sel], p_all[sel]
        bs.pending[g] = 0
        _eliminate_top(bs, g, a_all[sel] - lo.lelim0, p)

    # recovery slides and the recovery-context elimination
    sel = (a_all >= lo.rec0) & (a_all < lo.relim0)
    if sel.any():
        g, p, x = g_all[sel], p_all[sel], a_all[sel] - lo.rec0
        cd, slot = x // lo.k, x % lo.k
        frm, d = cd // lo.d, cd % lo.d
        e = extraction[g]
        mode = legal.slides.mode[g, frm, d]
        cells = apply_slide(bs, g, frm, d, slot, e, legal.slides, p, _eliminate_top)
        extras["recovery"] = (g, mode, e, cells)
    sel = (a_all >= lo.relim0) & (a_all < lo.special0)
    if sel.any():
        g, p = g_all[sel], p_all[sel]
        has = extract_buried(bs, g, a_all[sel] - lo.relim0, p).long()
        bs.board_elim[g, p] += has
        bs.total_elim[g] += has
        bs.pending[g] = 0
        after_region(bs, g)

    # place_ring
    sel = a_all < lo.move0
    if sel.any():
        g, p, x = g_all[sel], p_all[sel], a_all[sel]
        c, k = x // 3, x % 3 + 1
        h = bs.height[g, c].long()
        bs.ensure_capacity(int((h + k).max()))
        pos = torch.arange(bs.stacks.shape[2], device=a.device)
        put = (pos >= h[:, None]) & (pos < (h + k)[:, None])
        row = bs.stacks[g, c]
        bs.stacks[g, c] = torch.where(put, p[:, None].to(torch.int8), row)
        _arrive(bs, g, c, h == 0)
        bs.height[g, c] = (h + k).to(torch.int32)
        bs.hand[g, p] -= k
        bs.phase[g] = MOVEMENT
        bs.must_move[g] = c

    # move_stack and captures
    for capture in (False, True):
        base = lo.capt0 if capture else lo.move0
        sel = (a_all >= base) & (a_all < base + lo.n * lo.d * lo.r)
        if not sel.any():
            continue
        g, p, x = g_all[sel], p_all[sel], a_all[sel] - base
        cd, i = x // lo.r, x % lo.r
        c, d = cd // lo.d, cd % lo.d
        path = tb.rays[c, d]  # [M, R]
        to = path.gather(1, i[:, None]).squeeze(1)
        ar = torch.arange(lo.r, device=a.device)
        row = bs.stacks[g, c].clone()
        h = bs.height[g, c].clone()
        bs.stacks[g, c] = 0
        bs.height[g, c] = 0
        bs.markers[g, c] = p.to(torch.int8)
        on = ar[None, :] < i[:, None]
        if capture:
            f = sc.f[g, c, d]
            tgt = sc.tgt[g, c, d]
            target[g] = tgt
            on &= ar[None, :] != f[:, None]
        _path_markers(bs, g, path, on, p)
        if capture:
            th = bs.height[g, tgt].long()
            ttop = bs.stacks[g, tgt, th - 1]
            bs.stacks[g, tgt, th - 1] = 0
            bs.height[g, tgt] = (th - 1).to(torch.int32)
            bs.ensure_capacity(int(h.max()) + 1)
            full = torch.zeros(g.numel(), bs.stacks.shape[2], dtype=torch.int8, device=a.device)
            full[:, : row.shape[1]] = row
            row = torch.cat([ttop[:, None], full[:, :-1]], 1)
            h = h + 1
        bs.stacks[g, to] = row if row.shape[1] == bs.stacks.shape[2] else _fit(row, bs)
        bs.height[g, to] = h
        _arrive(bs, g, to)
        if capture:  # the surviving target re-enters after the landing stack (movement.apply_capture)
            _arrive(bs, g, tgt, th > 1)
        _land(bs, g, to, p)
        more = _capture_from(bs, g, to, p)
        if capture:
            bs.phase[g] = torch.where(more, CHAIN_CAPTURE, LINE_PROCESSING)
            bs.chain_pos[g] = torch.where(more, to, -1)
            bs.must_move[g] = torch.where(more, to, bs.must_move[g])
        else:
            alive = bs.height[g, to] > 0
            bs.phase[g] = torch.where(more, CAPTURE, LINE_PROCESSING)
            bs.must_move[g] = torch.where(more | alive, to, -1)

    # skip / no-action moves
    bs.phase[g_all[(sp == SKIP_PLACEMENT) | (sp == NO_PLACEMENT)]] = MOVEMENT
    bs.phase[g_all[(sp == SKIP_CAPTURE) | (sp == NO_MOVEMENT)]] = LINE_PROCESSING

    bs.phase[g_all[sp == SKIP_RECOVERY]] = LINE_PROCESSING

    check_move_cap(bs, g_all)
    return target, extras


def _fit(row: torch.Tensor, bs: BatchState) -> torch.Tensor:
    out = torch.zeros(row.shape[0], bs.stacks.shape[2], dtype=row.dtype, device=row.device)
    out[:, : row.shape[1]] = row
    return out


def check_move_cap(bs: BatchState, g: torch.Tensor) -> None:
    """The move cap ends a still-active game with no winner (apply_in_place's last step)."""
    hit = (bs.status[g] == 0) & (bs.move_cap[g] > 0) & (bs.move_count[g] >= bs.move_cap[g])
    gh = g[hit]
    bs.status[gh] = 1
    bs.winner[gh] = 0
    bs.victory_reason[gh] = MOVE_CAP
    bs.outcome[gh] = MOVE_CAP
    bs.phase[gh] = GAME_OVER
