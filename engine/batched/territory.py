"""Territory: do processable disconnected regions exist for the player to move? (R140-R143)

Candidate regions are the connected components (territory adjacency) of the
non-collapsed cells with one marker colour as walls, for each colour that has
markers, plus one fill with no marker walls (the reference `find_regions`). Here all
P + 1 fills of all games run at once as label propagation over the neighbour table:
every open cell starts with its own index as label, takes the minimum label of its
neighbours, and pointer jumping (label of the label) shortens chains, until nothing
changes. A component is identified by its root (the cell whose label is itself);
per-colour stack control inside each component comes from one scatter per colour.

A region qualifies when the colours controlling stacks inside are a strict subset of
the colours with rings on the board (and, for the fill without marker walls, exactly
one colour is inside); it is processable by p when p controls a stack outside it
(in a recovery turn: has a buried ring in a stack outside it).
"""
from __future__ import annotations

from functools import lru_cache

import torch

from engine.batched.state import BatchState


def components(bs: BatchState, open_: torch.Tensor) -> torch.Tensor:
    """Labels [B, W, N+1] of the components of `open_` [B, W, N] (closed cells: N)."""
    tb = bs.tables
    n = tb.n
    B, W = open_.shape[:2]
    big = torch.tensor(n, dtype=torch.int32, device=open_.device)
    cell = torch.arange(n, dtype=torch.int32, device=open_.device).expand(B, W, n)
    lab = torch.where(open_, cell, big)
    adj = tb.terr_adj[:n]  # [N, K]
    pad = big.expand(B, W, 1)
    while True:
        ext = torch.cat([lab, pad], 2)  # the sentinel neighbour is never smaller
        new = lab
        for k in range(adj.shape[1]):
            new = torch.minimum(new, ext[:, :, adj[:, k]])
        new = torch.where(open_, new, big)
        new = new.gather(2, new.clamp(max=n - 1).long())  # pointer jumping
        new = torch.where(open_, new, big)
        if torch.equal(new, lab):
            return torch.cat([lab, pad], 2).long()
        lab = new


def processable_exists(bs: BatchState, top: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """[B] bool: the reference `processable_regions(s, p)` is non-empty."""
    _, ok = region_table(bs, top, p)
    return ok.flatten(1).any(1)


def region_table(bs: BatchState, top: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels [B, W, N], ok [B, W, N]): ok marks the root of each processable component
    of each fill (the same region may appear in several fills; see `distinct`)."""
    tb = bs.tables
    n = tb.n
    P = bs.num_players
    B = bs.batch
    dev = p.device
    h = bs.height[:, :n]
    tp = top[:, :n]
    stacks = bs.stacks[:, :n].long()
    pos = torch.arange(stacks.shape[2], device=dev)
    in_stack = pos < h.long().unsqueeze(2)
    colours = torch.arange(1, P + 1, device=dev)
    # active colours: any ring on the board; bit q-1 per colour
    ring_of = torch.stack([((stacks == q) & in_stack).flatten(1).any(1) for q in range(1, P + 1)], 1)
    active = (ring_of.long() << (colours - 1)).sum(1)  # [B]
    mk = bs.markers[:, :n].long()
    has_mk = torch.stack([(mk == q).any(1) for q in range(1, P + 1)], 1)  # [B, P]
    open_cells = bs.collapsed[:, :n] == 0
    walls = torch.stack([torch.zeros_like(open_cells)] + [mk == q for q in range(1, P + 1)], 1)
    open_ = open_cells.unsqueeze(1) & ~walls  # [B, W=P+1, N]
    lab = components(bs, open_)[:, :, :n]
    W = P + 1
    inside = torch.zeros(B, W, n + 1, dtype=torch.long, device=dev)
    for q in range(1, P + 1):
        ctrl = (tp == q).long().unsqueeze(1).expand(B, W, n)
        part = torch.zeros(B, W, n + 1, dtype=torch.long, device=dev)
        part.scatter_reduce_(2, lab, ctrl, reduce="amax")
        inside |= part << (q - 1)
    inside = inside[:, :, :n]
    # p's usable stacks (controlled, or holding a buried ring of p in a recovery turn)
    pc = p[:, None]
    buried = ((stacks == pc[:, :, None]) & (pos < (h.long() - 1).unsqueeze(2))).any(2)
    usable = torch.where(bs.recovery_turn[:, None], buried, tp == pc)  # [B, N]
    total = usable.sum(1)  # [B]
    cnt = torch.zeros(B, W, n + 1, dtype=torch.long, device=dev)
    cnt.scatter_add_(2, lab, usable.long().unsqueeze(1).expand(B, W, n))
    outside = total[:, None, None] - cnt[:, :, :n]
    root = (lab == torch.arange(n, device=dev)) & open_
    act = active[:, None, None]
    strict = ((inside & ~act) == 0) & (inside != act)
    single = (inside > 0) & ((inside & (inside - 1)) == 0)
    wall_ok = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=dev), has_mk], 1)
    is_colour = torch.arange(W, device=dev) > 0
    kind_ok = is_colour[None, :, None] | single
    ok = root & strict & kind_ok & (outside > 0) & wall_ok[:, :, None] & (act > 0)
    return lab, ok


@lru_cache(maxsize=None)
def _cell_weights(n: int, device: torch.device) -> torch.Tensor:
    """Fixed random 62-bit weights of the cells for `distinct`'s region hashes: drawn on the CPU
    (the same numbers whatever the device) once, then kept on `device`, instead of a draw and a
    host-to-device copy on every call."""
    gen = torch.Generator(device="cpu").manual_seed(12345)
    return torch.randint(1, 2**62, (n,), generator=gen, device="cpu").to(device)


def distinct(lab: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """`ok` with duplicate regions (the same cell set found by several fills) dropped.

    Each candidate's cell set is hashed (sum of fixed random 62-bit cell weights) and,
    per game, only the first of equal hashes is kept: the reference de-duplicates by
    cell set the same way, and which fill names the region does not change the move.
    """
    B, W, n = ok.shape
    idx = torch.nonzero(ok)
    if idx.shape[0] == 0:
        return ok
    b, w, root = idx.unbind(1)
    member = lab[b, w] == root[:, None]  # [K, N]
    h = (member.long() * _cell_weights(n, ok.device)).sum(1)
    o1 = torch.sort(h, stable=True).indices
    o2 = o1[torch.sort(b[o1], stable=True).indices]
    bs_, hs = b[o2], h[o2]
    dup = torch.zeros_like(bs_, dtype=torch.bool)
    dup[1:] = (bs_[1:] == bs_[:-1]) & (hs[1:] == hs[:-1])
    out = ok.clone()
    k = o2[dup]
    out[b[k], w[k], root[k]] = False
    return out
