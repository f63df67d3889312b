"""Neural selfplay throughput at the learning loop's settings, beside heuristic selfplay in the same run.

Usage:  python bench/selfplay_speed.py [--model runs/learning/models/i010.pt] [--games 64] [--workers 2]
        [--heuristic-games 400] [--board hex8] [--players 2]

Both sides run through engine.nn.learning's worker processes (`workers` of them, one core each):
heuristic teacher games (D3 vs D3 after random openings) and the net's selfplay with the settings
bench/learning.py uses (Gumbel root, playout caps, `concurrency` games at once per worker through an
InferenceServer). Without --model a fresh net of the loop's size plays (untrained nets play longer
games, so positions/s is the fairer figure). Prints games/s and positions/s and the ratio of the
neural rate to the heuristic one, measured in this run.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.learning import NET, SELFPLAY  # noqa: E402
from engine.nn.learning import neural_games, teacher_games  # noqa: E402


def rate(label: str, fn) -> dict:
    t = time.perf_counter()
    recs = fn()
    s = time.perf_counter() - t
    moves = sum(len(r["moves"]) for r in recs)
    out = {"label": label, "games": len(recs), "seconds": s, "games_s": len(recs) / s, "positions_s": moves / s,
           "moves_per_game": moves / max(len(recs), 1)}
    print(f"{label:<28} {len(recs):>5} games  {s:7.1f} s  {out['games_s']:7.2f} games/s  "
          f"{out['positions_s']:8.0f} positions/s  {out['moves_per_game']:6.1f} moves/game", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--games", type=int, default=64)
    ap.add_argument("--heuristic-games", type=int, default=400)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=SELFPLAY["concurrency"])
    ap.add_argument("--net", default=None, help="blocks x channels of a fresh net instead of the loop's, e.g. 2x32")
    a = ap.parse_args()
    multiprocessing.set_start_method("spawn")
    model = a.model
    if model is None:
        from engine.nn.model import NetConfig, build_model, save_model
        model = Path(tempfile.mkdtemp()) / "fresh.pt"
        size = dict(NET)
        if a.net:
            blocks, channels = (int(x) for x in a.net.lower().split("x"))
            size.update(blocks=blocks, channels=channels)
        save_model(build_model(NetConfig(board_type=a.board, num_players=a.players, **size)), model)
    print(f"{a.board} {a.players}p, {a.workers} worker processes, model {model}, load {os.getloadavg()[0]:.2f}")
    os.environ["OMP_NUM_THREADS"] = "1"  # one thread per worker process (see bench/learning.py)
    heur = rate("heuristic (D3 vs D3)", lambda: teacher_games(a.board, a.players, ["D3"], a.heuristic_games,
                                                              seed=11, workers=a.workers))
    settings = {**SELFPLAY, "opening_plies": tuple(SELFPLAY["opening_plies"]), "concurrency": a.concurrency}
    nn = rate(f"neural ({settings['full_sims']}/{settings['fast_sims']} sims, x{a.concurrency})",
              lambda: neural_games(model, a.board, a.players, a.games, seed=5, workers=a.workers, settings=settings))
    print(f"neural / heuristic: {nn['games_s'] / heur['games_s']:.3f} in games/s, "
          f"{nn['positions_s'] / heur['positions_s']:.3f} in positions/s (load after: {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
