"""Player speed on one core: decisions/s per player, search nodes/s, heuristic selfplay games/s.

Usage:  python bench/players.py [--positions 40] [--games 20] [--boards square8,hexagonal] [--markdown]

Decisions are timed on the same positions for every player: positions reached by random
selfplay (seeded), each advanced to a decision with more than one legal move (single-move
positions are played without thinking by every player, so they would flatter the figures).
The players are the ladder tiers D1..D8 (config/ladder.yaml) plus the baseline measured in
the same run: the heuristic scoring every legal move on a copied state (`delta=False`),
which is how an evaluation is usually applied. Heuristic selfplay games/s are whole games
(forced moves included) on square8 2p, for the heuristic and for that baseline.
RingRift's heuristic player, measured on a machine like ours: 213 ms per decision on
square8 2p, 0.079 games/s.
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

from engine import legal_moves, new_game  # noqa: E402
from engine.players import make_player  # noqa: E402
from engine.players.ladder import load_ladder  # noqa: E402
from engine.rules import apply_in_place  # noqa: E402
from bench.tables import print_markdown  # noqa: E402

RINGRIFT_MS_PER_DECISION = {"square8": 213.0}
RINGRIFT_GAMES_PER_S = 0.079
BASELINE = "heuristic:delta=false"


def positions(board: str, count: int, seed: int = 1) -> list:
    """`count` positions with a real decision, from random games (seeded)."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        s = new_game(board, 2)
        stop = rng.randrange(4, 60 if board in ("square8", "hex8") else 300)
        decisions = 0
        while s.status == "active":
            ms = legal_moves(s)
            if len(ms) > 1:
                decisions += 1
                if decisions == stop:
                    out.append(s.copy())
                    break
            apply_in_place(s, ms[rng.randrange(len(ms))])
    return out


def search_work(p) -> int:
    """Nodes or simulations the player's last decision used (0 for non-search players)."""
    for attr in ("last_simulations", "last_nodes"):
        if hasattr(p, attr):
            return int(getattr(p, attr))
    return 0


def time_decisions(spec: str, states: list) -> dict:
    p = make_player(spec, seed=7)
    work = 0
    t = 0.0
    for s in states:
        t0 = time.perf_counter()
        p.choose(s)
        t += time.perf_counter() - t0
        work += search_work(p)
    return {"decisions_per_s": len(states) / t, "ms": 1000 * t / len(states),
            "work_per_s": work / t if work else None}


def selfplay(spec: str, games: int, board: str = "square8") -> dict:
    moves = 0
    t0 = time.perf_counter()
    for g in range(games):
        players = [make_player(spec, seed=100 * g + i) for i in range(2)]
        s = new_game(board, 2)
        while s.status == "active":
            apply_in_place(s, players[s.current_player - 1].choose(s))
            moves += 1
    dt = time.perf_counter() - t0
    return {"games_per_s": games / dt, "moves_per_game": moves / games}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=40, help="positions per board (square8)")
    ap.add_argument("--games", type=int, default=20, help="heuristic selfplay games")
    ap.add_argument("--boards", default="square8,hexagonal")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = ap.parse_args()
    ladder = load_ladder()
    tiers = ladder.non_neural()
    specs = [(t, f"{t} {ladder.tiers[t].engine}") for t in tiers]
    specs.append((BASELINE, "baseline: heuristic, copy per move"))
    print(f"# machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    for board in args.boards.split(","):
        count = args.positions if board in ("square8", "hex8") else max(args.positions // 4, 4)
        states = positions(board, count)
        rows = []
        for spec, label in specs:
            params = ", ".join(f"{k}={v}" for k, v in ladder.tiers[spec].params.items()) \
                if spec in ladder.tiers else "delta=false"
            r = time_decisions(spec, states)
            plain = spec in ladder.tiers and ladder.tiers[spec].engine == "heuristic" \
                and not ladder.tiers[spec].params
            ref = RINGRIFT_MS_PER_DECISION.get(board) if plain else None
            rows.append((
                label, params or "-", f"{r['decisions_per_s']:,.1f}", f"{r['ms']:.1f}",
                f"{r['work_per_s']:,.0f}" if r["work_per_s"] else "-",
                f"{ref / r['ms']:.0f}x" if ref else "-",
            ))
            if not args.markdown:
                print(board, "  ".join(rows[-1]), flush=True)
        if args.markdown:
            print(f"\n{board} 2p, {count} positions (decisions with more than one legal move):\n")
            header = ("player", "budget", "decisions/s", "ms/decision", "nodes or sims/s",
                      "vs RingRift heuristic")
            print_markdown(header, rows)
    h = selfplay("heuristic", args.games)
    b = selfplay(BASELINE, max(args.games // 4, 2))
    r = selfplay("random", args.games)
    lines = [
        ("heuristic", h), ("baseline: heuristic, copy per move", b), ("random (reference)", r),
    ]
    if args.markdown:
        print(f"\nHeuristic selfplay, square8 2p, whole games ({args.games} games):\n")
        print("| player | games/s | moves/game | x baseline | x RingRift (0.079) |")
        print("|---|---|---|---|---|")
    for label, x in lines:
        row = (label, f"{x['games_per_s']:.2f}", f"{x['moves_per_game']:.0f}",
               f"{x['games_per_s'] / b['games_per_s']:.1f}",
               f"{x['games_per_s'] / RINGRIFT_GAMES_PER_S:.0f}")
        print(("| " + " | ".join(row) + " |") if args.markdown else "selfplay " + "  ".join(row))


if __name__ == "__main__":
    main()
