"""The difficulty ladder holds: each non-neural tier beats the tier two below it on square8 2p.

Usage:  python bench/ladder.py [--games 200] [--workers 2] [--sprt 35,105] [--markdown]
                               [--tiers D1,D2,...] [--pair-seconds 900]

For every pair (D3 vs D1, D4 vs D2, ... up to the highest non-neural tier) it plays a match
with seats rotated, up to --games games, stopping early when the sequential test of "the
higher tier is stronger" decides. The default SPRT bounds, 35 and 105 Elo, sit either side of
70 Elo (a 60% score): accepting H1 says the score is above about 60%. A pair passes on an H1
decision, or, undecided after --games games, on a score of at least 60%. Each pair prints its
score, 95% interval, Elo difference and SPRT result; the run ends with the total wall time.

Why two tiers apart: adjacent tiers may differ by too little to separate in a few hundred
games, while two steps must be a clear gain, which is what the ladder promises. Games open with
--opening-plies random plies (shared by both seatings of a pair of games) so that
deterministic searchers do not replay one game 200 times; "distinct" counts different games.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.arena import MatchResult, play_match  # noqa: E402
from engine.players import make_player  # noqa: E402
from engine.ratings import RatingPool, Sprt, connected_groups, format_elo  # noqa: E402
from bench.tables import print_markdown  # noqa: E402

PASS_SCORE = 0.60


def ladder_tiers() -> list[tuple[str, str]]:
    """(tier, what plays it) for every non-neural tier of config/ladder.yaml; neural tiers need
    a trained model and are not part of this test."""
    from engine.players.ladder import load_ladder

    ladder = load_ladder()
    return [(t, describe(ladder.tiers[t].engine, ladder.tiers[t].params)) for t in ladder.non_neural()]


def describe(engine: str, params: dict) -> str:
    return engine + (" " + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")


def describe_spec(spec: str) -> str:
    """What plays a spec given with --tiers: the ladder's entry for a tier, else the spec."""
    from engine.players.ladder import load_ladder

    make_player(spec, seed=0)  # an unknown spec fails before any game
    tier = load_ladder().tiers.get(spec.upper())
    return describe(tier.engine, tier.params) if tier else spec


def verdict(m: MatchResult) -> str:
    """PASS on an SPRT H1, FAIL on H0, else by the 60% score rule."""
    if m.sprt is not None and m.sprt.decision != "continue":
        return "PASS" if m.sprt.decision == "H1" else "FAIL"
    return "PASS" if m.score(0).score >= PASS_SCORE else "FAIL"


def run_pair(hi: str, lo: str, args: argparse.Namespace, sprt: Sprt | None) -> MatchResult:
    deadline = time.perf_counter() + args.pair_seconds

    def progress(g, m: MatchResult) -> bool:
        done = len(m.games)
        if done % 20 == 0:
            w, d, l = m.wdl()
            print(f"  {hi} vs {lo}: {done} games, {w}-{d}-{l}, {m.seconds:.0f} s", file=sys.stderr)
        return time.perf_counter() > deadline

    return play_match(
        "square8", [hi, lo], args.games, seed=args.seed, workers=args.workers, sprt=sprt,
        opening_plies=args.opening_plies, on_game=progress,
    )


def row(hi: str, lo: str, m: MatchResult) -> list[str]:
    est = m.score(0)
    w, d, l = m.wdl()
    sprt = "-" if m.sprt is None else f"{m.sprt.decision} (LLR {m.sprt.llr:+.2f})"
    return [
        f"{hi} vs {lo}", str(len(m.games)), f"{w}-{d}-{l}", f"{est.score:.1%}",
        f"{est.lo:.1%}–{est.hi:.1%}", format_elo(est.elo), f"[{format_elo(est.elo_lo)}, {format_elo(est.elo_hi)}]",
        sprt, str(m.distinct_games), f"{m.seconds:.0f}", verdict(m),
    ]


def print_fit(pool: RatingPool, order: list[str]) -> None:
    """Anchored Bradley-Terry ratings over every game. Pairs two apart link odd tiers to odd and
    even to even only, so each linked group is anchored at its lowest tier (0 Elo)."""
    groups = connected_groups((a, b) for a, b, _ in pool.pairwise())
    anchors = {min(g, key=order.index): 0.0 for g in groups}
    fit = pool.fit(anchors)
    for g in sorted(groups, key=lambda g: order.index(min(g, key=order.index))):
        ts = sorted(g, key=order.index)
        print(f"Bradley-Terry, {ts[0]} = 0: " + ", ".join(
            f"{t} {format_elo(fit[t].elo)} [{format_elo(fit[t].lo)}, {format_elo(fit[t].hi)}]" for t in ts[1:]))


HEADER = ["pair", "games", "W-D-L", "score", "95% CI", "Elo", "Elo 95% CI", "SPRT",
          "distinct", "seconds", "result"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=200, help="most games per pair")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sprt", default="35,105", help="'elo0,elo1', or 'none' for fixed game counts")
    ap.add_argument("--opening-plies", type=int, default=2)
    ap.add_argument("--pair-seconds", type=float, default=1800.0,
                    help="stop a pair after this long (reported as too slow)")
    ap.add_argument("--tiers", default="", help="comma-separated tiers (default: every non-neural tier)")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = ap.parse_args()
    sprt = None if args.sprt == "none" else Sprt(*(float(v) for v in args.sprt.split(",")))
    tiers = [(t, describe_spec(t)) for t in args.tiers.split(",")] if args.tiers else ladder_tiers()
    if len({t for t, _ in tiers}) < len(tiers):
        ap.error("--tiers must name distinct players")
    print("tiers: " + "; ".join(f"{t} = {d}" for t, d in tiers))
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
          f"workers {args.workers}", file=sys.stderr)
    t0 = time.perf_counter()
    rows, slow = [], []
    pool = RatingPool("square8", 2)
    for i in range(2, len(tiers)):
        hi, lo = tiers[i][0], tiers[i - 2][0]
        m = run_pair(hi, lo, args, sprt)
        if len(m.games) < args.games and (m.sprt is None or m.sprt.decision == "continue"):
            slow.append(f"{hi} vs {lo} stopped by --pair-seconds after {len(m.games)} games")
        rows.append(row(hi, lo, m))
        pool.add_match(m)
        print("  " + " | ".join(rows[-1]), file=sys.stderr)
    total = time.perf_counter() - t0
    if args.markdown:
        print_markdown(HEADER, rows)
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
        for r in [HEADER, *rows]:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    if pool.games:
        print_fit(pool, [t for t, _ in tiers])
    for s in slow:
        print(f"too slow: {s}")
    print(f"total wall time {total:.0f} s ({total / 60:.1f} min) for {len(rows)} pairs; "
          f"{sum(r[-1] == 'PASS' for r in rows)} passed")


if __name__ == "__main__":
    main()
