"""Engine speed on one core: legal-move generations/s, moves applied/s, random games/s.

Usage:  python bench/engine.py [--seconds 3] [--configs square8:2,hexagonal:2] [--markdown]

For every configuration it plays uniformly random games for a time budget and times
the two halves of each step separately. The baseline measured in the same run is the
same loop through the checked public API (`apply`, which validates the move against a
fresh legal-move list and copies the state): the cost profile of an engine that
regenerates and copies on every move. RingRift's own Python engine, measured on a
machine like this one, gives the published targets (1.35 games/s square8 2p, 0.027
hexagonal 2p); the last column is our figure divided by that one.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import apply, apply_in_place, legal_moves, new_game  # noqa: E402
from bench.tables import print_markdown  # noqa: E402

CONFIGS = [(b, n) for b in ("square8", "hex8", "square19", "hexagonal") for n in (2, 3, 4)]
RINGRIFT_GAMES_PER_S = {("square8", 2): 1.35, ("hexagonal", 2): 0.027}


def measure(board: str, n: int, seconds: float, checked: bool = False) -> dict:
    rng = random.Random(1)
    gen_t = apply_t = 0.0
    gens = moves = games = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or games == 0:
        s = new_game(board, n)
        while s.status == "active":
            t0 = time.perf_counter()
            ms = legal_moves(s)
            t1 = time.perf_counter()
            m = ms[rng.randrange(len(ms))]
            if checked:
                s = apply(s, m)
            else:
                apply_in_place(s, m)
            t2 = time.perf_counter()
            gen_t += t1 - t0
            apply_t += t2 - t1
            gens += 1
            moves += 1
        games += 1
    total = gen_t + apply_t
    return {
        "board": board, "players": n, "games": games, "moves": moves,
        "gens_per_s": gens / gen_t, "moves_per_s": moves / apply_t,
        "games_per_s": games / total, "moves_per_game": moves / games,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time budget per configuration")
    ap.add_argument("--configs", default="", help="e.g. square8:2,hexagonal:2 (default: all 12)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()
    configs = CONFIGS
    if args.configs:
        configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
    print(f"# machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    header = ("config", "games", "moves/game", "legal-gen/s", "apply/s", "games/s",
              "baseline games/s", "x baseline", "x RingRift")
    rows = []
    for board, n in configs:
        r = measure(board, n, args.seconds)
        b = measure(board, n, max(args.seconds / 3, 0.5), checked=True)
        ref = RINGRIFT_GAMES_PER_S.get((board, n))
        rows.append((
            f"{board} {n}p", str(r["games"]), f"{r['moves_per_game']:.0f}",
            f"{r['gens_per_s']:,.0f}", f"{r['moves_per_s']:,.0f}", f"{r['games_per_s']:.2f}",
            f"{b['games_per_s']:.2f}", f"{r['games_per_s'] / b['games_per_s']:.1f}",
            f"{r['games_per_s'] / ref:.0f}" if ref else "-",
        ))
        if not args.markdown:
            print("  ".join(rows[-1]), flush=True)
    if args.markdown:
        print_markdown(header, rows)


if __name__ == "__main__":
    main()
