"""Profile sync phase: merge the heuristic profiles all workers tuned, keeping the highest fitness per config.

CMA-ES runs (here or on other workers) publish profiles with their fitness under
`profiles/<config>/<host>/...json` in the artifact store. This phase reads them all, compares
them with the config's current best (`data/profiles/<board>_<n>p.json`, else the repository's
profile) and writes the one with the highest fitness there (a profile without fitness ranks
last). Unreadable or invalid files are skipped and counted. Running it again changes nothing.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from engine.players.profiles import ProfileError, profile_from_dict, profile_path, save_profile
from infra.storage import ArtifactStore
from tasks.cmaes import PROFILES_PREFIX, best_profile, local_profiles_dir
from tasks.common import PhaseContext, phase_task, run_phase

log = logging.getLogger(__name__)


def _rank(fitness: float | None) -> float:
    return float("-inf") if fitness is None else fitness


def merge_profiles(ctx: PhaseContext) -> dict[str, Any]:
    """The phase's work as a plain function: pick the highest fitness, write it as the config's best."""
    cfg = ctx.data()
    current, current_path = best_profile(cfg, ctx.board, ctx.players)
    store = ArtifactStore.from_config(cfg)
    try:
        keys = [k for k in store.list_keys(f"{PROFILES_PREFIX}/{ctx.config}") if k.endswith(".json")]
        best, best_key, bad = current, None, 0
        for key in keys:
            try:
                prof = profile_from_dict(json.loads(store.read_bytes(key)), key)
            except (ProfileError, ValueError) as exc:
                log.warning("profile_sync: skipping %s: %s", key, exc)
                bad += 1
                continue
            if _rank(prof.fitness) > _rank(best.fitness):
                best, best_key = prof, key
    finally:
        store.close()
    changed = best_key is not None
    if changed:
        save_profile(best, profile_path(ctx.board, ctx.players, local_profiles_dir(cfg)))
    return {"id": f"profiles-{ctx.config}-{best.version}", "profiles": len(keys), "invalid": bad,
            "best": best.version, "fitness": best.fitness, "changed": changed, "from": best_key or str(current_path)}


@phase_task("profile_sync")
def profile_sync(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Keep the highest-fitness profile per config; returns which one."""
    return run_phase("profile_sync", ctx, lambda: merge_profiles(ctx))
