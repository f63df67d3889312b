"""Batched self-play throughput (engine/batched) beside the reference engine on one core.

Usage:
  python bench/gpu_selfplay.py [--device auto|cpu|cuda] [--batches 64,256]
                               [--configs square8:2,hex8:2,square19:2,hexagonal:2]
                               [--players random,heuristic] [--seconds 60] [--refill] [--markdown]
                               [--check N] [--check-configs square8:2,hex8:2]

For every configuration, player and batch size it starts B games together and steps
them until all are over, or until the time budget runs out (then games/h is estimated
from moves/s and the mean game length, and marked `~`). The reference figure is
measured in the same run on one CPU core: uniformly random play through
`legal_moves` + `apply_in_place` for the random rows, `engine.players.heuristic`
(a heavier player: one ply over a 20-feature profile evaluation) for the heuristic
rows. `ratio` divides batched games/h by reference games/h. `fallback` is the share
of moves played on the per-game reference fallback (engine/batched/fallback.py).

`--refill` measures sustained play instead: every slot starts a new game as soon as its game
ends (BatchedGames(games=...)), for the whole time budget, and games/h counts the games that
ended; a single batch instead slows down as its last, longest games finish in a near-empty batch.

`--check N` plays N more games per configuration and player (in batches of the
largest batch size) and replays every one through the reference engine
(`engine.batched.check.replay_check`, one process per CPU core), printing the
mismatch count.
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

import torch  # noqa: E402

from engine import apply_in_place, legal_moves, new_game  # noqa: E402
from engine.batched.check import replay_check  # noqa: E402
from engine.batched.step import BatchedGames, pick_device  # noqa: E402
from engine.players.heuristic import HeuristicPlayer  # noqa: E402
from bench.tables import print_markdown  # noqa: E402

DEFAULT_CONFIGS = "square8:2,hex8:2,square19:2,hexagonal:2"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def batched_run(board: str, n: int, batch: int, player: str, device: str, seconds: float,
                seed: int, refill: bool = False) -> dict:
    games = 2**62 if refill else None  # refilling: ended games' slots start new ones all run long
    g = BatchedGames(board, n, batch, player=player, device=device, seed=seed, games=games)
    sync(device)
    t0 = time.perf_counter()
    while g.active and time.perf_counter() - t0 < seconds:
        g.step()
    sync(device)
    if refill:
        dt = time.perf_counter() - t0
        moves, done = g.vec_moves + g.fallback_moves, g.started - g.active
        ended = [s.move_count for s in g.read_out.values()]  # read out at refills (short games first)
        # games/h is counted, not estimated: the games that ended in the time budget. It reads low
        # until several generations of games have passed through the slots (the first games all end
        # late), so a row with fewer than two batches' worth ended is marked `~`.
        return {"moves": moves, "seconds": dt, "done": done, "finished": done >= 2 * batch,
                "moves_per_s": moves / dt, "per_game": sum(ended) / len(ended) if ended else None,
                "games_per_hour": done * 3600 / dt, "fallback": g.fallback_share, "steps": g.steps,
                "fallback_s": g.fallback_seconds}
    dt = time.perf_counter() - t0
    moves = g.vec_moves + g.fallback_moves
    done = batch - g.active
    finished = g.active == 0
    per_game = moves / batch if finished else None
    return {"moves": moves, "seconds": dt, "done": done, "finished": finished,
            "moves_per_s": moves / dt, "per_game": per_game, "fallback": g.fallback_share,
            "steps": g.steps, "fallback_s": g.fallback_seconds}


def reference_run(board: str, n: int, player: str, seconds: float, seed: int) -> dict:
    rng = random.Random(seed)
    heur = [HeuristicPlayer(seed=seed * 10 + p) for p in range(n)] if player == "heuristic" else None
    moves = games = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = new_game(board, n)
        while s.status == "active" and time.perf_counter() - t0 < seconds:
            if heur:
                m = heur[s.current_player - 1].choose(s)
            else:
                ms = legal_moves(s)
                m = ms[rng.randrange(len(ms))]
            apply_in_place(s, m)
            moves += 1
        games += s.status != "active"
    dt = time.perf_counter() - t0
    return {"moves": moves, "games": games, "seconds": dt, "moves_per_s": moves / dt,
            "per_game": moves / games if games else None}


def games_per_hour(moves_per_s: float, per_game: float | None) -> float | None:
    return moves_per_s * 3600 / per_game if per_game else None


def check(board: str, n: int, player: str, games: int, batch: int, device: str) -> tuple[int, int]:
    bad = total = 0
    seed = 10_000
    while total < games:
        b = min(4 * batch, games - total)  # `batch` slots refilled: the path selfplay's records take
        g = BatchedGames(board, n, batch, player=player, device=device, seed=seed, games=b)
        g.play()
        bad += len(replay_check(board, n, g.moves(), g.final_states(), workers=os.cpu_count() or 1))
        total += b
        seed += 1
    return total, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--batches", default="", help="batch sizes (default 1024,8192,32768 on CUDA, 64,256 on CPU)")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS)
    ap.add_argument("--players", default="random,heuristic")
    ap.add_argument("--seconds", type=float, default=60.0, help="time budget per batched run")
    ap.add_argument("--ref-seconds", type=float, default=10.0, help="time budget per reference run")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = one core)")
    ap.add_argument("--refill", action="store_true",
                    help="keep every slot busy (an ended game's slot starts the next one) for the whole "
                         "time budget and count the games that end, instead of one batch played out")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--check", type=int, default=0, help="replay N batched games per config and player")
    ap.add_argument("--check-configs", default="",
                    help="configurations for --check (default: --configs); e.g. square8:2,hex8:2 "
                         "to keep a 100,000-game check off the 600-1,400-move boards")
    args = ap.parse_args()
    device = pick_device(args.device)
    torch.set_num_threads(args.threads)
    cuda = device.startswith("cuda")
    batches = [int(b) for b in (args.batches or ("1024,8192,32768" if cuda else "64,256")).split(",")]
    configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
    players = args.players.split(",")
    dev_name = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} thread(s)"
    print(f"# machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, device {device} ({dev_name})", flush=True)
    header = ("config", "player", "batch", "moves/game", "batched moves/s", "batched games/h",
              "reference moves/s", "reference games/h", "ratio", "fallback")
    rows = []
    for board, n in configs:
        for player in players:
            ref = reference_run(board, n, player, args.ref_seconds, 1)
            for batch in batches:
                try:
                    r = batched_run(board, n, batch, player, device, args.seconds, 1, args.refill)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    rows.append((f"{board} {n}p", player, str(batch), "out of memory") + ("-",) * 6)
                    print("  ".join(rows[-1]), flush=True)
                    continue
                per_game = r["per_game"] or ref["per_game"]
                gph = r.get("games_per_hour") or games_per_hour(r["moves_per_s"], per_game)
                ref_per_game = ref["per_game"] or per_game
                rgph = games_per_hour(ref["moves_per_s"], ref_per_game)
                mark = "" if r["finished"] else "~"
                rmark = "" if ref["per_game"] else "~"
                rows.append((
                    f"{board} {n}p", player, str(batch),
                    f"{mark}{per_game:.0f}" if per_game else "-",
                    f"{r['moves_per_s']:,.0f}", f"{mark}{gph:,.0f}" if gph else "-",
                    f"{ref['moves_per_s']:,.0f}", f"{rmark}{rgph:,.0f}" if rgph else "-",
                    f"{gph / rgph:.1f}" if gph and rgph else "-",
                    f"{100 * r['fallback']:.1f}%",
                ))
                if not args.markdown:
                    print("  ".join(rows[-1]), flush=True)
    if args.markdown:
        print_markdown(header, rows)
    if args.check:
        check_configs = configs
        if args.check_configs:
            check_configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.check_configs.split(",")]
        for board, n in check_configs:
            for player in players:
                total, bad = check(board, n, player, args.check, max(batches), device)
                print(f"check {board} {n}p {player}: {total} games replayed, {bad} mismatches",
                      flush=True)


if __name__ == "__main__":
    main()
