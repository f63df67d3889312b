"""Lines (R120-R122): detection, the line decisions and their rewards, on tensors.

For every cell and line axis the player's markers along the ray are gathered and the
run starting at the cell is measured with one first-False search. A line is a run
that starts at a cell (the cell behind it holds no marker of p) and is at least L
long (`line_length`). Its options, as the reference lists them: `process_line` when
it is exactly L2 long (`collapse_length`), Option 1 (collapse it all), and for an
overlength line every window of L2 consecutive markers (Option 2). Collapsing a
whole line owes one ring (a stack of p's top ring, chosen next) when p has a stack.
"""
from __future__ import annotations

import torch

from engine.batched.scan import _first_true
from engine.batched.state import LINE_PROCESSING, PENDING, TERRITORY_PROCESSING, BatchState

PENDING_LINE = PENDING.index("line")


def line_runs(bs: BatchState, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(starts [B, N, A], length [B, N, A]): runs of p's markers starting at each cell."""
    tb = bs.tables
    n = tb.n
    mine = bs.markers.long() == p[:, None]  # [B, N+1]
    mine[:, -1] = False
    axes = list(tb.axes)
    rays = tb.rays[:n][:, axes]  # [N, A, R]
    B = bs.batch
    along = mine[:, rays.reshape(-1)].view(B, *rays.shape)
    length = (_first_true(~along) + 1) * mine[:, :n, None]
    back = tb.rays[:n][:, [tb.opposite[a] for a in axes], 0]  # [N, A]
    starts = mine[:, :n, None] & ~mine[:, back.reshape(-1)].view(B, n, len(axes))
    return starts, length


def has_line(bs: BatchState, p: torch.Tensor) -> torch.Tensor:
    """[B] bool: player p[b] has an eligible line in game b."""
    starts, length = line_runs(bs, p)
    L = bs.tables.geo.spec.line_length(bs.num_players)
    return (starts & (length >= L)).flatten(1).any(1)


def line_options(bs: BatchState, p: torch.Tensor, windows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(options [B, N, A, 2 + windows], length [B, N, A]); option 0 process_line, 1 the
    whole line, 2 + i the window starting i cells into the line."""
    spec = bs.tables.geo.spec
    L, L2 = spec.line_length(bs.num_players), spec.collapse_length(bs.num_players)
    starts, length = line_runs(bs, p)
    ok = starts & (length >= L)
    i = torch.arange(windows, device=p.device)
    win = (ok & (length > L2)).unsqueeze(-1) & (i <= (length - L2).unsqueeze(-1))
    opts = torch.cat([(ok & (length == L2)).unsqueeze(-1), ok.unsqueeze(-1), win], -1)
    return opts, length


def line_cells(bs: BatchState, cell: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """[M, R+1]: the cell followed by its ray along line axis `axis` (an index into axes)."""
    tb = bs.tables
    ax = torch.tensor(tb.axes, device=cell.device)[axis]
    return torch.cat([cell[:, None], tb.rays[cell, ax]], 1)


def apply_line_choice(bs: BatchState, g: torch.Tensor, cell: torch.Tensor, axis: torch.Tensor,
                      option: torch.Tensor, length: torch.Tensor, p: torch.Tensor,
                      controls: torch.Tensor) -> None:
    """Collapse the chosen markers; owe a ring, look for more lines, or leave the phase."""
    L2 = bs.tables.geo.spec.collapse_length(bs.num_players)
    cells = line_cells(bs, cell, axis)  # [M, R+1]
    k = torch.arange(cells.shape[1], device=g.device)
    start = (option - 2).clamp(min=0)
    window = option >= 2
    hi = torch.where(window, start + L2, length)
    on = (k >= start[:, None]) & (k < hi[:, None])
    gg = g[:, None].expand_as(cells)
    gs, cs = gg[on], cells[on]
    bs.markers[gs, cs] = 0
    bs.collapsed[gs, cs] = p[:, None].expand_as(cells)[on].to(torch.int8)
    bs.territory[g, p] += on.sum(1)
    owes = ~window & controls
    bs.pending[g[owes]] = PENDING_LINE
    rest = ~owes
    if rest.any():
        gr = g[rest]
        more = has_line(bs.subset(gr), p[rest])
        bs.phase[gr] = torch.where(more, LINE_PROCESSING, TERRITORY_PROCESSING)
