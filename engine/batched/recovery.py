"""Recovery (R110-R115) on tensors: slide options, their application, the extraction cost.

A slide moves one of p's markers from `frm` one step along direction d to `to`. The
line it would complete through `to` is read from per-direction run counts of p's
markers (the side pointing back at `frm` counts zero: that marker has left), the
longest axis winning with ties to the first axis, as the reference `max` does.
Per slide the options are grouped into slots:

  slot 0        the option that costs an extraction: Option 1 of a line slide, a
                fallback slide, or a stack-strike; it stands for |E| reference moves,
                one per extraction stack E (stacks holding a buried ring of p), so the
                random player weights it by |E| and then draws the stack uniformly;
  slot 1 + i    Option 2 of an overlength line slide: the L markers starting i cells
                into the line (must contain `to`), no extraction.

Line slides exclude the others when any exists (R112). `skip_recovery` is a special.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.batched.scan import _first_true
from engine.batched.state import LINE_PROCESSING, BatchState

LINE, FALLBACK, STRIKE = 0, 1, 2


def slots_per_slide(bs: BatchState) -> int:
    L = bs.tables.geo.spec.line_length(bs.num_players)
    return 1 + max(1, bs.tables.r + 2 - L)


@dataclass
class Slides:
    """Recovery facts of every slide (frm, d): shapes [B, N, D] unless said."""

    slots: torch.Tensor  # [B, N, D, K] legal slots
    mode: torch.Tensor  # LINE / FALLBACK / STRIKE
    axis: torch.Tensor  # the line's axis (index into tables.axes)
    back: torch.Tensor  # markers of the line behind `to` along the axis
    length: torch.Tensor
    extract: torch.Tensor  # [B, N] extraction stacks


def buried_of(bs: BatchState, p: torch.Tensor) -> torch.Tensor:
    """[B, N]: stacks holding a ring of p below the top."""
    n = bs.tables.n
    st = bs.stacks[:, :n].long()
    pos = torch.arange(st.shape[2], device=p.device)
    below = pos < (bs.height[:, :n].long() - 1).unsqueeze(2)
    return ((st == p[:, None, None]) & below).any(2)


def slides(bs: BatchState, p: torch.Tensor, eligible: torch.Tensor) -> Slides:
    """Legal recovery slots for the games where `eligible` ([B] bool)."""
    tb = bs.tables
    n, D = tb.n, tb.d
    B = bs.batch
    L = tb.geo.spec.line_length(bs.num_players)
    mine = bs.markers.long() == p[:, None]
    mine[:, -1] = False
    run = _first_true(~mine[:, tb.rays[:n].reshape(-1)].view(B, n, D, -1))  # [B, N, D]
    run = torch.cat([run, torch.zeros(B, 1, D, dtype=run.dtype, device=p.device)], 1)
    to = tb.rays[:n, :, 0]  # [N, D] (sentinel off the board)
    free = (bs.collapsed == 0) & (bs.markers == 0)
    free[:, -1] = False
    ok = mine[:, :n, None] & free[:, to] & eligible[:, None, None]
    strike = ok & (bs.height[:, to] > 0)
    empty = ok & ~strike
    opp = torch.tensor(tb.opposite, device=p.device)
    runs_at_to = run[:, to]  # [B, N, D(slide), D(all)]
    dirs = torch.arange(D, device=p.device)
    back_dir = opp[dirs]  # direction from `to` back to frm, per slide direction
    lens, backs = [], []
    for ad in tb.axes:
        od = tb.opposite[ad]
        fwd = torch.where((back_dir == ad)[None, None, :], 0, runs_at_to[..., ad])
        bk = torch.where((back_dir == od)[None, None, :], 0, runs_at_to[..., od])
        lens.append(1 + fwd + bk)
        backs.append(bk)
    lens_t, backs_t = torch.stack(lens, -1), torch.stack(backs, -1)
    axis = lens_t.argmax(-1)
    length = lens_t.gather(-1, axis.unsqueeze(-1)).squeeze(-1)
    back = backs_t.gather(-1, axis.unsqueeze(-1)).squeeze(-1)
    line = empty & (length >= L)
    any_line = line.flatten(1).any(1)[:, None, None]
    slot0 = line | (~any_line & (empty | strike))
    K = slots_per_slide(bs)
    i = torch.arange(K - 1, device=p.device)
    lo = (back - L + 1).clamp(min=0).unsqueeze(-1)
    hi = torch.minimum(back, length - L).unsqueeze(-1)
    windows = (line & (length > L)).unsqueeze(-1) & (i >= lo) & (i <= hi)
    mode = torch.where(strike, STRIKE, torch.where(line, LINE, FALLBACK))
    return Slides(torch.cat([slot0.unsqueeze(-1), windows], -1), mode, axis, back, length,
                  buried_of(bs, p) & eligible[:, None])


def line_through(bs: BatchState, to: torch.Tensor, axis: torch.Tensor, back: torch.Tensor,
                 width: int) -> torch.Tensor:
    """[M, width]: the line's cells in order (farthest back first), sentinel-padded."""
    tb = bs.tables
    ad = torch.tensor(tb.axes, device=to.device)[axis]
    od = torch.tensor(tb.opposite, device=to.device)[ad]
    k = torch.arange(width, device=to.device)
    off = k[None, :] - back[:, None]
    bwd = tb.rays[to[:, None], od[:, None], (-off - 1).clamp(min=0, max=tb.r - 1)]
    fwd = tb.rays[to[:, None], ad[:, None], (off - 1).clamp(min=0, max=tb.r - 1)]
    return torch.where(off < 0, bwd, torch.where(off == 0, to[:, None], fwd))


def extract_buried(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Remove p's bottom-most ring from each stack (credited to p's own counter only, as the
    reference `extract_buried_ring`); returns which stacks held one."""
    row = bs.stacks[g, cell].long()
    h = bs.height[g, cell].long()
    pos = torch.arange(row.shape[1], device=g.device)
    hit = (row == p[:, None]) & (pos < h[:, None])
    has = hit.any(1)
    idx = hit.to(torch.uint8).argmax(1)
    shifted = torch.cat([row[:, 1:], torch.zeros_like(row[:, :1])], 1)
    new = torch.where(pos >= idx[:, None], shifted, row)
    new = torch.where(has[:, None], new, row)
    bs.stacks[g, cell] = new.to(torch.int8)
    bs.height[g, cell] = (h - has.long()).to(torch.int32)
    bs.lost[g, p] += has.long()
    bs.elim[g, p] += has.long()
    return has


def apply_slide(bs: BatchState, g: torch.Tensor, frm: torch.Tensor, d: torch.Tensor,
                slot: torch.Tensor, e: torch.Tensor, sl: Slides, p: torch.Tensor,
                eliminate_top) -> torch.Tensor:
    """Apply the chosen slides; returns the collapsed cells [M, width] (sentinel-padded)."""
    tb = bs.tables
    L = tb.geo.spec.line_length(bs.num_players)
    to = tb.rays[frm, d, 0]
    mode = sl.mode[g, frm, d]
    bs.markers[g, frm] = 0
    st = mode == STRIKE
    if st.any():
        eliminate_top(bs, g[st], to[st], p[st])
    ns = ~st
    bs.markers[g[ns], to[ns]] = p[ns].to(torch.int8)
    width = tb.r * 2 + 1
    cells = line_through(bs, to, sl.axis[g, frm, d], sl.back[g, frm, d], width)
    k = torch.arange(width, device=g.device)
    length = sl.length[g, frm, d]
    start = (slot - 1).clamp(min=0)
    hi = torch.where(slot > 0, start + L, length)
    on = (mode == LINE)[:, None] & (k >= start[:, None]) & (k < hi[:, None])
    gg = g[:, None].expand_as(cells)
    bs.markers[gg[on], cells[on]] = 0
    bs.collapsed[gg[on], cells[on]] = p[:, None].expand_as(cells)[on].to(torch.int8)
    bs.territory[g, p] += on.sum(1)
    pay = slot == 0
    if pay.any():
        extract_buried(bs, g[pay], e[pay], p[pay])
    bs.recovery_turn[g] = True
    bs.phase[g] = LINE_PROCESSING
    return torch.where(on, cells, torch.full_like(cells, tb.n))


def choose_extraction(extract: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """[B]: a uniformly drawn extraction stack per game (any cell where none)."""
    from engine.batched.players import random_choice

    return random_choice(extract, gen)


def weighted_slot(slots: torch.Tensor, weight0: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flat slot index per game, slot 0 entries weighted by weight0 [B] (the extraction
    count), others by 1, plus one last index for skip_recovery (weight 1)."""
    B = slots.shape[0]
    w = slots.long()
    w[..., 0] *= weight0[:, None, None]
    flat = torch.cat([w.flatten(1), torch.ones(B, 1, dtype=torch.long, device=slots.device)], 1)
    total = flat.sum(1)
    u = torch.rand(B, generator=gen, device=slots.device)
    r = (u * total).long().clamp(max=total - 1)
    csum = torch.cumsum(flat, 1)
    return (csum > r[:, None]).to(torch.uint8).argmax(1)
