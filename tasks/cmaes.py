"""CMA-ES phase: tune the heuristic's weights against the current best profile.

The starting point is the config's current best profile (`data/profiles/<board>_<n>p.json`,
kept by profile_sync), else the repository's (`config/profiles/`). CMA-ES (the `cma` package)
samples `cmaes.population` weight vectors per generation for `cmaes.generations` generations,
step size `cmaes.sigma0` relative to each weight's magnitude. A candidate's fitness is its mean
score (win 1, draw 0.5, loss 0; finishing rank for 3-4 players) against the best profile over
`cmaes.games_per_candidate` seat-rotated games (engine.arena); every candidate of a generation
meets the same seeds, so they are compared on the same games.

The best candidate seen is saved with its fitness in the artifact store under
`profiles/<config>/<host>/i<n>-<hash>.json` (what profile_sync merges across workers) and
locally under `data/pipeline/<config>/`. Returns the key, fitness and counts.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import cma
import numpy as np

from engine.arena import derive_seed, play_match
from engine.players.profiles import (Profile, load_profile, load_profile_file, profile_from_vector, profile_path,
                                     profile_to_dict, save_profile, weights_vector)
from infra.data_config import DataConfig
from infra.storage import ArtifactStore
from tasks.common import PhaseContext, phase_task, run_phase, short_hash
from tasks.players import PROFILE, pipeline_player

PROFILES_PREFIX = "profiles"


def local_profiles_dir(cfg: DataConfig) -> Path:
    """Where profile_sync keeps the best profile per config (`<board>_<n>p.json`)."""
    return cfg.data_dir / "profiles"


def synced_profile_path(cfg: DataConfig, board: str, players: int) -> Path | None:
    """The file of the config's best profile as profile_sync keeps it, if there is one yet."""
    synced = profile_path(board, players, local_profiles_dir(cfg))
    return synced if synced.exists() else None


def best_profile(cfg: DataConfig, board: str, players: int) -> tuple[Profile, Path]:
    """The current best profile of a config and its file: the synced one, else the repository's."""
    synced = synced_profile_path(cfg, board, players)
    if synced is not None:
        return load_profile_file(synced), synced
    profile = load_profile(board, players)
    return profile, Path(profile.source)


def match_score(board: str, players: int, spec: str, reference: str, games: int, seed: int,
                move_cap: int | None) -> float:
    """Mean score of `spec` against `reference` (filling the other seats) over seat-rotated games."""
    specs = [spec] + [reference] * (players - 1)
    match = play_match(board, specs, games, seed=seed, workers=1, move_cap=move_cap, opening_plies=2,
                       factory=pipeline_player)
    return float(match.score(0).score)


def tune(ctx: PhaseContext) -> dict[str, Any]:
    """The phase's work as a plain function: CMA-ES against the best profile; saves the best candidate."""
    cfg = ctx.data()
    c = ctx.settings.cmaes
    base, base_path = best_profile(cfg, ctx.board, ctx.players)
    work = cfg.data_dir / "pipeline" / ctx.config / f"cmaes-i{ctx.iteration}"
    work.mkdir(parents=True, exist_ok=True)
    x0 = weights_vector(base)
    stds = np.maximum(np.abs(x0), 0.1)
    seed = derive_seed("cmaes", ctx.config, ctx.iteration) % (2**31 - 1) + 1
    es = cma.CMAEvolutionStrategy(x0, c.sigma0, {"popsize": c.population, "maxiter": c.generations, "seed": seed,
                                                 "CMA_stds": stds, "verbose": -9})
    reference = PROFILE + str(base_path)
    best_x, best_fit, evaluated, history = x0, float("-inf"), 0, []
    for g in range(c.generations):
        xs = es.ask()
        games_seed = derive_seed("cmaes-games", ctx.config, ctx.iteration, g)
        fits = []
        for k, x in enumerate(xs):
            path = work / f"g{g}-c{k}.json"
            save_profile(profile_from_vector(x, version=f"cmaes-{ctx.config}-i{ctx.iteration}-g{g}-c{k}"), path)
            fit = match_score(ctx.board, ctx.players, PROFILE + str(path), reference, c.games_per_candidate,
                              games_seed, ctx.settings.selfplay.move_cap)
            fits.append(fit)
            evaluated += 1
            if fit > best_fit:
                best_x, best_fit = np.array(x), fit
        es.tell(xs, [-f for f in fits])  # cma minimises
        history.append({"generation": g, "best": round(max(fits), 4), "mean": round(float(np.mean(fits)), 4)})
    version = f"cmaes-{ctx.config}-i{ctx.iteration}-{short_hash(*np.round(best_x, 6))}"
    tuned = profile_from_vector(best_x, version=version, fitness=round(best_fit, 4))
    local = work / "best.json"
    save_profile(tuned, local)
    key = f"{PROFILES_PREFIX}/{ctx.config}/{cfg.source_host or socket.gethostname()}/i{ctx.iteration}-{version[-12:]}.json"
    store = ArtifactStore.from_config(cfg)
    try:
        store.write_bytes(key, json.dumps(profile_to_dict(tuned), indent=2).encode())
    finally:
        store.close()
    for leftover in work.glob("g*-c*.json"):
        os.unlink(leftover)
    return {"id": f"profile-{version}", "key": key, "fitness": tuned.fitness, "version": version,
            "base": base.version, "base_fitness": base.fitness, "candidates": evaluated,
            "games": evaluated * c.games_per_candidate, "generations": history}


@phase_task("cmaes")
def cmaes(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """CMA-ES over the heuristic weights; saves the best profile with its fitness; returns its key."""
    return run_phase("cmaes", ctx, lambda: tune(ctx))
