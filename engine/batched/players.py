"""Players over the legal mask: uniform random, and a vectorized linear heuristic.

Random: every legal index gets an independent uniform score and the argmax is
played, which is a uniform draw from the legal set (no Python loop over games).

Heuristic: a first cut of `engine.players.heuristic`. The reference player scores
every legal move by its profile-weighted evaluation (20 features, regions, threats,
mobility) of the position after the move and its forced follow-ups. Here the
evaluation is linear in five per-player counts,

    V(p) = sum_k w_k * (x_k[p] - mean_{q != p} x_k[q]),
    x = (eliminated rings, territory, markers, rings in controlled stacks, rings in hand),

and each move is scored by its change of V, computed for all legal indices at once
from the ray scan (markers flipped and collapsed on the path, landing-on-marker
costs, rings gained by placement or capture). Decisions made on the fallback path
score each reference legal move by the exact change of the same V (`linear_value`).
Ties are broken by a small uniform noise.
"""
from __future__ import annotations

import torch

from engine.batched.legal import Legal
from engine.batched.moves import SPECIALS, layout
from engine.batched.scan import Scan
from engine.batched.state import BatchState
from engine.state import GameState

# weights of (eliminated, territory, markers, controlled rings, hand)
WEIGHTS = (3.0, 2.0, 0.5, 1.0, 0.5)
NOISE = 1e-3
SCORE_BUDGET = 4e8  # elements of one heuristic scoring chunk ([chunk, A] float tensors)


def linear_value(s: GameState, p: int) -> float:
    """V(p) of a reference state (the fallback's heuristic)."""
    n = s.num_players
    x = [[0.0] * (n + 1) for _ in range(5)]
    for q in range(1, n + 1):
        x[0][q], x[1][q], x[4][q] = s.elim[q], s.territory[q], s.hand[q]
    for m in s.markers:
        if m:
            x[2][m] += 1
    for st in s.stacks:
        if st is not None:
            x[3][st[-1]] += len(st)
    return sum(
        w * (x[k][p] - sum(x[k][q] for q in range(1, n + 1) if q != p) / (n - 1))
        for k, w in enumerate(WEIGHTS)
    )


def random_choice(mask: torch.Tensor, gen: torch.Generator, block: int = 256) -> torch.Tensor:
    """A uniform legal index per row: draw r uniform in [0, count) and find the r-th legal
    index, first among blocks of `block` indices (by per-block counts), then inside the
    block. One random number per game, and no [B, A]-sized integer temporaries, which on
    the large boards (A > 100k) would not fit at GPU batch sizes."""
    B, A = mask.shape
    nb = -(-A // block)
    padded = torch.nn.functional.pad(mask, (0, nb * block - A)).view(B, nb, block)
    per_block = padded.sum(2, dtype=torch.int32)  # [B, nb]
    count = per_block.sum(1)
    u = torch.rand(B, generator=gen, device=mask.device)
    r = (u * count).long().clamp(max=(count - 1).clamp(min=0)).to(torch.int32)
    csum = torch.cumsum(per_block, 1, dtype=torch.int32)
    bi = (csum > r.unsqueeze(1)).to(torch.uint8).argmax(1)
    before = torch.where(bi > 0, csum.gather(1, (bi - 1).clamp(min=0).unsqueeze(1)).squeeze(1),
                         torch.zeros_like(r))
    inner = padded[torch.arange(B, device=mask.device), bi]  # [B, block]
    icsum = torch.cumsum(inner, 1, dtype=torch.int32)
    ii = (icsum > (r - before).unsqueeze(1)).to(torch.uint8).argmax(1)
    return bi * block + ii


def tie_noise(shape: tuple[int, int], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Small per-game shuffled noise for tie-breaks: frac(index * golden ratio + u_game)."""
    u = torch.rand(shape[0], 1, generator=gen, device=device)
    idx = torch.arange(shape[1], device=device, dtype=torch.float32)
    return torch.frac(idx * 0.6180339887 + u) * NOISE


def heuristic_choice(bs: BatchState, legal: Legal, sc: Scan, top: torch.Tensor,
                     cap: torch.Tensor, gen: torch.Generator, budget: float = SCORE_BUDGET) -> torch.Tensor:
    """Best-scoring legal index per game. Scored in chunks of games so that the float
    score tensors ([chunk, A], A > 100k on the large boards) stay within `budget`
    elements: a loop over a few chunks, not over games."""
    B, A = legal.mask.shape
    chunk = max(1, int(budget // A))
    if B <= chunk:
        return _heuristic(bs, legal, sc, top, cap, gen)
    out = []
    for i in range(0, B, chunk):
        sl = slice(i, i + chunk)
        out.append(_heuristic(bs.slice(sl), legal.slice(sl), sc.slice(sl), top[sl], cap[sl], gen))
    return torch.cat(out)


def _heuristic(bs: BatchState, legal: Legal, sc: Scan, top: torch.Tensor,
               cap: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    w_el, w_te, w_mk, w_ct, w_hd = WEIGHTS
    opp = 1.0 / (bs.num_players - 1)
    tb = bs.tables
    n = tb.n
    B = bs.batch
    p = bs.current_player
    pc = p[:, None]
    h = bs.height[:, :n].float()
    tp = top[:, :n]
    # placements: hand -k; controlled rings +k (new stack), +1 (own), +h+1 / others -h (foreign)
    k = torch.arange(1, 4, device=p.device, dtype=torch.float32)
    own = (tp == pc).float()
    foreign = ((tp != pc) & (tp > 0)).float()
    gain_new = k.view(1, 1, 3).expand(B, n, 3).clone()
    on_stack = (h > 0).unsqueeze(2)
    gain_stack = (own * 1.0 + foreign * (h + 1)).unsqueeze(2).expand(B, n, 3)
    loss_other = (foreign * h).unsqueeze(2).expand(B, n, 3)
    ctrl = torch.where(on_stack, gain_stack, gain_new)
    place = w_ct * (ctrl + opp * torch.where(on_stack, loss_other, torch.zeros_like(loss_other)))
    place = place - w_hd * k.view(1, 1, 3)
    # moves and captures: path markers before landing i, landing marker at i
    mk = bs.markers[:, sc.cells[0].reshape(-1)].view(B, *sc.cells.shape[1:])
    mine = (mk == pc[:, :, None, None]).float()
    theirs = ((mk != 0) & (mk != pc[:, :, None, None])).float()
    mine_before = torch.cumsum(mine, -1) - mine
    theirs_before = torch.cumsum(theirs, -1) - theirs
    path = (w_te - w_mk) * mine_before + w_mk * (1 + opp) * theirs_before + w_mk
    land = (w_el - w_ct) * (mine + theirs) - w_mk * mine + w_mk * opp * theirs
    move = path + land
    tgt_owner = top.gather(1, sc.tgt.reshape(B, -1)).view(sc.tgt.shape)
    cap_gain = w_ct * ((tgt_owner != pc[:, :, None]).float() * (1 + opp))
    capt = move + cap_gain.unsqueeze(-1)
    # regions: cells collapsed and rings eliminated (border markers not counted);
    # self-eliminations: the cap's rings credited, lost from control
    W = legal.labels.shape[1]
    lab = torch.cat([legal.labels, torch.full_like(legal.labels[:, :, :1], n)], 2)
    size = torch.zeros(B, W, n + 1, device=p.device)
    size.scatter_add_(2, lab, torch.ones(B, W, n + 1, device=p.device))
    rings = torch.zeros(B, W, n + 1, device=p.device)
    rings.scatter_add_(2, lab, torch.cat([h, torch.zeros(B, 1, device=p.device)], 1)
                       .unsqueeze(1).expand(B, W, n + 1).contiguous())
    region = w_te * size[:, :, :n] + w_el * rings[:, :, :n]
    own_cap = (w_el - w_ct) * cap[:, :n].float()
    # lines: markers turned into territory (the whole line, or L2 of them)
    L2 = tb.geo.spec.collapse_length(bs.num_players)
    ll = legal.line_len.float()
    lo = layout(tb, bs.num_players)
    opt = torch.full((B, n, lo.a, lo.o), float(L2), device=p.device)
    opt[..., 0] = ll
    opt[..., 1] = ll
    line = (w_te - w_mk) * opt
    top_ring = torch.full((B, n), w_el - w_ct, device=p.device)
    # recovery: a line slide collapses markers into territory, a strike eliminates a ring
    rec = torch.zeros(B, n, tb.d, lo.k, device=p.device)
    sld = legal.slides
    if sld is not None:
        from engine.batched.recovery import LINE, STRIKE

        L = tb.geo.spec.line_length(bs.num_players)
        rec[..., 0] = torch.where(sld.mode == LINE, (w_te - w_mk) * sld.length.float(),
                                  torch.where(sld.mode == STRIKE, w_el, 0.0))
        rec[..., 1:] = (w_te - w_mk) * L
    buried = torch.full((B, n), 0.0, device=p.device)
    specials = torch.zeros(B, len(SPECIALS), device=p.device)
    score = torch.cat([place.flatten(1), move.flatten(1), capt.flatten(1), region.flatten(1),
                       own_cap, own_cap, line.flatten(1), top_ring, rec.flatten(1), buried,
                       specials], 1)
    score = score + tie_noise(score.shape, gen, score.device)
    return torch.where(legal.mask, score, torch.full_like(score, -1e9)).argmax(1)
