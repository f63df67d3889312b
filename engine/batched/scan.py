"""Ray scans: what every movement, capture and placement rule asks about a ray.

For a source cell and a direction the reference engine walks the ray until the
first blocker (collapsed cell or stack). Every legality question reduces to four
numbers per (cell, direction), computed here for all of them at once:

  f     index of the first blocker on the ray (R when none): plain moves may land
        on ray positions 0..f-1;
  tgt   the blocking cell (sentinel when the blocker is a collapsed cell or the edge);
  tcap  cap height of the stack on `tgt` (0 when it is not a stack);
  j     index of the next blocker after f: capture landings are positions f+1..j-1.

A stack of height h and cap c can act (R091, R101) iff on some direction
f >= h (a plain move at distance >= h) or tgt holds a stack with tcap <= c and a
landing exists: j >= f + 2 and j >= h.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.batched.state import BatchState


def stack_tops(bs: BatchState) -> tuple[torch.Tensor, torch.Tensor]:
    """(top owner, cap height) per cell, [B, N+1] int64 each; 0 where there is no stack."""
    st = bs.stacks.long()
    h = bs.height.long()
    pos = torch.arange(st.shape[2], device=st.device)
    top = st.gather(2, (h - 1).clamp(min=0).unsqueeze(2)).squeeze(2) * (h > 0)
    # Positions above the stack count as "same as top", so a run from the top of the
    # ring axis downwards stops at the first ring of another colour.
    same = (st == top.unsqueeze(2)) | (pos >= h.unsqueeze(2))
    run = torch.flip(torch.cumprod(torch.flip(same.to(torch.int32), [2]), 2), [2])
    cap = (run.bool() & (pos < h.unsqueeze(2))).sum(2) * (h > 0)
    return top, cap


def tops_at(bs: BatchState, g: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(top owner, cap) of the stacks on cells [M, ...] of games g [M] (0 where none)."""
    shape = cells.shape
    gg = g.view(-1, *([1] * (len(shape) - 1))).expand(shape)
    st = bs.stacks[gg, cells].long()  # [..., H]
    h = bs.height[gg, cells].long()
    pos = torch.arange(st.shape[-1], device=st.device)
    top = st.gather(-1, (h - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1) * (h > 0)
    same = (st == top.unsqueeze(-1)) | (pos >= h.unsqueeze(-1))
    run = torch.flip(torch.cumprod(torch.flip(same.to(torch.int32), [-1]), -1), [-1])
    cap = (run.bool() & (pos < h.unsqueeze(-1))).sum(-1) * (h > 0)
    return top, cap


def capture_exists(bs: BatchState, g: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """[M] bool: the stack on cell[m] of game g[m] has an overtaking capture (has_capture_from)."""
    tb = bs.tables
    rc = tb.rays[cell]  # [M, D, R]
    gg = g[:, None, None]
    bl = (bs.collapsed[gg, rc] != 0) | (bs.height[gg, rc] > 0) | (rc == tb.n)
    f = _first_true(bl)
    i = torch.arange(bl.shape[-1], device=bl.device)
    j = _first_true(bl & (i > f.unsqueeze(-1)))
    tgt = tb.rays_ext[cell[:, None], torch.arange(tb.d, device=bl.device), f]  # [M, D]
    _, tcap = tops_at(bs, g, tgt)
    top, cap = tops_at(bs, g, cell)
    h = bs.height[g, cell].long()
    tstack = bs.height[g[:, None], tgt] > 0
    ok = tstack & (tcap <= cap[:, None]) & (j >= f + 2) & (j >= h[:, None])
    return ok.any(1) & (h > 0)


def blocked_cells(bs: BatchState) -> torch.Tensor:
    """[B, N+1] bool: collapsed or holding a stack; the sentinel column is always blocked."""
    b = (bs.collapsed != 0) | (bs.height > 0)
    b[:, -1] = True
    return b


@dataclass
class Scan:
    """Ray facts for a set of source cells: shapes [B, C, D] (cells [B, C, D, R])."""

    cells: torch.Tensor  # ray cells [B, C, D, R] (or [C, D, R] broadcast for the full board)
    f: torch.Tensor
    j: torch.Tensor
    tgt: torch.Tensor
    tcap: torch.Tensor
    tstack: torch.Tensor
    _reach: dict = field(default_factory=dict)

    def reach(self, h: torch.Tensor, cap: torch.Tensor) -> dict[str, torch.Tensor]:
        """The can_act answers placement, rotation and LPS keep asking, computed once per
        scan ([B, N] each; h, cap: the board's heights and caps, [B, N]):
        new1..new3: a new k-ring stack here could act; now: the stack here can act;
        own_plus / foreign_plus: after one more ring of its controller / of someone else."""
        if not self._reach:
            r = self._reach
            for k in (1, 2, 3):
                kk = torch.full_like(h, k)
                r[f"new{k}"] = self.can_act(kk, kk)
            r["now"] = self.can_act(h, cap) & (h > 0)
            r["own_plus"] = self.can_act(h + 1, cap + 1) & (h > 0)
            r["foreign_plus"] = self.can_act(h + 1, torch.ones_like(cap)) & (h > 0)
        return self._reach

    def slice(self, sl: slice) -> "Scan":
        return Scan(self.cells[sl], self.f[sl], self.j[sl], self.tgt[sl], self.tcap[sl], self.tstack[sl])

    def can_act(self, h: torch.Tensor, cap: torch.Tensor) -> torch.Tensor:
        """[B, C] bool: a stack of height h, cap `cap` ([B, C]) at each source can act."""
        h = h.unsqueeze(-1)
        cap = cap.unsqueeze(-1)
        move = self.f >= h
        capt = self.tstack & (self.tcap <= cap) & (self.j >= self.f + 2) & (self.j >= h)
        return (move | capt).any(-1)

    def move_mask(self, h: torch.Tensor) -> torch.Tensor:
        """[B, C, D, R]: landing i is a legal plain move for a stack of height h ([B, C])."""
        i = torch.arange(self.cells.shape[-1], device=self.f.device)
        return (i < self.f.unsqueeze(-1)) & (i + 1 >= h[..., None, None])

    def capture_mask(self, h: torch.Tensor, cap: torch.Tensor) -> torch.Tensor:
        """[B, C, D, R]: landing i is a legal capture landing for height h, cap `cap`."""
        i = torch.arange(self.cells.shape[-1], device=self.f.device)
        ok = self.tstack & (self.tcap <= cap.unsqueeze(-1))
        f = self.f.unsqueeze(-1)
        return ok.unsqueeze(-1) & (i > f) & (i < self.j.unsqueeze(-1)) & (i + 1 >= h[..., None, None])


def _first_true(x: torch.Tensor) -> torch.Tensor:
    """Index of the first True along the last axis, or its length when none."""
    pad = torch.ones(*x.shape[:-1], 1, dtype=torch.uint8, device=x.device)
    return torch.argmax(torch.cat([x.to(torch.uint8), pad], -1), -1)


def scan(bs: BatchState, cap: torch.Tensor, cells: torch.Tensor | None = None) -> Scan:
    """Scan the rays of every cell (cells=None) or of one cell per game (cells [B] long)."""
    tb = bs.tables
    blocked = blocked_cells(bs)
    B = bs.batch
    if cells is None:
        rc = tb.rays[: tb.n]  # [N, D, R], shared by every game
        bl = blocked[:, rc.reshape(-1)].view(B, *rc.shape)
    else:
        rc = tb.rays[cells].unsqueeze(1)  # [B, 1, D, R]
        bl = blocked.gather(1, rc.reshape(B, -1)).view(rc.shape)
    f = _first_true(bl)
    i = torch.arange(bl.shape[-1], device=bl.device)
    j = _first_true(bl & (i > f.unsqueeze(-1)))
    rcb = rc.expand(B, *rc.shape[-3:]) if cells is None else rc
    # The blocker cell: index the shared table (rays plus a sentinel column) by
    # broadcasting, rather than materialising a [B, N, D, R] copy of the rays.
    src = torch.arange(tb.n, device=bl.device)[:, None] if cells is None else cells[:, None, None]
    dirs = torch.arange(tb.d, device=bl.device)
    tgt = tb.rays_ext[src, dirs, f]
    flat = tgt.reshape(B, -1)
    tstack = (bs.height.gather(1, flat) > 0).view(tgt.shape)
    tcap = cap.gather(1, flat).view(tgt.shape)
    return Scan(rcb, f, j, tgt, tcap, tstack)
