"""The closed loop's stages as plain functions: games in worker processes, samples split by
game, one training step, the gate's decision. bench/learning.py and the pipeline's tasks drive
them; nothing here keeps state between calls (the caller's data folder does).

Why processes: the reference engine and the search are Python, so one process uses one core.
Each worker plays many games at once through its own InferenceServer (threads meet in its
batches), with one torch thread, so `workers` processes fill `workers` cores.

Held-out validation is chosen by game id (a stable hash), never by sample: a position of a
held-out game is never trained on in any iteration, so its loss measures generalisation even
when the parent model trained on the rest of the window.
"""
from __future__ import annotations

import hashlib
import multiprocessing
from functools import lru_cache
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.ratings import Sprt


def is_holdout(game_id: str, every: int = 10) -> bool:
    """True for about one game in `every`, decided by the id alone (stable across runs)."""
    digest = hashlib.blake2b(game_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % every == 0


def split_by_game(records: Sequence[dict], every: int = 10) -> tuple[list[dict], list[dict]]:
    """(training games, held-out games)."""
    train, held = [], []
    for r in records:
        (held if is_holdout(str(r.get("id", "")), every) else train).append(r)
    return train, held


def _teacher_job(board: str, players: int, specs: tuple[str, ...], games: int, seed: int,
                 opening: tuple[int, int], move_cap: int | None) -> list[dict]:
    from engine.nn.selfplay import play_teacher_games
    return play_teacher_games(board, players, specs, games, seed=seed, opening_plies=opening, move_cap=move_cap)


def _neural_job(model: str, board: str, players: int, games: int, seed: int, settings: dict[str, Any]) -> list[dict]:
    import torch

    from engine.nn.evaluator import NeuralEvaluator
    from engine.nn.inference import InferenceConfig, InferenceServer
    from engine.nn.model import load_model
    from engine.nn.selfplay import play_neural_games

    torch.set_num_threads(1)
    net = load_model(model).eval()
    opts = dict(settings)
    concurrency = int(opts.pop("concurrency", 16))
    with InferenceServer(net, InferenceConfig(cpu_bf16=bool(opts.pop("cpu_bf16", False)))) as server:
        return play_neural_games(NeuralEvaluator(server), board, players, games, concurrency=concurrency,
                                 seed=seed, id_prefix=opts.pop("id_prefix", "nn"), **opts)


def _pool(workers: int) -> ProcessPoolExecutor:
    # spawn: the parent has run torch's thread pools (training); forking after that can hang
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _chunks(games: int, workers: int, per_chunk: int) -> list[tuple[int, int]]:
    """(first game index, count) pieces of `games`, small enough to spread over `workers`."""
    size = max(1, min(per_chunk, -(-games // workers)))
    return [(i, min(size, games - i)) for i in range(0, games, size)]


def run_chunks(job: Callable[..., list[dict]], args: Callable[[int, int], tuple], games: int, workers: int,
               per_chunk: int = 64, on_chunk: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Play `games` games as chunks over `workers` processes; `args(first, count)` gives a chunk's
    job arguments. `on_chunk` sees each chunk's records as it finishes (to write them at once)."""
    out: list[dict] = []
    pieces = _chunks(games, workers, per_chunk)
    if workers <= 1:
        for first, count in pieces:
            recs = job(*args(first, count))
            out.extend(recs)
            if on_chunk:
                on_chunk(recs)
        return out
    with _pool(workers) as pool:
        futures = [pool.submit(job, *args(first, count)) for first, count in pieces]
        for f in futures:
            recs = f.result()
            out.extend(recs)
            if on_chunk:
                on_chunk(recs)
    return out


def teacher_games(board: str, players: int, specs: Sequence[str], games: int, *, seed: int, workers: int,
                  opening: tuple[int, int] = (2, 8), move_cap: int | None = None,
                  on_chunk: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Bootstrap games of engine players (their moves as one-hot targets), in `workers` processes."""
    return run_chunks(_teacher_job, lambda first, count: (board, players, tuple(specs), count, seed + first,
                                                          opening, move_cap),
                      games, workers, per_chunk=32, on_chunk=on_chunk)


def neural_games(model: Path | str, board: str, players: int, games: int, *, seed: int, workers: int,
                 settings: dict[str, Any], on_chunk: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Selfplay games of the net at `model` with search (settings: engine.nn.selfplay's
    play_neural_games options, plus `concurrency` games at once per worker and `cpu_bf16`)."""
    per = int(settings.get("concurrency", 16)) * 4
    return run_chunks(_neural_job, lambda first, count: (str(model), board, players, count, seed + first, settings),
                      games, workers, per_chunk=per, on_chunk=on_chunk)


@dataclass(frozen=True)
class GateRule:
    """The gate's decision rule: a truncated SPRT of 'candidate beats best' (H0: elo0, H1: elo1).

    Promote only when the test accepts H1 within `max_games`; a test still undecided at the
    cap is a rejection. Truncation can only lower the false-promotion rate below the SPRT's
    alpha; tests/nn/test_gate_rule.py measures it by simulation over binomial outcomes."""

    elo0: float = 0.0
    elo1: float = 50.0
    alpha: float = 0.05
    beta: float = 0.10
    max_games: int = 120

    @property
    def sprt(self) -> Sprt:
        return Sprt(self.elo0, self.elo1, self.alpha, self.beta)

    def decide(self, results: Sequence[float], block: int = 2) -> tuple[bool, int]:
        """(promote?, games used) for a sequence of candidate results (1 win, 0.5 draw, 0 loss),
        tested after every complete block of `block` games (a seat rotation), as the arena does."""
        wins = draws = losses = 0
        for i, r in enumerate(results[: self.max_games], start=1):
            wins += r == 1.0
            draws += r == 0.5
            losses += r == 0.0
            if i % block == 0:
                decision = _decision(self.elo0, self.elo1, self.alpha, self.beta, wins, draws, losses)
                if decision != "continue":
                    return decision == "H1", i
        return False, min(len(results), self.max_games)


@lru_cache(maxsize=1 << 16)
def _decision(elo0: float, elo1: float, alpha: float, beta: float, wins: int, draws: int, losses: int) -> str:
    return Sprt(elo0, elo1, alpha, beta).test(wins, draws, losses).decision


def gate_error_rates(rule: GateRule, trials: int = 4000, seed: int = 0) -> dict[str, float]:
    """What the rule does at equal strength (false promotions) and at +50 / +100 Elo (power):
    the numbers a gate report states beside its decision."""
    return {"false_promotion": simulate_gate(rule, 0.5, trials, seed),
            "power_50": simulate_gate(rule, p_win_at(50), trials, seed + 1),
            "power_100": simulate_gate(rule, p_win_at(100), trials, seed + 2)}


def simulate_gate(rule: GateRule, p_win: float, trials: int, seed: int = 0) -> float:
    """The share of `trials` simulated gates (decisive games, candidate wins with `p_win`) that promote."""
    import numpy as np

    rng = np.random.default_rng(seed)
    draws = rng.random((trials, rule.max_games)) < p_win
    return sum(rule.decide(row.astype(float).tolist())[0] for row in draws) / trials


def p_win_at(elo: float) -> float:
    """The expected score of a player `elo` points stronger."""
    return 1.0 / (1.0 + 10 ** (-elo / 400.0))


def _train_job(parent: str | None, net: dict[str, Any], shards: str, held: str, board: str, players: int,
               window: int, subset: int, val_window: int, cfg: dict[str, Any], out: str, threads: int) -> dict:
    import numpy as np
    import torch

    from engine.nn.model import NetConfig, build_model, load_model, save_model
    from engine.nn.train import TrainConfig, train_on_samples
    from infra.shards import replay_window

    torch.set_num_threads(threads)
    samples, _ = replay_window(Path(shards), board, players, window)
    if samples is None:
        raise ValueError(f"no training samples for {board} {players}p in {shards}")
    val, _ = replay_window(Path(held), board, players, val_window)
    tc = TrainConfig(**cfg)
    if subset and len(samples) > subset:  # sample reuse is set by the subset, not by the window size
        ids = np.sort(np.random.default_rng(tc.seed).choice(len(samples), subset, replace=False))
        samples = _take(samples, ids)
    model = load_model(parent) if parent else build_model(NetConfig(**net))
    result = train_on_samples(model, samples, tc, val_samples=val)
    save_model(result.model, out)
    return {**result.final, "samples": len(samples), "val_samples": len(val) if val is not None else 0}


def _take(samples: Any, ids: Any) -> Any:
    """Rows `ids` (sorted) of a Samples with a sparse policy (the training batcher's gather)."""
    import numpy as np

    from engine.nn.train import _sparse_batch
    from infra.shards import Samples, SparsePolicy

    pol = samples.policy
    _, indices, probs = _sparse_batch(pol, ids)
    offsets = np.concatenate([[0], np.cumsum(np.diff(pol.offsets)[ids])]).astype(np.int64)
    return Samples(samples.features[ids], SparsePolicy(indices.astype(pol.indices.dtype), probs, offsets),
                   samples.values[ids])


def train_step(parent: str | Path | None, net: dict[str, Any], shards: Path, held: Path, board: str, players: int,
               *, window: int, subset: int, val_window: int, cfg: dict[str, Any], out: Path,
               threads: int = 2) -> dict:
    """Train the parent (or a fresh net of config `net`) on `subset` rows drawn from the newest
    `window` samples, validate on the newest held-out samples, save to `out`. Runs in a spawned
    process, so the caller never starts torch's thread pools and may fork match workers after."""
    with _pool(1) as pool:
        return pool.submit(_train_job, str(parent) if parent else None, net, str(shards), str(held), board,
                           players, window, subset, val_window, cfg, str(out), threads).result()
