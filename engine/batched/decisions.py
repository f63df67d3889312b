"""Territory decisions and forced elimination on tensors (R140-R145, R100).

Mirrors the reference handlers `_choose_region`, `_eliminate` (territory context),
`_after_region`, `_end_territory` and `_forced`: collapsing a chosen region with its
border markers and eliminating every ring inside, the self-elimination owed after it,
the whole-cap elimination of a forced elimination, and the transitions that follow
(another region, forced elimination, or the end of the turn). Transitions that depend
on the board after the move recompute the ray scan, regions and seat facts for just
the games concerned (`bs.subset`).
"""
from __future__ import annotations

import torch

from engine.batched.scan import scan, stack_tops, tops_at
from engine.batched.state import FORCED_ELIMINATION, PENDING, TERRITORY_PROCESSING, BatchState
from engine.batched.territory import processable_exists
from engine.batched.victory import end_turn, seat_facts

PENDING_TERRITORY = PENDING.index("territory")
PENDING_RECOVERY = PENDING.index("recovery")


def border_markers(bs: BatchState, g: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """[M, N]: markers collapsed with the regions `member` [M, N] (reference `border_markers`)."""
    tb = bs.tables
    n = tb.n
    has_m = bs.markers[g, :n] != 0
    pad = torch.zeros(member.shape[0], 1, dtype=torch.bool, device=member.device)
    near = torch.cat([member, pad], 1)[:, tb.terr_adj[:n]].any(-1)
    border = has_m & ~member & near
    if tb.geo.board_type == "hexagonal":
        return border
    while True:
        grown = torch.cat([border, pad], 1)[:, tb.moore[:n]].any(-1)
        new = border | (grown & has_m & ~member)
        if torch.equal(new, border):
            return border
        border = new


def apply_region(bs: BatchState, g: torch.Tensor, member: torch.Tensor, p: torch.Tensor) -> None:
    """Eliminate every ring inside, collapse the region and its border to p (games g)."""
    n = bs.tables.n
    border = border_markers(bs, g, member)
    st = bs.stacks[g, :n]  # [M, N, H]
    h = bs.height[g, :n].long()
    pos = torch.arange(st.shape[2], device=g.device)
    inside = (pos < h.unsqueeze(2)) & member.unsqueeze(2)
    for q in range(1, bs.num_players + 1):
        bs.lost[g, q] += ((st.long() == q) & inside).flatten(1).sum(1)
    rings = (h * member).sum(1)
    bs.elim[g, p] += rings
    bs.board_elim[g, p] += rings
    bs.total_elim[g] += rings
    bs.stacks[g, :n] = torch.where(member.unsqueeze(2), torch.zeros_like(st), st)
    bs.height[g, :n] = torch.where(member, torch.zeros_like(h), h).to(torch.int32)
    cells = member | border
    bs.markers[g, :n] = torch.where(cells, torch.zeros_like(bs.markers[g, :n]), bs.markers[g, :n])
    bs.collapsed[g, :n] = torch.where(cells, p[:, None].to(torch.int8), bs.collapsed[g, :n])
    bs.territory[g, p] += cells.sum(1)


def eliminate_cap(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, p: torch.Tensor) -> None:
    """The whole cap of the stack on `cell` eliminated, credited to p."""
    top, cap = tops_at(bs, g, cell)
    h = bs.height[g, cell].long()
    pos = torch.arange(bs.stacks.shape[2], device=g.device)
    row = bs.stacks[g, cell]
    bs.stacks[g, cell] = torch.where(pos >= (h - cap).unsqueeze(1), torch.zeros_like(row), row)
    bs.height[g, cell] = (h - cap).to(torch.int32)
    bs.lost[g, top] += cap
    bs.elim[g, p] += cap
    bs.board_elim[g, p] += cap
    bs.total_elim[g] += cap


def after_choose_region(bs: BatchState, g: torch.Tensor, p: torch.Tensor) -> None:
    """Pending self-elimination after a region, or the after-region transition."""
    n = bs.tables.n
    top, _ = tops_at(bs, g, torch.arange(n, device=g.device).expand(g.numel(), n))
    st = bs.stacks[g, :n].long()
    pos = torch.arange(st.shape[2], device=g.device)
    below = pos < (bs.height[g, :n].long() - 1).unsqueeze(2)
    buried = ((st == p[:, None, None]) & below).flatten(1).any(1)
    controls = (top == p[:, None]).any(1)
    rec = bs.recovery_turn[g]
    owes = torch.where(rec, buried, controls)
    bs.pending[g] = torch.where(owes, torch.where(rec, PENDING_RECOVERY, PENDING_TERRITORY), 0)
    after_region(bs, g[~owes])


def after_region(bs: BatchState, g: torch.Tensor) -> None:
    """Another processable region keeps the phase; else the end of territory processing."""
    if g.numel() == 0:
        return
    sub = bs.subset(g)
    top, cap = stack_tops(sub)
    p = bs.current_player[g]
    more = processable_exists(sub, top, p)
    bs.phase[g[more]] = TERRITORY_PROCESSING
    keep = ~more
    if keep.any():
        sc = scan(sub, cap)
        seats = seat_facts(sub, top, cap, sc).take(keep)
        end_territory(bs, g[keep], seats)


def end_territory(bs: BatchState, g: torch.Tensor, seats) -> None:
    """Forced elimination when the player has not acted and controls a stack, else end turn."""
    p = bs.current_player[g]
    controls = seats.controls.gather(1, p[:, None]).squeeze(1)
    fe = ~bs.acted[g] & controls
    bs.phase[g[fe]] = FORCED_ELIMINATION
    end_turn(bs, g[~fe], seats.take(~fe))


def forced_elimination(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, p: torch.Tensor) -> None:
    """forced_elimination: the cap goes, then the forced end of turn on the new board."""
    eliminate_cap(bs, g, cell, p)
    sub = bs.subset(g)
    top, cap = stack_tops(sub)
    end_turn(bs, g, seat_facts(sub, top, cap, scan(sub, cap)), forced=True)
