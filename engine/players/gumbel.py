"""Gumbel root for MCTS at low simulation counts (Danihelka et al. 2022, "Policy improvement
by planning with Gumbel").

Why: with 8 to 32 simulations, PUCT spends most of them on the top prior move and its visit
counts are a poor policy target (a one-hot of the prior's argmax, plus noise). The Gumbel
root instead
1. samples m = min(k, legal moves, simulations) distinct moves without replacement by
   Gumbel-top-k: the top m of `g + logits` with g ~ Gumbel(0, 1) and logits = log priors;
2. splits the simulations over them by sequential halving: each phase gives every remaining
   move the same number of simulations, then keeps the better half by
   `g + logits + sigma(q)`, for ceil(log2 m) phases, so the survivor is compared on the
   most simulations;
3. plays the survivor, and returns as policy target the improved policy
   softmax(logits + sigma(completed q)), where moves never simulated get the value mix
   v_mix (the root's own value blended with the prior-weighted mean of the visited moves'
   q) instead of a guess of zero.
sigma(q) = (c_visit + max_b N(b)) * c_scale * q, with q min-max rescaled to [0, 1] over the
root's moves (the paper's c_visit = 50, c_scale = 0.1, as in DeepMind's mctx), so the same
constants work for any value range. Choosing the action by argmax(g + logits + sigma(q)) is a
sample from the improved policy, which is what makes the scheme a policy improvement even
with 2 simulations; the Gumbel noise therefore also replaces Dirichlet noise and the move
temperature in selfplay. It is drawn from the player's seeded generator: same seed, same
move. A player that plays to win scales it to 0 (`gumbel_scale`, the default without
`noise`; mctx advises the same for perfect-information games): at 16 simulations over 16
candidates each move has one visit, and g (spread ~1.3) would often outvote a q that one
visit measured.

q is the root mover's seat entry of the per-seat (max-n) values that MCTS backs up, so the
root works for 2 to 4 players. Below the root the tree is MCTS's: `MCTSPlayer._run_batch`
with `firsts` sends each simulation through the chosen root child, then PUCT selects (the
paper's deterministic non-root selection is a refinement left out: PUCT below a well-chosen
root move costs little at these budgets).
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np

from engine.moves import Move

if TYPE_CHECKING:  # mcts imports this module
    from engine.players.mcts import MCTSPlayer, Node

C_VISIT = 50.0
C_SCALE = 0.1
LOG_FLOOR = 1e-12  # priors of exactly 0 get log(1e-12), far below any real move but finite


def halving_phases(m: int) -> int:
    """ceil(log2 m) phases take m candidates down to one (one phase for one candidate)."""
    return max(1, math.ceil(math.log2(m))) if m > 1 else 1


def child_stats(root: Node, seat: int) -> tuple[np.ndarray, np.ndarray]:
    """Visit counts and mean values (for `seat`, index 0 = seat 1) of the root's children."""
    n = np.array([ch.n if ch is not None else 0 for ch in root.children], dtype=float)
    q = np.array([ch.w[seat] / ch.n if ch is not None and ch.n else 0.0 for ch in root.children])
    return n, q


def completed_q(priors: np.ndarray, visits: np.ndarray, q: np.ndarray, root_value: float) -> np.ndarray:
    """q of the visited moves; the value mix v_mix for the others (paper, appendix D):
    v_mix = (v + sum N / sum_{visited} pi * sum_{visited} pi q) / (1 + sum N)."""
    seen = visits > 0
    if not seen.any():
        return np.full_like(q, root_value)
    total = visits.sum()
    p_seen = priors[seen].sum()
    mean_q = float((priors[seen] * q[seen]).sum() / p_seen) if p_seen > 0 else float(q[seen].mean())
    v_mix = (root_value + total * mean_q) / (1.0 + total)
    return np.where(seen, q, v_mix)


def sigma(q: np.ndarray, max_visits: float, c_visit: float = C_VISIT, c_scale: float = C_SCALE) -> np.ndarray:
    """The monotone transform of q added to the logits, after min-max rescaling to [0, 1]
    (equal qs rescale to 0: no information, the logits decide)."""
    lo, hi = float(q.min()), float(q.max())
    scaled = (q - lo) / (hi - lo) if hi > lo else np.zeros_like(q)
    return (c_visit + max_visits) * c_scale * scaled


def improved_policy(logits: np.ndarray, cq: np.ndarray, max_visits: float) -> np.ndarray:
    """softmax(logits + sigma(completed q)): the Gumbel root's policy target."""
    z = logits + sigma(cq, max_visits)
    z = np.exp(z - z.max())
    return z / z.sum()


def search_root(player: MCTSPlayer, root: Node, root_value: float, deadline: float | None
                ) -> tuple[Move, dict[Move, float]]:
    """Run `player.simulations` simulations from an expanded, evaluated root by Gumbel-top-k
    and sequential halving; returns the surviving move and the improved policy."""
    me = root.state.current_player - 1
    priors = np.asarray(root.priors, dtype=float)
    logits = np.log(np.maximum(priors, LOG_FLOOR))
    g = player.gumbel_scale * player.rng.gumbel(size=len(priors))
    budget = max(0, player.simulations)
    m = max(1, min(player.gumbel_k, len(priors), budget))
    order = np.argsort(-(g + logits), kind="stable")
    remaining = [int(i) for i in order[:m]]
    phases = halving_phases(m)
    done = 0

    for phase in range(phases):
        left = budget - done
        per = max(1, budget // (phases * len(remaining)))
        if phase == phases - 1:  # the last phase spends what rounding left over
            per = max(per, -(-left // len(remaining)))
        plan = [i for _ in range(per) for i in remaining][:left]  # round robin: batches mix moves
        for start in range(0, len(plan), player.batch_size):
            chunk = plan[start:start + player.batch_size]
            done += player._run_batch(root, len(chunk), chunk)
            if deadline is not None and time.perf_counter() >= deadline:
                budget = done  # out of time: the phases that follow only rank
                break
        n, q = child_stats(root, me)
        cq = completed_q(priors, n, q, root_value)
        keep = max(1, math.ceil(len(remaining) / 2)) if phase < phases - 1 else 1
        score = g + logits + sigma(cq, n.max())
        remaining = sorted(remaining, key=lambda i: -score[i])[:keep]
    player.last_simulations = done
    n, q = child_stats(root, me)
    policy = improved_policy(logits, completed_q(priors, n, q, root_value), n.max())
    dist: dict[Move, float] = {}
    for mv, p in zip(root.moves, policy):
        dist[mv] = dist.get(mv, 0.0) + float(p)
    return root.moves[remaining[0]], dist
