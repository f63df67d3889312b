"""Is a tuned heuristic profile stronger than the untuned one? An independent match, and a reproducible tuning.

Usage:
  python bench/profiles.py --board hex8 --players 2 --games 400 --profile PATH [--seed 1] [--workers 1]
  python bench/profiles.py --tune --board hex8 --players 2 --profile OUT.json \\
      [--population 10 --generations 20 --games-per-candidate 60 --confirm-games 400 --tune-seed 1] [--games 400]

The match: heuristic(profile) against heuristic(reference, default: the repository's untuned
profile of the config) in every other seat, seats rotated, each block of `players` games opening
with `--opening-plies` random plies of its own. Its seed is derived from "bench-profiles" and
--seed, so none of its games is a game the tuning or the confirmation played (the seeds recorded
in the profile's metadata are checked, and a clash is refused). It prints the score with its 95%
interval (engine.ratings.score_interval over opening blocks, tasks.tuning.block_estimate), the
same in Elo, W/D/L, distinct games and the wall time.

Why independent: the profile's own fitness comes from the pipeline's confirmation match; this is
a second measurement on other games, which a reader can rerun. --tune first produces the profile
with the pipeline's own fixed-reference CMA-ES (tasks.tuning.tune_and_confirm: the same code the
cmaes phase runs), from --start (default: the reference), and writes it to --profile.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.arena import MatchResult, derive_seed, play_match  # noqa: E402
from engine.players.profiles import Profile, load_profile_file, save_profile  # noqa: E402
from engine.ratings import format_elo  # noqa: E402
from infra.pipeline_config import CmaesSettings  # noqa: E402
from tasks.players import PROFILE, pipeline_player  # noqa: E402
from tasks.tuning import (Reference, block_estimate, resolve_reference, rotation_games,  # noqa: E402
                          tune_and_confirm, used_seeds)


def match_seed(board: str, players: int, seed: int) -> int:
    """The match's seed: its own namespace, so tuning (cmaes-games, cmaes-confirm) never shares it."""
    return derive_seed("bench-profiles", board, players, seed)


def tune(a: argparse.Namespace, reference: Reference) -> Profile:
    """The pipeline's fixed-reference CMA-ES and confirmation, from the command line."""
    settings = CmaesSettings(population=a.population, generations=a.generations,
                             games_per_candidate=a.games_per_candidate, sigma0=a.sigma0, reference=a.reference,
                             confirm_games=a.confirm_games, opening_plies=a.opening_plies)
    start = load_profile_file(a.start) if a.start else reference.profile
    t0 = time.perf_counter()

    def progress(row: dict[str, float]) -> None:
        print(f"  generation {row['generation'] + 1:>3}/{a.generations}: mean {row['mean']:.3f} "
              f"best {row['best']:.3f} worst {row['worst']:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)

    print(f"tuning {a.board} {a.players}p from {start.version} against {reference.name} ({reference.id}): "
          f"population {a.population}, {a.generations} generations, "
          f"{rotation_games(a.games_per_candidate, a.players)} games per candidate", flush=True)
    with tempfile.TemporaryDirectory(prefix="rift-tune-") as work:
        tuned = tune_and_confirm(a.board, a.players, start, reference, settings,
                                 seed=derive_seed("bench-profiles-tune", a.board, a.players, a.tune_seed),
                                 move_cap=None, work=Path(work), version_prefix=f"bench-{a.board}_{a.players}p",
                                 progress=progress)
    save_profile(tuned, a.profile)
    meta = tuned.metadata or {}
    c = meta["confirm"]
    print(f"tuned {tuned.version} -> {a.profile}: last generation's mean fitness {meta['tuning']['fitness']:.3f}; "
          f"confirmed {c['score']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}] over {c['games']} games "
          f"({meta['tuning']['games'] + c['games']} games, {time.perf_counter() - t0:.0f} s)", flush=True)
    return tuned


def report(m: MatchResult, profile: Profile, reference: Reference, seed: int) -> dict:
    est, per_game = block_estimate(m), m.score(0)
    w, d, l = m.wdl(0, 1)
    out = {"profile": profile.version, "reference": reference.id, "board": m.board, "players": m.num_players,
           "games": est.games, "seed": seed, "score": round(est.score, 4), "ci95": [round(est.lo, 4), round(est.hi, 4)],
           "elo": _finite(est.elo), "elo_ci95": [_finite(est.elo_lo), _finite(est.elo_hi)],
           "per_game_ci95": [round(per_game.lo, 4), round(per_game.hi, 4)], "wins": w,
           "draws": d, "losses": l, "distinct_games": m.distinct_games, "hit_move_cap": m.hit_cap,
           "seat_win_rates": [round(r, 3) for r in m.seat_win_rates()], "seconds": round(m.seconds, 1)}
    print(f"{profile.version} vs {reference.name} ({reference.id}), {m.board} {m.num_players}p, "
          f"{est.games} games, seed {seed}")
    print(f"  score {est.score:.3f}  95% CI [{est.lo:.3f}, {est.hi:.3f}]  Elo {format_elo(est.elo)} "
          f"[{format_elo(est.elo_lo)}, {format_elo(est.elo_hi)}]  (CI over {len(m.games) // m.num_players} "
          f"opening blocks; over games as if independent: [{per_game.lo:.3f}, {per_game.hi:.3f}])")
    print(f"  W/D/L {w}/{d}/{l}  distinct games {m.distinct_games}  hit move cap {m.hit_cap}  "
          f"seat win rates {out['seat_win_rates']}  wall {m.seconds:.1f} s on {platform.node()}")
    return out


def _finite(x: float) -> float | None:
    return None if math.isinf(x) else round(x, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--profile", required=True, help="the tuned profile (written first with --tune)")
    ap.add_argument("--reference", default="default", help="'default' (untuned) or a profile file")
    ap.add_argument("--games", type=int, default=400, help="games of the match (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--opening-plies", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", help="also write the match's result here")
    t = ap.add_argument_group("tuning (--tune)")
    t.add_argument("--tune", action="store_true", help="produce --profile with the fixed-reference CMA-ES first")
    t.add_argument("--start", help="profile to start from (default: the reference)")
    t.add_argument("--population", type=int, default=10)
    t.add_argument("--generations", type=int, default=20)
    t.add_argument("--games-per-candidate", type=int, default=60)
    t.add_argument("--confirm-games", type=int, default=400)
    t.add_argument("--sigma0", type=float, default=0.25)
    t.add_argument("--tune-seed", type=int, default=1)
    a = ap.parse_args(argv)
    reference = resolve_reference(a.reference, a.board, a.players)
    profile = tune(a, reference) if a.tune else load_profile_file(a.profile)
    if a.games <= 0:
        return 0
    seed = match_seed(a.board, a.players, a.seed)
    if seed in used_seeds(profile):
        print(f"seed {seed} (--seed {a.seed}) was used by this profile's tuning: choose another --seed")
        return 2
    specs = [PROFILE + str(Path(a.profile).resolve())] + [reference.spec] * (a.players - 1)
    m = play_match(a.board, specs, rotation_games(a.games, a.players), seed=seed, workers=a.workers,
                   opening_plies=a.opening_plies, factory=pipeline_player)
    out = report(m, profile, reference, seed)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
