"""The deployed player's search settings on one net, each against the same opponent on the same seeds.

Usage:  python bench/net_search.py --model models/hex8_2p/hex8_2p-d5-bootstrap-run2-20261207.pt \
            [--opponent D5] [--games 100] [--sims 64] [--workers 2] \
            [--setting '{}' --setting '{"root": "gumbel"}' --setting '{"c_puct": 0.75}']

Why: the net's strength is only half of the deployed player's; its search decides the rest. Each
setting (MCTSPlayer options on top of one leaf per search step) plays `--games` seat-rotated games
against `--opponent` through engine.nn.match (many games at once through one InferenceServer per
worker), with the same match seed, so the openings and the opponent's seeds are shared and the
settings differ only in the search. Prints each setting's score with its 95% interval and Elo,
and the difference from the first setting (the baseline of this run).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.nn.match import play_net_match  # noqa: E402
from engine.ratings import elo_from_score  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--opponent", default="D5")
    ap.add_argument("--games", type=int, default=100)
    ap.add_argument("--sims", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=55_000)
    ap.add_argument("--setting", action="append", help="JSON of MCTSPlayer options (repeatable); first = baseline")
    a = ap.parse_args()
    settings = [json.loads(s) for s in (a.setting or ["{}", '{"root": "gumbel"}'])]
    multiprocessing.set_start_method("spawn")
    os.environ["OMP_NUM_THREADS"] = "1"  # one thread per match worker: two cores, two workers
    print(f"{a.model.name} vs {a.opponent}, {a.games} games each, {a.sims} simulations, seed {a.seed}")
    base = None
    for setting in settings:
        t = time.time()
        m = play_net_match(a.board, [f"net:{a.model}", a.opponent], a.games, seed=a.seed, sims=a.sims,
                           workers=a.workers, opening_plies=4, search={"batch_size": 1, **setting})
        est = m.score(0)
        base = est.score if base is None else base
        print(f"  {json.dumps(setting):<32} {est.score:.3f} [{est.lo:.3f}, {est.hi:.3f}]  "
              f"{elo_from_score(est.score):+6.0f} Elo  {est.score - base:+.3f} vs baseline  "
              f"({len(m.games)} games, {m.distinct_games} distinct, {time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
