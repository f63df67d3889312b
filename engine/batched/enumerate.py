"""Every legal move of every game, decoded from the batched masks (tests and debugging).

Not on the hot path: it loops over games and legal indices in Python. Its use is to
compare the whole legal set of the batched engine with `engine.rules.legal_moves`
on arbitrary positions, which checks the masks themselves rather than only the moves
a player happened to pick.
"""
from __future__ import annotations

import torch

from engine.batched.legal import legal_mask
from engine.batched.moves import decode, layout
from engine.batched.recovery import line_through
from engine.batched.scan import scan, stack_tops
from engine.batched.state import BatchState
from engine.moves import Move
from engine.state import GameState


def legal_move_lists(bs: BatchState) -> list[list[Move] | None]:
    """Per game: its legal moves, or None when the game goes to the fallback this step."""
    tb = bs.tables
    n = tb.n
    top, cap = stack_tops(bs)
    sc = scan(bs, cap)
    legal = legal_mask(bs, top, cap, sc)
    lo = layout(tb, bs.num_players)
    L = tb.geo.spec.line_length(bs.num_players)
    out: list[list[Move] | None] = []
    for i in range(bs.batch):
        if bool(legal.fallback[i]):
            out.append(None)
            continue
        p = int(bs.current_player[i])
        ph = int(bs.phase[i])
        moves = []
        for a in torch.nonzero(legal.mask[i]).squeeze(1).tolist():
            target, region, rec = -1, None, None
            if lo.capt0 <= a < lo.region0:
                cd = (a - lo.capt0) // lo.r
                target = int(sc.tgt[i, cd // lo.d, cd % lo.d])
            elif lo.region0 <= a < lo.elim0:
                w, root = divmod(a - lo.region0, n)
                region = torch.nonzero(legal.labels[i, w] == root).squeeze(1).tolist()
            elif lo.line0 <= a < lo.lelim0:
                c, rest = divmod(a - lo.line0, lo.a * lo.o)
                target = int(legal.line_len[i, c, rest // lo.o])
            elif lo.rec0 <= a < lo.relim0:
                cd, slot = divmod(a - lo.rec0, lo.k)
                c, d = divmod(cd, lo.d)
                sld = legal.slides
                to = tb.rays[c, d, 0].view(1)
                if slot > 0:
                    cells = line_through(bs, to, sld.axis[i, c, d].view(1), sld.back[i, c, d].view(1),
                                         tb.r * 2 + 1)[0, slot - 1: slot - 1 + L].tolist()
                    moves.append(decode(tb, bs.num_players, a, p, ph, -1, None, (0, 0, cells)))
                else:
                    for e in torch.nonzero(sld.extract[i]).squeeze(1).tolist():
                        rec = (int(sld.mode[i, c, d]), e, [])
                        moves.append(decode(tb, bs.num_players, a, p, ph, -1, None, rec))
                continue
            moves.append(decode(tb, bs.num_players, a, p, ph, target, region, rec))
        out.append(moves)
    return out


def apply_each(state) -> list[tuple[Move, GameState]]:
    """Every legal move of one (vectorized) position applied by the batched engine: pairs of
    (move, resulting state), one batch row per move. Compare with `engine.rules.apply`."""
    from engine.batched.apply import apply_actions
    from engine.batched.state import from_states, read_states

    probe = from_states([state])
    top, cap = stack_tops(probe)
    legal = legal_mask(probe, top, cap, scan(probe, cap))
    if bool(legal.fallback[0]):
        return []
    lo = layout(probe.tables, probe.num_players)
    rows: list[tuple[int, int]] = []  # (action, extraction stack)
    for a in torch.nonzero(legal.mask[0]).squeeze(1).tolist():
        if lo.rec0 <= a < lo.relim0 and (a - lo.rec0) % lo.k == 0:
            rows += [(a, e) for e in torch.nonzero(legal.slides.extract[0]).squeeze(1).tolist()]
        else:
            rows.append((a, 0))
    bs = from_states([state] * len(rows))
    moves = legal_move_lists(bs)[0]
    top, cap = stack_tops(bs)
    sc = scan(bs, cap)
    legal = legal_mask(bs, top, cap, sc)
    a = torch.tensor([r[0] for r in rows], device=bs.device)
    ext = torch.tensor([r[1] for r in rows], device=bs.device)
    apply_actions(bs, a, legal, sc, top, cap, ext)
    # legal_move_lists lists slot-0 recovery moves once per extraction stack, in the same order
    return list(zip(moves, read_states(bs, list(range(len(rows))))))
