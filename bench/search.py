"""Gumbel root vs PUCT root at the same small simulation budget (docs/benchmarks.md, "Search on the net").

Plays `--games` seat-rotated games on square8 2p between `mcts:simulations=N,root=gumbel` and
`mcts:simulations=N` (the heuristic evaluator: no net is needed to compare the roots) through
engine.arena.play_match with 2 random opening plies, and prints the Gumbel side's score with its
95% interval. One worker by default, to share a small machine. `--targets K` first prints how
spread the two roots' policy targets are on K random positions (selfplay noise on).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.arena import play_match  # noqa: E402
from engine.players import MCTSPlayer  # noqa: E402


def target_spread(board: str, sims: int, positions: int) -> None:
    """Mean top probability, entropy and number of moves with mass of each root's policy target."""
    import numpy as np

    from tests.players.helpers import random_position
    rows: dict[str, list[tuple[float, float, int, int]]] = {"puct": [], "gumbel": []}
    for k in range(positions):
        s = random_position(board, 2, seed=100 + k)
        for root, out in rows.items():
            _, dist = MCTSPlayer(seed=k, simulations=sims, root=root, noise=True).search(s)
            p = np.array([v for v in dist.values() if v > 0])
            out.append((float(p.max()), float(-(p * np.log(p)).sum()), len(p), len(dist)))
    for root, out in rows.items():
        top, ent, mass, legal = np.array(out).mean(0)
        print(f"{root} targets at {sims} simulations: top probability {top:.2f}, entropy {ent:.2f} nats, "
              f"mass on {mass:.1f} of {legal:.1f} legal moves")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=40)
    ap.add_argument("--sims", type=int, default=16)
    ap.add_argument("--extra", default="", help="more options for the Gumbel side, e.g. gumbel_k=8")
    ap.add_argument("--board", default="square8")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--targets", type=int, default=0, help="positions for the policy-target comparison")
    args = ap.parse_args()
    if args.targets:
        target_spread(args.board, args.sims, args.targets)
    gumbel = f"mcts:simulations={args.sims},root=gumbel" + (f",{args.extra}" if args.extra else "")
    puct = f"mcts:simulations={args.sims}"
    t0 = time.perf_counter()
    m = play_match(args.board, [gumbel, puct], args.games, seed=args.seed, workers=args.workers, opening_plies=2)
    w, d, l = m.wdl(0, 1)
    sc = m.score(0)
    print(f"{gumbel} vs {puct}, {len(m.games)} games: W/D/L {w}/{d}/{l}, score {sc.score:.3f} "
          f"[{sc.lo:.3f}, {sc.hi:.3f}], seat win rates {[round(x, 3) for x in m.seat_win_rates()]}, "
          f"move cap {m.hit_cap}, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
