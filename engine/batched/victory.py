"""End of a turn on tensors: victory check, seat rotation, last-player-standing rounds.

Mirrors the non-forced `_end_turn` of `engine.rules.turn` with `check_victory` and
`update_lps` of `engine.rules.victory`: ring elimination, bare-board stalemate with
its tiebreak, territory, the immediate last-player-standing form, rotation to the next
seat holding rings, the turn resets, then the LPS round bookkeeping and its ending.

Everything a player could do is read from the full-board ray scan of the step (the
board does not change on the no-action moves that end a turn): per seat, whether a
stack can act, whether a placement is legal, recovery eligibility, rings anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.batched.scan import Scan
from engine.batched.state import GAME_OVER, REASONS, RING_PLACEMENT, BatchState

RING_ELIM = REASONS.index("ring_elimination")
TERRITORY = REASONS.index("territory_control")
LPS = REASONS.index("last_player_standing")
STALEMATE = REASONS.index("stalemate")


@dataclass
class Seats:
    """Per-seat facts [B, P+1] (column 0 unused)."""

    stack_action: torch.Tensor
    placement: torch.Tensor
    eligible: torch.Tensor
    controls: torch.Tensor
    any_ring: torch.Tensor

    def take(self, rows: torch.Tensor) -> "Seats":
        """The facts of some rows (an index or a bool mask). A mask becomes indices once: each
        mask index waits for the device (its result's size), once per field otherwise."""
        if rows.dtype == torch.bool:
            rows = torch.nonzero(rows).squeeze(1)
        return Seats(*(getattr(self, f)[rows] for f in
                       ("stack_action", "placement", "eligible", "controls", "any_ring")))

    @property
    def real_action(self) -> torch.Tensor:
        return self.stack_action | self.placement

    @property
    def any_action(self) -> torch.Tensor:
        return self.controls | self.placement | self.eligible


def seat_facts(bs: BatchState, top: torch.Tensor, cap: torch.Tensor, sc: Scan) -> Seats:
    n = bs.tables.n
    P = bs.num_players
    B = bs.batch
    dev = top.device
    h = bs.height[:, :n].long()
    tp, cp = top[:, :n], cap[:, :n]
    empty = (bs.collapsed[:, :n] == 0) & (bs.markers[:, :n] == 0) & (h == 0)
    reach = sc.reach(h, cp)
    new_ok = [(empty & reach[f"new{k}"]).any(1) for k in (1, 2, 3)]
    act_own, act_foreign, can_now = reach["own_plus"], reach["foreign_plus"], reach["now"]
    stacks = bs.stacks[:, :n].long()
    pos = torch.arange(stacks.shape[2], device=dev)
    in_stack = pos < h.unsqueeze(2)
    below_top = pos < (h - 1).unsqueeze(2)
    z = torch.zeros(B, dtype=torch.bool, device=dev)
    cols: dict[str, list[torch.Tensor]] = {k: [z] for k in
                                           ("stack_action", "placement", "eligible", "controls", "any_ring")}
    for q in range(1, P + 1):
        mine = tp == q
        hand = bs.hand[:, q]
        new = torch.zeros(B, dtype=torch.bool, device=dev)
        for k in (1, 2, 3):
            new |= new_ok[k - 1] & (hand >= k)
        on = (mine & act_own).any(1) | (~mine & act_foreign).any(1)
        controls = mine.any(1)
        on_board = ((stacks == q) & in_stack).flatten(1).any(1)
        buried = ((stacks == q) & below_top).flatten(1).any(1)
        cols["stack_action"].append((mine & can_now).any(1))
        cols["placement"].append((hand > 0) & (new | on))
        cols["eligible"].append(~controls & (bs.markers[:, :n] == q).any(1) & buried)
        cols["controls"].append(controls)
        cols["any_ring"].append((hand > 0) | on_board)
    return Seats(**{k: torch.stack(v, 1) for k, v in cols.items()})


def _finish(bs: BatchState, g: torch.Tensor, winner: torch.Tensor, reason: torch.Tensor,
            bare: torch.Tensor, game_over: bool) -> None:
    bs.status[g] = 1
    bs.winner[g] = winner
    bs.victory_reason[g] = reason
    bs.outcome[g] = torch.where(bare & (reason != RING_ELIM), STALEMATE, reason)
    if game_over:
        bs.phase[g] = GAME_OVER


def _first_col(x: torch.Tensor) -> torch.Tensor:
    """Index (1-based seat) of the first True in x [M, P], 0 when none."""
    any_ = x.any(1)
    return torch.where(any_, x.long().argmax(1) + 1, torch.zeros_like(any_, dtype=torch.long))


def end_turn(bs: BatchState, g: torch.Tensor, seats: Seats, forced: bool = False) -> None:
    """The end of turn for games g (`seats`: their facts, one row per game of g).

    Not forced: victory check (game over), else rotation and LPS rounds. Forced (after a
    forced elimination): rotation first, then the victory check (the phase stays
    ring_placement, as in the reference), else LPS rounds.
    """
    if g.numel() == 0:
        return
    prev = bs.current_player[g].clone()
    if forced:
        _rotate(bs, g, seats)
    done = _check(bs, g, seats, game_over=not forced)
    keep = torch.nonzero(~done).squeeze(1)  # one wait for the device, not three mask indexings
    g, seats, prev = g[keep], seats.take(keep), prev[keep]
    if g.numel() == 0:
        return
    if not forced:
        _rotate(bs, g, seats)
    on = bs.lps_required[g] > 0
    on = torch.nonzero(on).squeeze(1)
    _update_lps(bs, g[on], prev[on], seats.take(on))


def _check(bs: BatchState, g: torch.Tensor, seats: Seats, game_over: bool) -> torch.Tensor:
    """check_victory for games g; returns which ended."""
    P = bs.num_players
    n = bs.tables.n
    sf = lambda x: x[:, 1:]  # noqa: E731
    elim = bs.elim[g][:, 1:]
    col = bs.collapsed[g][:, :n].long()
    terr = torch.stack([(col == q).sum(1) for q in range(1, P + 1)], 1)
    mk = bs.markers[g][:, :n].long()
    marks = torch.stack([(mk == q).sum(1) for q in range(1, P + 1)], 1)
    controls = sf(seats.controls)
    bare = ~controls.any(1)
    done = torch.zeros(g.numel(), dtype=torch.bool, device=g.device)
    winner = torch.zeros_like(g)
    reason = torch.zeros_like(g)

    def decide(cond: torch.Tensor, who: torch.Tensor, why: torch.Tensor | int) -> None:
        nonlocal winner, reason
        new = cond & ~done
        winner = torch.where(new, who, winner)
        reason = torch.where(new, torch.as_tensor(why, device=g.device), reason)
        done.logical_or_(new)

    # 1. ring elimination
    hit = elim >= bs.victory_threshold[g][:, None]
    decide(hit.any(1), _first_col(hit), RING_ELIM)
    # 2. bare board and nobody can place: global stalemate with its tiebreak
    stale = bare & ~sf(seats.placement).any(1)
    sw = torch.zeros_like(g)
    sr = torch.full_like(g, STALEMATE)
    settled = torch.zeros_like(stale)
    for values, why in ((terr, TERRITORY), (elim, RING_ELIM), (marks, STALEMATE)):
        best = values.max(1).values
        leaders = values == best[:, None]
        unique = (best > 0) & (leaders.sum(1) == 1) & ~settled
        sw = torch.where(unique, _first_col(leaders), sw)
        sr = torch.where(unique, torch.full_like(sr, why), sr)
        settled |= unique
    last = bs.last_actor[g]
    sw = torch.where(settled, sw, torch.where(last > 0, last, torch.ones_like(last)))
    new = stale & ~done
    decide(stale, sw, sr)
    bare_stale = new
    # 3. territory
    total = terr.sum(1, keepdim=True)
    tw = (terr >= bs.territory_minimum[g][:, None]) & (terr > total - terr)
    decide(tw.any(1), _first_col(tw), TERRITORY)
    # 4. immediate last player standing
    one = controls.sum(1) == 1
    q = _first_col(controls)
    others_none = (~sf(seats.any_ring) | controls).all(1)
    decide(one & others_none, q, LPS)
    ix = torch.nonzero(done).squeeze(1)
    fin = g[ix]
    if fin.numel():
        # a stalemate's outcome is 'stalemate' whatever step decided its winner
        _finish(bs, fin, winner[ix], reason[ix], bare[ix], game_over)
        bs.outcome[fin[bare_stale[ix]]] = STALEMATE
    return done


def _rotate(bs: BatchState, g: torch.Tensor, seats: Seats) -> None:
    P = bs.num_players
    prev = bs.current_player[g]
    ring = seats.any_ring  # [M, P+1]
    nxt = prev.clone()
    found = torch.zeros_like(prev, dtype=torch.bool)
    for i in range(1, P + 1):
        cand = (prev - 1 + i) % P + 1
        ok = ring.gather(1, cand[:, None]).squeeze(1) & ~found
        nxt = torch.where(ok, cand, nxt)
        found |= ok
    bs.current_player[g] = nxt
    bs.phase[g] = RING_PLACEMENT
    bs.must_move[g] = -1
    bs.chain_pos[g] = -1
    bs.pending[g] = 0
    bs.recovery_turn[g] = False
    bs.acted[g] = False


def _update_lps(bs: BatchState, g: torch.Tensor, prev: torch.Tensor, seats: Seats) -> None:
    """update_lps at the start of the new player's turn (games g, previous seats prev)."""
    if g.numel() == 0:
        return
    P = bs.num_players
    player = bs.current_player[g]
    first = bs.lps_first[g]
    cand, cnt = bs.lps_candidate[g], bs.lps_count[g]
    n_act, actors = bs.lps_n[g], bs.lps_actors[g].clone()
    close = (player <= prev) | (first == 0)
    closing = close & (first != 0)
    a0 = actors[:, 0]
    excl = closing & (n_act == 1) & (a0 > 0)
    same = excl & (a0 == cand)
    cnt = torch.where(same, cnt + 1, torch.where(excl, torch.ones_like(cnt),
                                                 torch.where(closing, torch.zeros_like(cnt), cnt)))
    cand = torch.where(excl & ~same, a0, torch.where(closing & ~excl, torch.zeros_like(cand), cand))
    first = torch.where(close, player, first)
    n_act = torch.where(close, torch.zeros_like(n_act), n_act)
    actors = torch.where(close[:, None], torch.zeros_like(actors), actors)
    pick = lambda x: x.gather(1, player[:, None]).squeeze(1)  # noqa: E731
    ring, real, anyact = pick(seats.any_ring), pick(seats.real_action), pick(seats.any_action)
    app = ring & (real | anyact)
    val = torch.where(real, player, -player)
    slot = n_act.clamp(max=P - 1)
    rows = torch.arange(g.numel(), device=g.device)
    actors[rows, slot] = torch.where(app, val, actors[rows, slot])
    n_act = n_act + app.long()
    bs.lps_first[g], bs.lps_candidate[g], bs.lps_count[g] = first, cand, cnt
    bs.lps_n[g], bs.lps_actors[g] = n_act, actors
    win = (cand == player) & (cnt >= bs.lps_required[g]) & real
    seat = torch.arange(P + 1, device=g.device)
    rival = seats.any_ring & seats.any_action & (seat[None, :] != player[:, None])
    win &= ~rival[:, 1:].any(1)
    if win.any():
        gw = g[win]
        bare = ~seats.controls[win][:, 1:].any(1)
        _finish(bs, gw, player[win], torch.full_like(gw, LPS), bare, False)
