"""CMA-ES phase: tune the heuristic's weights against a FIXED reference, then confirm the winner.

The search starts from the config's current best profile (`data/profiles/<board>_<n>p.json`,
kept by profile_sync), else the repository's (`config/profiles/`). Every candidate is scored
against `cmaes.reference` (default: the repository's untuned profile), not against the current
best: a score against a moving opponent means something else every iteration and cannot be
compared across iterations or hosts (tasks/tuning.py says more). A candidate's fitness is its
mean score over `cmaes.games_per_candidate` seat-rotated games with random openings
(`cmaes.opening_plies`); the winner (CMA-ES's distribution mean) is re-measured over
`cmaes.confirm_games` on fresh seeds, and that score with its 95% interval is the profile's
fitness. The metadata records reference, games, seeds, score and interval.

The tuned profile is saved in the artifact store under `profiles/<config>/<host>/i<n>-<hash>.json`
(what profile_sync merges across workers) and locally under `data/pipeline/<config>/`.
Returns the key, the confirmed score with its interval, and counts.
"""
from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

from engine.arena import derive_seed
from engine.players.profiles import Profile, load_profile, load_profile_file, profile_path, profile_to_dict, save_profile
from infra.data_config import DataConfig
from infra.storage import ArtifactStore
from tasks.common import PhaseContext, phase_task, run_phase
from tasks.tuning import resolve_reference, tune_and_confirm

log = logging.getLogger(__name__)

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


def tune(ctx: PhaseContext) -> dict[str, Any]:
    """The phase's work as a plain function: fixed-reference CMA-ES from the best profile, confirmed."""
    cfg = ctx.data()
    c = ctx.settings.cmaes
    base, _ = best_profile(cfg, ctx.board, ctx.players)
    reference = resolve_reference(c.reference, ctx.board, ctx.players)
    host = cfg.source_host or socket.gethostname()
    work = cfg.data_dir / "pipeline" / ctx.config / f"cmaes-i{ctx.iteration}"
    seed = derive_seed("cmaes", ctx.config, ctx.iteration, host)  # two hosts tuning one iteration differ
    tuned = tune_and_confirm(ctx.board, ctx.players, base, reference, c, seed=seed,
                             move_cap=ctx.settings.selfplay.move_cap, work=work,
                             version_prefix=f"cmaes-{ctx.config}-i{ctx.iteration}",
                             progress=lambda row: log.info("cmaes %s generation %s", ctx.config, row))
    save_profile(tuned, work / "best.json")
    key = f"{PROFILES_PREFIX}/{ctx.config}/{host}/i{ctx.iteration}-{tuned.version[-12:]}.json"
    store = ArtifactStore.from_config(cfg)
    try:
        store.write_bytes(key, json.dumps(profile_to_dict(tuned), indent=2).encode())
    finally:
        store.close()
    meta = tuned.metadata or {}
    return {"id": f"profile-{tuned.version}", "key": key, "fitness": tuned.fitness, "version": tuned.version,
            "reference": reference.id, "confirm": meta["confirm"], "tuning_fitness": meta["tuning"]["fitness"],
            "base": base.version, "candidates": meta["tuning"]["candidates"],
            "games": meta["tuning"]["games"] + meta["confirm"]["games"], "generations": meta["tuning"]["history"]}


@phase_task("cmaes")
def cmaes(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """CMA-ES over the heuristic weights against the fixed reference; saves the confirmed profile; returns its key."""
    return run_phase("cmaes", ctx, lambda: tune(ctx))
