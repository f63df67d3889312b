"""Legal-move masks of every vectorized phase, one flat mask [B, A] per step.

The masks reproduce `engine.rules.turn.legal_moves` move for move (the differential
tests replay every game through it): placement, movement, captures and chains, line
decisions and rewards, region decisions and self-eliminations, forced elimination,
and the no-action / skip moves. A position needing a rule not vectorized here (a
recovery-eligible player in movement, a recovery-context elimination, a possible
pie-rule swap, a chain without its position) is flagged for the per-game fallback.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from engine.batched.lines import line_options
from engine.batched.moves import layout, line_windows
from engine.batched.recovery import Slides, buried_of, slides
from engine.batched.scan import Scan
from engine.batched.state import (
    CAPTURE, CHAIN_CAPTURE, FORCED_ELIMINATION, LINE_PROCESSING, MOVEMENT, PENDING,
    RING_PLACEMENT, TERRITORY_PROCESSING, BatchState,
)
from engine.batched.territory import distinct, region_table


@dataclass
class Legal:
    """The legal mask [B, A] of games choosing through it (`vec`), and the fallback games."""

    mask: torch.Tensor
    vec: torch.Tensor
    fallback: torch.Tensor
    place: torch.Tensor  # [B, N, 3] (for the players' scoring)
    move: torch.Tensor  # [B, N, D, R]
    capt: torch.Tensor  # [B, N, D, R]
    regions: torch.Tensor  # [B] processable regions exist (valid where a line/territory no-op is)
    controls: torch.Tensor  # [B] the player to move controls a stack
    labels: torch.Tensor  # [B, W, N] region fills (valid for games choosing a region)
    line_len: torch.Tensor  # [B, N, A] run lengths of the mover's markers
    recovering: torch.Tensor  # [B] games choosing a recovery slide
    slides: Slides | None  # their options (None when no game recovers)

    def slice(self, sl: slice) -> "Legal":
        parts = {f.name: getattr(self, f.name) for f in fields(self)}
        sld = parts.pop("slides")
        out = Legal(**{k: v[sl] for k, v in parts.items()}, slides=None)
        if sld is not None:
            out.slides = Slides(*(getattr(sld, f.name)[sl] for f in fields(sld)))
        return out


def player_col(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """x[b, p[b]] for a [B, P+1] tensor."""
    return x.gather(1, p.unsqueeze(1)).squeeze(1)


def recovery_eligible(bs: BatchState, top: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """R110: controls no stack, owns a marker, has a buried ring ([B] bool)."""
    n = bs.tables.n
    pc = p[:, None]
    controls = (top[:, :n] == pc).any(1)
    has_marker = (bs.markers[:, :n] == pc).any(1)
    pos = torch.arange(bs.stacks.shape[2], device=p.device)
    below_top = pos < (bs.height[:, :n].long() - 1).unsqueeze(2)
    buried = ((bs.stacks[:, :n].long() == pc[:, :, None]) & below_top).flatten(1).any(1)
    return ~controls & has_marker & buried


def _one_hot(cell: torch.Tensor, n: int) -> torch.Tensor:
    """[B, N] bool with cell[b] set (nothing where cell < 0)."""
    ar = torch.arange(n, device=cell.device)
    return ar.unsqueeze(0) == cell.unsqueeze(1)


def legal_mask(bs: BatchState, top: torch.Tensor, cap: torch.Tensor, sc: Scan) -> Legal:
    tb = bs.tables
    n = tb.n
    B = bs.batch
    p = bs.current_player
    ph = bs.phase
    active = bs.status == 0
    h = bs.height[:, :n].long()
    tp, cp = top[:, :n], cap[:, :n]
    own = tp == p.unsqueeze(1)
    hand = player_col(bs.hand, p)
    eligible = recovery_eligible(bs, top, p)

    # ring_placement (R080-R082)
    in_place = active & (ph == RING_PLACEMENT)
    swap = (bs.swap_enabled & ~bs.swap_used & (p == 2) & (bs.num_players == 2)
            & bs.seat_moved[:, 1] & ~bs.seat_moved[:, 2])
    empty = (bs.collapsed[:, :n] == 0) & (bs.markers[:, :n] == 0) & (h == 0)
    reach = sc.reach(h, cp)
    place = torch.stack([empty & reach[f"new{k}"] & (hand >= k).unsqueeze(1) for k in (1, 2, 3)], 2)
    on_stack = torch.where(own, reach["own_plus"], reach["foreign_plus"]) & (hand >= 1).unsqueeze(1)
    place[:, :, 0] |= on_stack
    place &= in_place[:, None, None]
    stack_action = (own & reach["now"]).any(1)
    skip_place = in_place & (hand > 0) & (stack_action | eligible)
    no_place = in_place & ~place.flatten(1).any(1) & ~skip_place

    # movement, capture, chain_capture (R090-R103)
    mm, chain = bs.must_move, bs.chain_pos
    in_move = active & (ph == MOVEMENT)
    mm_cell = _one_hot(mm, n) & (h > 0)
    src_move = torch.where((mm >= 0).unsqueeze(1), mm_cell, own) & in_move.unsqueeze(1)
    need_recovery = in_move & ~src_move.any(1) & eligible
    src_move &= ~need_recovery.unsqueeze(1)
    K = layout(tb, bs.num_players).k
    if need_recovery.any():
        sld = slides(bs, p, need_recovery)
        rec = sld.slots
    else:
        sld = None
        rec = torch.zeros(B, n, tb.d, K, dtype=torch.bool, device=p.device)
    relim = buried_of(bs, p) & (active & (ph == TERRITORY_PROCESSING)
                                & (bs.pending == PENDING.index("recovery")))[:, None]
    in_capt = active & (ph == CAPTURE)
    in_chain = active & (ph == CHAIN_CAPTURE) & (chain >= 0)
    src_capt = (src_move | (_one_hot(mm, n) & in_capt.unsqueeze(1))
                | (_one_hot(chain, n) & in_chain.unsqueeze(1)))
    move = sc.move_mask(h) & src_move[:, :, None, None]
    capt = sc.capture_mask(h, cp) & src_capt[:, :, None, None]
    no_move = in_move & ~need_recovery & ~move.flatten(1).any(1) & ~capt.flatten(1).any(1)

    # line and territory processing when nothing is there to decide (R120, R140)
    settled = active & (bs.pending == 0)
    line_cand = settled & (ph == LINE_PROCESSING)
    lines, line_len = line_options(bs, p, line_windows(tb, bs.num_players))
    line_dec = line_cand & lines.flatten(1).any(1)
    no_line = line_cand & ~line_dec
    lines &= line_dec[:, None, None, None]
    lelim = own & (active & (ph == LINE_PROCESSING) & (bs.pending == PENDING.index("line")))[:, None]
    terr_cand = settled & (ph == TERRITORY_PROCESSING)
    regions = torch.zeros_like(active)
    W = bs.num_players + 1
    labels = torch.full((B, W, n), n, dtype=torch.long, device=p.device)
    choose = torch.zeros(B, W, n, dtype=torch.bool, device=p.device)
    need = torch.nonzero(no_line | terr_cand).squeeze(1)
    if need.numel():
        lab, ok = region_table(bs.subset(need), top[need], p[need])
        regions[need] = ok.flatten(1).any(1)
        labels[need] = lab
        choose[need] = distinct(lab, ok)
    no_terr = terr_cand & ~regions
    region_dec = terr_cand & regions
    choose &= region_dec[:, None, None]
    # owed self-elimination after a region, and forced elimination: one move per own stack
    elim = own & (active & (ph == TERRITORY_PROCESSING) & (bs.pending == PENDING.index("territory")))[:, None]
    in_fe = active & (ph == FORCED_ELIMINATION)
    forced = own & in_fe[:, None]

    specials = torch.stack([skip_place, no_place, in_capt, no_move, no_line, no_terr, region_dec,
                            need_recovery], 1)
    mask = torch.cat([place.flatten(1), move.flatten(1), capt.flatten(1), choose.flatten(1),
                      elim, forced, lines.flatten(1), lelim, rec.flatten(1), relim, specials], 1)
    vec = ((in_place & ~swap) | in_move | in_capt | in_chain | no_line | no_terr
           | region_dec | elim.any(1) | in_fe | line_dec | lelim.any(1) | relim.any(1))
    mask &= vec.unsqueeze(1)
    assert mask.shape[1] == layout(tb, bs.num_players).size
    return Legal(mask, vec, active & ~vec, place, move, capt, regions, own.any(1), labels,
                 line_len, need_recovery, sld)
