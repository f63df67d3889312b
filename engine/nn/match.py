"""Matches of net players with batched inference: the same games as engine.arena.play_match
(seatings, shared block openings, seeds), many at once per process.

Why: a search player on the net evaluates its leaves in small batches (8), one game per process in
the arena; on a CPU that costs ~0.4 s a move for a 4x64 net at 64 simulations, and a 120-game gate
took most of an hour. Here every worker process runs `concurrency` games in threads whose leaf
batches meet in one InferenceServer per model, which is what selfplay already does (about 12x the
evaluations per core on hex8). Entrants are `net:<path>` (MCTS on that model, the `neural` player's
settings) or any engine spec (D3, heuristic...), which play as in the arena.

The SPRT, when given, is applied to the results in game order exactly as play_match applies it
(after each complete seat rotation); games played past its decision are dropped, so the outcome
is the sequential test's, only the compute is spent in waves.
"""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Sequence

from engine.arena import GameResult, MatchResult, derive_seed, play_seated, seating
from engine.ratings import Sprt

NET = "net:"


def _players(specs: Sequence[str], index: int, seed: int, evaluators: dict[str, Any], sims: int,
             search: dict[str, Any]) -> list[Any]:
    from engine.players import make_player
    from engine.players.mcts import MCTSPlayer
    from engine.players.neural import LEAF_BATCH

    gseed = derive_seed(seed, index)
    out = []
    for e in seating(len(specs), index):
        spec, pseed = specs[e], derive_seed(gseed, e)
        if spec.startswith(NET):
            player = MCTSPlayer(pseed, simulations=sims, evaluator=evaluators[spec], **{"batch_size": LEAF_BATCH, **search})
            player.name = "neural"
            out.append(player)
        else:
            out.append(make_player(spec, seed=pseed))
    return out


def _worker(board: str, specs: tuple[str, ...], indices: list[int], seed: int, sims: int, search: dict[str, Any],
            opening_plies: int, move_cap: int | None, concurrency: int) -> list[GameResult]:
    import torch

    from engine.nn.evaluator import NeuralEvaluator
    from engine.nn.inference import InferenceServer
    from engine.nn.model import load_model

    torch.set_num_threads(1)
    servers = {s: InferenceServer(load_model(s[len(NET):]).eval()).start() for s in set(specs) if s.startswith(NET)}
    evaluators = {s: NeuralEvaluator(srv) for s, srv in servers.items()}
    try:
        def one(i: int) -> GameResult:
            players = _players(specs, i, seed, evaluators, sims, search)
            return play_seated(board, specs, i, seed, players, move_cap=move_cap, opening_plies=opening_plies)
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(indices)))) as pool:
            return list(pool.map(one, indices))
    finally:
        for srv in servers.values():
            srv.stop()


def play_net_match(board: str, specs: Sequence[str], games: int, *, seed: int = 0, sims: int = 64,
                   search: dict[str, Any] | None = None, workers: int = 1, concurrency: int = 24,
                   opening_plies: int = 0, move_cap: int | None = None, sprt: Sprt | None = None) -> MatchResult:
    """Up to `games` games between `specs` (module docstring), `workers` processes of `concurrency`
    games each per wave; with `sprt`, stops after the wave in which the sequential test decided."""
    specs = tuple(specs)
    n = len(specs)
    match = MatchResult(board, n, specs)
    t0 = time.perf_counter()
    wave = workers * concurrency
    wave -= wave % n or 0
    wave = max(wave, n)
    ctx = multiprocessing.get_context("spawn")  # workers start torch; never fork a process that has
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        start = 0
        while start < games:
            idx = list(range(start, min(start + wave, games)))
            parts = [idx[w::workers] for w in range(workers) if idx[w::workers]]
            futures = [pool.submit(_worker, board, specs, part, seed, sims, dict(search or {}), opening_plies,
                                   move_cap, concurrency) for part in parts]
            results = sorted((g for f in futures for g in f.result()), key=lambda g: g.index)
            start += len(idx)
            if _extend(match, results, sprt):
                break
    match.seconds = time.perf_counter() - t0
    return match


def _extend(match: MatchResult, results: list[GameResult], sprt: Sprt | None) -> bool:
    """Add results in game order, testing after each seat rotation as play_match does; True once decided."""
    for g in results:
        if match.record(g, sprt):
            return True
    match.conclude(sprt)
    return False


# options of the search that play_net_match gives every net player alike (the rest, such as a
# temperature, only the arena's one-game-per-process players take)
SEARCH_OPTIONS = frozenset({"root", "gumbel_k", "c_puct", "fpu_reduction", "batch_size"})


def net_form(spec: str) -> tuple[str, int, dict[str, Any]] | None:
    """(`net:<model>`, simulations, search options) when `spec` is a search player on a given model
    whose settings play_net_match plays identically but batched (`neural:model=...,sims=N[,root=...]`,
    or a neural ladder tier such as D9 with `model=`); else None."""
    from engine.players import parse_spec
    from engine.players.ladder import TIERS, load_ladder

    name, params = parse_spec(spec)
    if name.upper() in TIERS:
        tier = load_ladder().tiers[name.upper()]
        if not tier.neural:
            return None
        name, params = "neural", {**tier.neural_params, **params}
    search = {k: v for k, v in params.items() if k not in ("model", "sims")}
    if name != "neural" or "model" not in params or set(search) - SEARCH_OPTIONS:
        return None
    sims = int(params.get("sims", 64))
    return (f"{NET}{params['model']}", sims, search) if sims > 0 else None
