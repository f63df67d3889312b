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

On CUDA a batch whose estimated step memory (`engine.batched.memory`) exceeds 80% of
the free GPU memory is played as sub-batches stepped in turn (each
step of every sub-batch before the next round), which keeps every game advancing as in one
batch; a note says so and the batch column shows it (`32768 (2x16384)`). An out-of-memory
error halves the sub-batch and runs the row again, with a note.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# A step's tensors change size from step to step (subsets of games in each phase): growable
# segments keep the CUDA caching allocator from fragmenting at 32k-game batches. Read when
# CUDA first allocates; no effect on the CPU.
if "PYTORCH_ALLOC_CONF" not in os.environ and "PYTORCH_CUDA_ALLOC_CONF" not in os.environ:
    os.environ["PYTORCH_ALLOC_CONF"] = "expandable_segments:True"

import torch  # noqa: E402

from engine import apply_in_place, legal_moves, new_game  # noqa: E402
from engine.batched import memory  # noqa: E402
from engine.batched.check import replay_check  # noqa: E402
from engine.batched.records import RUN_BATCHES  # noqa: E402
from engine.batched.step import BatchedGames, pick_device  # noqa: E402
from engine.players.heuristic import HeuristicPlayer  # noqa: E402
from bench.tables import print_markdown  # noqa: E402

DEFAULT_CONFIGS = "square8:2,hex8:2,square19:2,hexagonal:2"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def batched_run(board: str, n: int, batch: int, player: str, device: str, seconds: float,
                seed: int, most: int | None = None, refill: bool = False) -> dict:
    """B games stepped until all are over or `seconds` have passed; as sub-batches of at most
    `most` games, each stepped in turn, when B is larger. With `refill` every slot starts a new
    game when its game ends, for the whole time budget."""
    sizes = memory.split(batch, most)
    endless = 2**62 if refill else None
    games = [BatchedGames(board, n, b, player=player, device=device, seed=seed + 100_003 * i, games=endless)
             for i, b in enumerate(sizes)]
    sync(device)
    t0 = time.perf_counter()
    live = list(games)
    while live and time.perf_counter() - t0 < seconds:
        for g in live:
            g.step()
        live = [g for g in live if g.active]
    sync(device)
    dt = time.perf_counter() - t0
    vec = sum(g.vec_moves for g in games)
    fb = sum(g.fallback_moves for g in games)
    moves = vec + fb
    active = sum(g.active for g in games)
    done = sum(g.started for g in games) - active
    out = {"moves": moves, "seconds": dt, "done": done, "finished": active == 0,
           "moves_per_s": moves / dt, "per_game": moves / batch if active == 0 else None,
           "fallback": fb / moves if moves else 0.0, "steps": max(g.steps for g in games),
           "fallback_s": sum(g.fallback_seconds for g in games), "sizes": sizes}
    if refill:
        # games/h is counted, not estimated: the games that ended in the time budget. It reads low
        # until several generations of games have passed through the slots (the first games all end
        # late), so a row with fewer than two batches' worth ended is marked `~`. moves/game is the
        # mean of the games read out at refills (short games end first).
        ended = [s.move_count for g in games for s in g.read_out.values()]
        out.update(finished=done >= 2 * batch, per_game=sum(ended) / len(ended) if ended else None,
                   games_per_hour=done * 3600 / dt)
    return out


class NoFit(RuntimeError):
    """Out of GPU memory even in the smallest sub-batches."""


def fitted_run(board: str, n: int, batch: int, player: str, device: str, seconds: float,
               seed: int, most: int | None, refill: bool = False) -> tuple[dict, int | None]:
    """`batched_run`, halving the sub-batch after an out-of-memory error (with a note);
    returns the result and the sub-batch size that ran."""
    while True:
        try:
            return batched_run(board, n, batch, player, device, seconds, seed, most, refill), most
        except torch.cuda.OutOfMemoryError:
            pass
        # Freed here, outside the except block, whose traceback still held the games' tensors.
        gc.collect()
        torch.cuda.empty_cache()
        most = min(most or batch, batch) // 2
        if most < 64:
            raise NoFit(f"{board} {n}p {player}: out of GPU memory even at 64 games a step")
        print(f"note: {board} {n}p {player} batch {batch}: out of GPU memory; running again as "
              f"sub-batches of at most {most}", flush=True)


def fit_note(board: str, n: int, player: str, batch: int, most: int | None) -> None:
    if most is not None and batch > most:
        est = memory.step_bytes(board, n, batch, player) / 2 ** 30
        if not torch.cuda.is_available():
            print(f"note: {board} {n}p {player} batch {batch}: played as sub-batches of at most {most}",
                  flush=True)
            return
        parts = memory.split(batch, most)
        print(f"note: {board} {n}p {player} batch {batch}: one step of all {batch} games would take "
              f"~{est:.0f} GiB (estimate, engine/batched/memory.py), more than the "
              f"{memory.BUDGET_FRACTION:.0%} of free GPU memory allowed; played as {len(parts)} "
              f"sub-batches of {max(parts)} stepped in turn", flush=True)


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


def check(board: str, n: int, player: str, games: int, batch: int, device: str,
          most: int | None = None) -> tuple[int, int]:
    bad = total = 0
    seed = 10_000
    batch = min(batch, most) if most else memory.fitted_batch(board, n, batch, device, player)
    while total < games:
        b = min(RUN_BATCHES * batch, games - total)  # `batch` slots refilled, as selfplay's records play
        g = BatchedGames(board, n, batch, player=player, device=device, seed=seed, games=b)
        g.play()
        bad += len(replay_check(board, n, g.moves(), g.final_states(), workers=os.cpu_count() or 1))
        total += b
        seed += 1
    return total, bad


def parse_configs(text: str) -> list[tuple[str, int]]:
    """"square8:2,hex8:2" -> [("square8", 2), ("hex8", 2)]."""
    return [(board, int(n)) for board, n in (c.split(":") for c in text.split(","))]


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
    ap.add_argument("--sub-batch", type=int, default=0,
                    help="at most N games per sub-batch (default: what fits the GPU memory; no limit on CPU)")
    args = ap.parse_args()
    device = pick_device(args.device)
    torch.set_num_threads(args.threads)
    cuda = device.startswith("cuda")
    batches = [int(b) for b in (args.batches or ("1024,8192,32768" if cuda else "64,256")).split(",")]
    configs = parse_configs(args.configs)
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
                most = args.sub_batch or memory.games_that_fit(board, n, memory.device_budget(device), player)
                fit_note(board, n, player, batch, most)
                try:
                    r, most = fitted_run(board, n, batch, player, device, args.seconds, 1, most, args.refill)
                except NoFit as exc:
                    print(f"note: {exc}", flush=True)
                    rows.append((f"{board} {n}p", player, str(batch), "out of memory") + ("-",) * 6)
                    continue
                parts = r["sizes"]
                shown = str(batch) if len(parts) == 1 else f"{batch} ({len(parts)}x{max(parts)})"
                per_game = r["per_game"] or ref["per_game"]
                gph = r.get("games_per_hour") or games_per_hour(r["moves_per_s"], per_game)
                ref_per_game = ref["per_game"] or per_game
                rgph = games_per_hour(ref["moves_per_s"], ref_per_game)
                mark = "" if r["finished"] else "~"
                rmark = "" if ref["per_game"] else "~"
                rows.append((
                    f"{board} {n}p", player, shown,
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
        for board, n in parse_configs(args.check_configs) if args.check_configs else configs:
            for player in players:
                total, bad = check(board, n, player, args.check, max(batches), device, args.sub_batch or None)
                print(f"check {board} {n}p {player}: {total} games replayed, {bad} mismatches",
                      flush=True)


if __name__ == "__main__":
    main()
