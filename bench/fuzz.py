"""Invariant fuzzing at scale: random games on every configuration, every state checked.

Usage:  python bench/fuzz.py --games 100000 [--configs square8:2,hex8:3] [--workers 2]

The CI fuzz test (tests/engine/test_fuzz.py) plays a few hundred games; this plays as many
as asked, spread over worker processes, and stops at the first violation, printing the
configuration, seed and move so the failure reproduces with one command.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import apply_in_place, legal_moves, new_game  # noqa: E402
from engine.invariants import progress_measure, violations  # noqa: E402

CONFIGS = [(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)]


def fuzz_range(board: str, n: int, seeds: range) -> tuple[int, int, dict, str | None]:
    moves = 0
    outcomes: dict[str, int] = {}
    for seed in seeds:
        rng = random.Random(seed)
        s = new_game(board, n)
        last = progress_measure(s)
        while s.status == "active":
            ms = legal_moves(s)
            m = ms[rng.randrange(len(ms))]
            apply_in_place(s, m)
            moves += 1
            problems = violations(s)
            now = progress_measure(s)
            if problems or now < last:
                detail = problems or [f"progress measure fell {last} -> {now}"]
                return len(seeds), moves, outcomes, f"{board} {n}p seed {seed} after {m!r}: {detail}"
            last = now
        outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
    return len(seeds), moves, outcomes, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=1000, help="games per configuration")
    ap.add_argument("--configs", default="", help="e.g. square8:2,hex8:3 (default: all 12)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--chunk", type=int, default=200, help="games per task")
    args = ap.parse_args()
    configs = CONFIGS
    if args.configs:
        configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
    failed = False
    with ProcessPoolExecutor(args.workers) as pool:
        for board, n in configs:
            t0 = time.perf_counter()
            jobs = [
                pool.submit(fuzz_range, board, n, range(i, min(i + args.chunk, args.games)))
                for i in range(0, args.games, args.chunk)
            ]
            games = moves = 0
            outcomes: dict[str, int] = {}
            for job in jobs:
                g, m, o, error = job.result()
                games, moves = games + g, moves + m
                for k, v in o.items():
                    outcomes[k] = outcomes.get(k, 0) + v
                if error:
                    print(f"VIOLATION {error}", flush=True)
                    failed = True
            dt = time.perf_counter() - t0
            print(f"{board} {n}p: {games} games, {moves} moves, {dt:.1f} s, outcomes {outcomes}",
                  flush=True)
    print("FAILED" if failed else "all invariants held")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
