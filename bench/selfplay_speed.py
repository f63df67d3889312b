"""Neural selfplay throughput at a profile's settings, beside heuristic selfplay in the same run.

Usage:  python bench/selfplay_speed.py [--profile alphazero] [--model models/hex8_2p/<file>.pt]
        [--games 64] [--workers 2] [--heuristic-games 400] [--precision fp32,bf16]
        [--selfplay '{"full_sims": 32, "fast_sims": 8}'] [--net 2x32]

Both sides run through engine.nn.learning's worker processes (`workers` of them, one core each):
heuristic teacher games (D3 vs D3 after random openings) and the net's selfplay with the settings of
the profile's `closed_loop.selfplay` (Gumbel root, playout caps, temperature plies, `concurrency`
games at once per worker through an InferenceServer), once per precision asked for: fp32, and bf16
(the profile's `cpu_bf16`, where the CPU has bf16 instructions). Without --model a fresh net of the
profile's size plays (untrained nets play longer games, so positions/s is the fairer figure).
Prints games/s and positions/s of each, and their ratios to the heuristic rate measured in this run.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.nn.device import cpu_has_bf16  # noqa: E402
from engine.nn.learning import neural_games, teacher_games  # noqa: E402
from infra.pipeline_config import load_pipeline_config  # noqa: E402


def rate(label: str, fn) -> dict:
    t = time.perf_counter()
    recs = fn()
    s = time.perf_counter() - t
    moves = sum(len(r["moves"]) for r in recs)
    out = {"label": label, "games": len(recs), "seconds": s, "games_s": len(recs) / s, "positions_s": moves / s,
           "moves_per_game": moves / max(len(recs), 1)}
    print(f"{label:<34} {len(recs):>5} games  {s:7.1f} s  {out['games_s']:7.2f} games/s  "
          f"{out['positions_s']:8.0f} positions/s  {out['moves_per_game']:6.1f} moves/game", flush=True)
    return out


def fresh_model(board: str, players: int, blocks: int, channels: int) -> Path:
    from engine.nn.model import NetConfig, build_model, save_model
    path = Path(tempfile.mkdtemp()) / "fresh.pt"
    save_model(build_model(NetConfig(board_type=board, num_players=players, blocks=blocks, channels=channels)), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="alphazero")
    ap.add_argument("--model", type=Path)
    ap.add_argument("--games", type=int, default=64)
    ap.add_argument("--heuristic-games", type=int, default=400)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--precision", default="fp32,bf16", help="comma-separated: fp32, bf16")
    ap.add_argument("--selfplay", default="{}", help="JSON overriding the profile's selfplay settings")
    ap.add_argument("--net", default=None, help="blocks x channels of a fresh net instead of the profile's, e.g. 2x32")
    a = ap.parse_args()
    multiprocessing.set_start_method("spawn")
    profile = load_pipeline_config().resolve(a.profile, a.board, a.players)
    if profile.closed_loop is None:
        sys.exit(f"profile {a.profile!r} has no closed_loop section: no net selfplay to measure")
    settings = {**profile.closed_loop.selfplay.play_options(), "move_cap": profile.selfplay.move_cap,
                **json.loads(a.selfplay)}
    model = a.model
    if model is None:
        blocks, channels = profile.train.blocks, profile.train.channels
        if a.net:
            blocks, channels = (int(x) for x in a.net.lower().split("x"))
        model = fresh_model(a.board, a.players, blocks, channels)
    print(f"{a.board} {a.players}p, profile {a.profile}, {a.workers} worker processes, model {model}, "
          f"CPU bf16 {'yes' if cpu_has_bf16() else 'no (bf16 runs as fp32)'}, load {os.getloadavg()[0]:.2f}")
    print("selfplay settings:", {k: v for k, v in settings.items() if k != "cpu_bf16"})
    os.environ["OMP_NUM_THREADS"] = "1"  # one thread per worker process (see bench/learning.py)
    heur = rate("heuristic (D3 vs D3)", lambda: teacher_games(a.board, a.players, ["D3"], a.heuristic_games,
                                                              seed=11, workers=a.workers))
    sims = f"{settings['full_sims']}/{settings['fast_sims']} sims, x{settings['concurrency']}"
    for precision in a.precision.split(","):
        opts = {**settings, "cpu_bf16": precision.strip() == "bf16"}
        nn = rate(f"neural {precision.strip()} ({sims})",
                  lambda: neural_games(model, a.board, a.players, a.games, seed=5, workers=a.workers, settings=opts))
        print(f"  {precision.strip()} / heuristic: {nn['games_s'] / heur['games_s']:.3f} in games/s, "
              f"{nn['positions_s'] / heur['positions_s']:.3f} in positions/s", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
