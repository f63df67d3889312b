"""Peak tensor memory per game of one batched step, measured on the CPU, projected to GPU batches.

Usage:
  python bench/gpu_memory.py [--configs square19:2,hexagonal:2] [--players random,heuristic]
                             [--batches 64,256] [--every 10] [--max-steps 0] [--target 32768]

Why: a 32k-game batch on square19 / hexagonal must fit in an 80 GB GPU, and that can be
checked before a GPU is at hand. Every `every`-th step of B games is run under
`bench.memtrack.LiveBytes`, which keeps the peak of the tensor bytes allocated during the
step; the game state itself (`BatchState` tensors) is added. Per game = (state + largest
step peak) / B, and the projection multiplies by `target`.

The heuristic scores moves in chunks of `score_budget` elements whatever the batch
(engine/batched/players.py), so its memory stops growing with B past one chunk. To keep
the projection linear, the run scales the budget by B / target: the chunks then hold the
same share of the batch as at `target` games. The figures are tensor bytes: the CUDA
caching allocator's rounding and fragmentation come on top (~10-20%).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.memtrack import LiveBytes, storage_bytes  # noqa: E402
from bench.tables import print_markdown  # noqa: E402
from engine.batched.step import BatchedGames  # noqa: E402

GIB = 2 ** 30
MIB = 2 ** 20


def measure(board: str, n: int, player: str, batch: int, every: int, max_steps: int,
            target: int, seed: int = 1, budget: float | None = None) -> dict:
    """Step B games (to the end, or `max_steps`), measuring every `every`-th step."""
    g = BatchedGames(board, n, batch, player=player, seed=seed)
    g.score_budget = (budget or g.score_budget) * batch / target
    peaks: list[int] = []
    t0 = time.perf_counter()
    while g.active and (not max_steps or g.steps < max_steps):
        if g.steps % every == 0:
            lb = LiveBytes()
            lb.exclude(g.bs.t)
            with lb:
                g.step()
            peaks.append(lb.peak)
        else:
            g.step()
    state = storage_bytes(g.bs.t)
    worst = max(peaks)
    return {"steps": g.steps, "measured": len(peaks), "state": state, "peak": worst,
            "mean_peak": sum(peaks) / len(peaks), "per_game": (state + worst) / batch,
            "finished": g.active == 0, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="square19:2,hexagonal:2")
    ap.add_argument("--players", default="random,heuristic")
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--every", type=int, default=10, help="measure every N-th step")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: play to the end)")
    ap.add_argument("--target", type=int, default=32768, help="batch size to project to")
    ap.add_argument("--gpu-gib", type=float, default=78.0, help="GPU memory to compare with")
    args = ap.parse_args()
    torch.set_num_threads(1)
    header = ("config", "player", "batch", "steps (measured)", "state MiB", "step peak MiB (mean)",
              "MiB per game", f"projected GiB at {args.target:,}", f"share of {args.gpu_gib:.0f} GiB")
    rows = []
    for cfg in args.configs.split(","):
        board, n = cfg.split(":")[0], int(cfg.split(":")[1])
        for player in args.players.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                r = measure(board, n, player, batch, args.every, args.max_steps, args.target)
                proj = r["per_game"] * args.target / GIB
                rows.append((f"{board} {n}p", player, str(batch),
                             f"{r['steps']}{'' if r['finished'] else '+'} ({r['measured']})",
                             f"{r['state'] / MIB:.1f}", f"{r['peak'] / MIB:.0f} ({r['mean_peak'] / MIB:.0f})",
                             f"{r['per_game'] / MIB:.3f}", f"{proj:.1f}", f"{proj / args.gpu_gib:.0%}"))
                print("  ".join(rows[-1]), f"[{r['seconds']:.0f} s]", flush=True)
    print_markdown(header, rows)


if __name__ == "__main__":
    main()
