"""Does the loop learn? From an empty data folder, run the closed loop for a wall-clock budget and
write the learning curve: per iteration games, samples, time, held-out losses, the gate's test,
and each promoted model's score and Elo (95% CI) against the fixed anchors D1, D3, D5, played by
the deployed search player (the D9 budget: MCTS with 64 simulations on the net).

Usage:  python bench/learning.py --data runs/learning [--hours 2] [--workers 2] [--final-games 200]
        python bench/learning.py --data runs/learning --final-only     # only the closing matches

The loop (engine.nn.learning's stages, state in --data, resumable: rerun the same command):
  0. bootstrap: teacher (D5) games after 2-8 random plies, their moves as one-hot targets and the
     teacher's root values as value targets blended with the outcomes (--value-mix); a fresh net
     trained on them becomes the first best model.
  k. selfplay of the best net (Gumbel root, playout caps, random openings; every position a value
     row, its search's root value blended with the outcome), training of a candidate from the best
     on a subset of the replay window, the gate (truncated SPRT, candidate against best at the
     deployed budget), anchored evaluation of a promoted model.
Closing matches (seeds the gate never used): best vs D5, best vs D3, best vs the first model.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.files import write_atomic  # noqa: E402
from engine.nn.learning import GateRule, neural_games, split_by_game, teacher_games, train_step  # noqa: E402
from engine.nn.match import play_net_match  # noqa: E402
from engine.nn.samples import samples_from_games  # noqa: E402
from engine.ratings import elo_from_score  # noqa: E402
from infra.shards import write_shard  # noqa: E402

NET = {"channels": 64, "blocks": 4, "policy_channels": 32, "value_channels": 32, "value_hidden": 128}
# leaf batches of 2: with 8 (virtual loss) a 64-simulation search is 8 steps deep and plays far
# weaker (the bootstrap net: 0.33 against D5 at 8, 0.55 at 1, docs/benchmarks.md); the server's
# batches are filled by many games at once instead
SELFPLAY = {"full_sims": 32, "fast_sims": 8, "full_prob": 0.25, "temperature": 1.0, "concurrency": 24,
            "search": {"root": "gumbel", "batch_size": 2}, "opening_plies": [2, 8]}
SIMS = 64  # the D9 budget: what the reference model deploys with


def _elo(score: float) -> float | None:
    """Elo of a score (None at 0 or 1, where it is infinite: JSON has no infinity)."""
    v = elo_from_score(score)
    return None if math.isinf(v) else round(v, 1)


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class Run:
    """The data folder: ledger.json (what is done), games/, shards/{train,held}/, models/."""

    def __init__(self, root: Path, board: str, players: int):
        self.root, self.board, self.players = root, board, players
        for d in ("games", "shards/train", "shards/held", "models"):
            (root / d).mkdir(parents=True, exist_ok=True)
        self.path = root / "ledger.json"
        self.ledger = json.loads(self.path.read_text()) if self.path.exists() else {
            "board": board, "players": players, "elapsed_s": 0.0, "iterations": [], "best": None,
            "latest": None, "first": None, "commit": os.popen("git rev-parse --short HEAD").read().strip()}

    @property
    def selfplay(self) -> dict:
        """The selfplay settings, fixed for the run when its ledger is made (main)."""
        return self.ledger["selfplay"]

    @property
    def search(self) -> dict:
        """The deployed player's search options, fixed for the run when its ledger is made (main)."""
        return self.ledger["search"]

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.ledger, indent=1).encode())

    def spec(self, model: str) -> str:
        """The deployed player on `model` (engine.nn.match plays it at SIMS simulations, batched)."""
        return f"net:{model}"

    def store_games(self, name: str, records: list[dict], seed: int, value_mix: float) -> tuple[int, int]:
        """Write the games (JSON lines) and their samples, split by game id, as shards; value
        targets blend each outcome with the recorded search values by `value_mix`."""
        lines = "".join(json.dumps(r) + "\n" for r in records)
        write_atomic(self.root / "games" / f"{name}.jsonl", lines.encode())
        counts = []
        for part, recs in zip(("train", "held"), split_by_game(records)):
            s = samples_from_games(recs, seed=seed, value_rows=True, value_mix=value_mix) if recs else None
            if s is not None:
                write_shard(self.root / "shards" / part, self.board, self.players, s, [r["id"] for r in recs])
            counts.append(len(s) if s is not None else 0)
        return counts[0], counts[1]


def anchored(run: Run, model: str, games: dict[str, int], seed: int, workers: int) -> dict:
    """Score, Elo and 95% CIs of the model's search player against each anchor."""
    out = {}
    for anchor, n in games.items():
        m = play_net_match(run.board, [run.spec(model), anchor], n, seed=seed, sims=SIMS, workers=workers,
                           opening_plies=4, search=run.search)
        est = m.score(0)
        out[anchor] = {"games": len(m.games), "score": est.score, "lo": est.lo, "hi": est.hi,
                       "elo": _elo(est.score), "elo_lo": _elo(est.lo),
                       "elo_hi": _elo(est.hi)}
        log(f"  {Path(model).name} vs {anchor}: {est.score:.3f} [{est.lo:.3f}, {est.hi:.3f}] over {len(m.games)}")
    return out


def progress(total: int, label: str):
    """An on_chunk callback logging games done out of `total`."""
    done = [0]

    def seen(recs: list[dict]) -> None:
        done[0] += len(recs)
        log(f"  {label}: {done[0]}/{total} games")
    return seen


def bootstrap(run: Run, a: argparse.Namespace) -> None:
    """Teacher games, then a fresh net trained on them, then its anchored evaluation; each step is
    recorded in the ledger as it ends, so a killed run resumes at the step it was in."""
    b = run.ledger.setdefault("bootstrap", {})
    t0 = time.time()
    if "games" not in b:
        recs = teacher_games(run.board, run.players, [a.teacher], a.bootstrap_games, seed=1_000_000, workers=a.workers,
                             on_chunk=progress(a.bootstrap_games, "bootstrap"))
        n_train, n_held = run.store_games("i000-teacher", recs, seed=0, value_mix=a.value_mix)
        b.update(games=len(recs), samples=n_train, held=n_held, selfplay_s=time.time() - t0)
        log(f"bootstrap: {len(recs)} {a.teacher} games, {n_train} training / {n_held} held-out samples in {b['selfplay_s']:.0f} s")
        step(run, t0)
    out = run.root / "models" / "i000.pt"
    if "train" not in b:
        t1 = time.time()
        b["train"] = train_step(None, {"board_type": run.board, "num_players": run.players, **NET},
                                run.root / "shards/train", run.root / "shards/held", run.board, run.players,
                                window=10**7, subset=0, val_window=10**6, out=out, threads=a.workers,
                                cfg={"epochs": a.bootstrap_epochs, "batch_size": 256, "lr": 2e-3, "seed": 0})
        b["train_s"] = time.time() - t1
        log(f"bootstrap net: {b['train']}")
        step(run, t1)
    t2 = time.time()
    entry = {"iteration": 0, "games": b["games"], "samples": b["samples"], "held": b["held"],
             "selfplay_s": b["selfplay_s"], "train_s": b["train_s"], "train": b["train"], "model": str(out),
             "promoted": True, "gate": None}
    entry["eval"] = anchored(run, str(out), a.anchors, seed=7_000, workers=a.workers)
    run.ledger.update(best=str(out), latest=str(out), first=str(out))
    step(run, t2)
    entry["wall_s"] = b["selfplay_s"] + b["train_s"] + (time.time() - t2) + b.get("resumed_s", 0.0)
    finish(run, entry)


def step(run: Run, t0: float) -> None:
    """Count a finished step's wall time into the budget and save the ledger."""
    run.ledger["elapsed_s"] += time.time() - t0
    run.save()


def finish(run: Run, entry: dict) -> None:
    """Append a finished iteration (its wall time is already counted step by step)."""
    entry["elapsed_s"] = run.ledger["elapsed_s"]
    run.ledger["iterations"].append(entry)
    run.save()


def iteration(run: Run, a: argparse.Namespace, k: int) -> None:
    """Selfplay, training, gate (and anchored evaluation when promoted); each step is recorded in
    ledger["current"] as it ends, so a killed run resumes at the step it was in."""
    cur = run.ledger.get("current") or {}
    if cur.get("iteration") != k:
        cur = {"iteration": k}
    run.ledger["current"] = cur
    best, latest = run.ledger["best"], run.ledger["latest"]
    if "games" not in cur:
        t0 = time.time()
        play = run.selfplay
        settings = {**play, "opening_plies": tuple(play["opening_plies"]), "id_prefix": f"nn-i{k:03d}"}
        recs = neural_games(best, run.board, run.players, a.games, seed=k * 100_000, workers=a.workers,
                            settings=settings, on_chunk=progress(a.games, "selfplay"))
        if a.teacher_games:  # fresh teacher games beside the net's, so the window keeps their share
            recs += teacher_games(run.board, run.players, [a.teacher], a.teacher_games, seed=1_000_000 + k * 10_000,
                                  workers=a.workers, on_chunk=progress(a.teacher_games, "teacher"))
        n_train, n_held = run.store_games(f"i{k:03d}-selfplay", recs, seed=k, value_mix=a.value_mix)
        moves = sum(len(r["moves"]) for r in recs) / max(len(recs), 1)
        cur.update(games=len(recs), samples=n_train, held=n_held, moves_per_game=moves, selfplay_s=time.time() - t0)
        log(f"iteration {k}: {len(recs)} games ({moves:.0f} moves/game, {len(recs) / cur['selfplay_s']:.2f} games/s), "
            f"{n_train} samples")
        step(run, t0)
    out = run.root / "models" / f"i{k:03d}.pt"
    if "train" not in cur:
        t1 = time.time()
        parent = best if a.continue_from == "best" else latest
        cur["train"] = train_step(parent, {}, run.root / "shards/train", run.root / "shards/held", run.board,
                                  run.players, window=a.window, subset=a.subset, val_window=20_000, out=out,
                                  threads=a.workers,
                                  cfg={"epochs": 1, "batch_size": 256, "lr": a.lr, "seed": k, "schedule": "constant"})
        cur["parent"], cur["lr"] = parent, a.lr
        cur["train_s"] = time.time() - t1
        log(f"  trained: val policy {cur['train']['val_policy_loss']:.3f} value {cur['train']['val_value_loss']:.3f}")
        step(run, t1)
    t2 = time.time()
    rule = GateRule(max_games=a.gate_games)
    m = play_net_match(run.board, [run.spec(str(out)), run.spec(best)], rule.max_games, seed=k * 31 + 5, sims=SIMS,
                       workers=a.workers, opening_plies=4, sprt=rule.sprt, search=run.search)
    est = m.score(0)
    promoted = m.sprt is not None and m.sprt.decision == "H1"
    gate = {"games": len(m.games), "score": est.score, "lo": est.lo, "hi": est.hi,
            "sprt": m.sprt.describe() if m.sprt else None, "promoted": promoted}
    log(f"  gate: {est.score:.3f} over {len(m.games)} games, {gate['sprt']} -> {'PROMOTED' if promoted else 'kept'}")
    entry = {**{key: v for key, v in cur.items() if key != "iteration"}, "iteration": k, "model": str(out),
             "promoted": promoted, "gate": gate, "gate_s": time.time() - t2}
    run.ledger["latest"] = str(out)
    if promoted:
        run.ledger["best"] = str(out)
        entry["eval"] = anchored(run, str(out), a.anchors, seed=7_000 + k, workers=a.workers)
    step(run, t2)
    entry["wall_s"] = cur.get("selfplay_s", 0) + cur.get("train_s", 0) + (time.time() - t2) + cur.get("resumed_s", 0)
    run.ledger["current"] = None
    finish(run, entry)


def final(run: Run, a: argparse.Namespace) -> dict:
    """Closing matches on seeds the loop never used."""
    best, first = run.ledger["best"], run.ledger["first"]
    res = {"best": best, "first": first, "matches": {}}
    for name, opp in (("D5", "D5"), ("D3", "D3"), ("first", run.spec(first))):
        if name == "first" and best == first:
            continue
        t = time.time()
        m = play_net_match(run.board, [run.spec(best), opp], a.final_games, seed=900_001 + len(res["matches"]),
                           sims=SIMS, workers=a.workers, opening_plies=4, search=run.search)
        est = m.score(0)
        res["matches"][name] = {"games": len(m.games), "distinct": m.distinct_games, "score": est.score,
                                "lo": est.lo, "hi": est.hi, "elo": _elo(est.score),
                                "seconds": time.time() - t}
        log(f"final: best vs {name}: {est.score:.3f} [{est.lo:.3f}, {est.hi:.3f}] over {len(m.games)} "
            f"({m.distinct_games} distinct)")
    run.ledger["final"] = res
    run.save()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("runs/learning"))
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--hours", type=float, default=2.0, help="wall-clock budget of the loop (summed over resumes)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--bootstrap-games", type=int, default=1600)
    ap.add_argument("--bootstrap-epochs", type=int, default=3)
    ap.add_argument("--teacher", default="D5", help="the ladder tier whose games bootstrap the first net")
    ap.add_argument("--games", type=int, default=256, help="selfplay games per iteration")
    ap.add_argument("--selfplay", default="{}",
                    help='JSON overriding the selfplay settings, e.g. \'{"full_sims": 64, "search": {"root": "puct"}}\'')
    ap.add_argument("--teacher-games", type=int, default=0, help="teacher games added to each iteration's selfplay")
    ap.add_argument("--window", type=int, default=200_000)
    ap.add_argument("--subset", type=int, default=80_000, help="rows trained per iteration")
    ap.add_argument("--lr", type=float, default=1.5e-4)
    ap.add_argument("--value-mix", type=float, default=0.0,
                    help="value target = (1 - mix) * outcome + mix * the search's value of the position")
    ap.add_argument("--search-batch", type=int, default=1,
                    help="leaf batch of the deployed player's search (gate, anchors, closing matches)")
    ap.add_argument("--search", default="{}",
                    help='JSON of further options of the deployed player\'s search, e.g. \'{"c_puct": 1.0}\'')
    ap.add_argument("--continue-from", choices=["best", "latest"], default="best",
                    help="the parent of each candidate: the best model, or the newest (promoted or not)")
    ap.add_argument("--gate-games", type=int, default=120)
    ap.add_argument("--final-games", type=int, default=200)
    ap.add_argument("--anchor-games", default="D1=10,D3=40,D5=40",
                    help="games against each fixed anchor for every promoted model during the loop")
    ap.add_argument("--final-only", action="store_true")
    a = ap.parse_args()
    a.anchors = {k: int(v) for k, v in (p.split("=") for p in a.anchor_games.split(","))}
    # every worker process is spawned: match workers forked from this process hung (0% CPU) after
    # the spawned selfplay and training pools had run in it
    multiprocessing.set_start_method("spawn")
    # one OpenMP thread per worker process: two workers with torch's default two threads each
    # oversubscribe two cores and spin (a 64-simulation net move took seconds instead of ~0.2 s)
    os.environ["OMP_NUM_THREADS"] = "1"
    run = Run(a.data, a.board, a.players)
    run.ledger.setdefault("search", {"batch_size": a.search_batch, **json.loads(a.search)})
    run.ledger.setdefault("selfplay", {**SELFPLAY, **json.loads(a.selfplay)})
    run.ledger.setdefault("settings", {k: v for k, v in vars(a).items() if isinstance(v, (int, float, str))})
    if not a.final_only:
        if not run.ledger["iterations"]:
            bootstrap(run, a)
        while run.ledger["elapsed_s"] < a.hours * 3600:
            iteration(run, a, len(run.ledger["iterations"]))
        log(f"loop budget spent: {run.ledger['elapsed_s'] / 3600:.2f} h over {len(run.ledger['iterations'])} iterations")
    final(run, a)
    from bench.learning_report import write_report
    write_report(run.root, run.ledger)


if __name__ == "__main__":
    main()
