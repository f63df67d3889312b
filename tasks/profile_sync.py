"""Profile sync phase: merge the heuristic profiles all workers tuned, keeping the best per config.

CMA-ES runs (here or on other workers) publish profiles under `profiles/<config>/<host>/...json`
in the artifact store, each with a confirmed measurement in its metadata: a mean score with a
95% interval against a named reference (tasks/tuning.py). Scores are only compared when both
were measured against the same reference (`Reference.id`: its version and weight hash), the
config's `cmaes.reference`; a score against another opponent is a number on another scale.

So for each profile (the current best, `data/profiles/<board>_<n>p.json` else the repository's,
and every published one):
- measured against the configured reference: its recorded score is used;
- identical in weights to the reference: 0.5, by symmetry, without games;
- otherwise (another reference, or no measurement at all, as with files from before this rule):
  with `cmaes.remeasure` it is re-measured here over `cmaes.confirm_games` seat-rotated games on
  a seed derived from its weights and the reference (the result is cached in
  `data/pipeline/<config>/measurements.json`, so running the phase again plays nothing);
  without it, it is refused, and the reason names both references.
A challenger replaces the current best only with a strictly higher score (ties keep the current
best), so a profile at 1.0 is replaced by a better one once both are measured on the same scale.
Unreadable or invalid files are skipped and counted. Running it again changes nothing.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from engine.arena import derive_seed
from engine.players.profiles import (Profile, ProfileError, profile_digest, profile_from_dict, profile_path,
                                     save_profile)
from infra.storage import ArtifactStore
from tasks.cmaes import PROFILES_PREFIX, best_profile, local_profiles_dir
from tasks.common import PhaseContext, phase_task, run_phase
from tasks.tuning import (Measurement, MeasurementCache, Reference, measure, measurement_of, resolve_reference,
                          rotation_games, self_measurement)

log = logging.getLogger(__name__)


class Judge:
    """The comparable score of a profile against the configured reference (see the module docstring)."""

    def __init__(self, ctx: PhaseContext, reference: Reference):
        self.ctx, self.reference = ctx, reference
        self.settings = ctx.settings.cmaes
        self.work = ctx.data().data_dir / "pipeline" / ctx.config
        self.cache = MeasurementCache(self.work / "measurements.json")
        self.remeasured = 0

    def score(self, profile: Profile) -> tuple[Measurement | None, str]:
        """(measurement against the reference, '') or (None, why it cannot be compared)."""
        ref = self.reference
        recorded = measurement_of(profile)
        if recorded is not None and recorded.reference == ref.id:
            return recorded, ""
        if profile_digest(profile) == profile_digest(ref.profile):
            return self_measurement(ref), ""
        was = (f"measured against reference {recorded.reference!r} ({recorded.reference_name})"
               if recorded else "has no confirmed measurement (fitness "
               f"{profile.fitness} against an unrecorded reference)")
        if not self.settings.remeasure:
            return None, (f"{profile.source} (version {profile.version}) {was}, but this config compares "
                          f"against {ref.id!r} ({ref.name}): the scores are not comparable "
                          f"(cmaes.remeasure: true re-measures it)")
        c, n = self.settings, self.ctx.players
        games = rotation_games(c.confirm_games, n)
        key = MeasurementCache.key(profile, ref, games, c.opening_plies)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, ""
        path = self.work / "remeasure" / f"{profile_digest(profile)}.json"
        save_profile(profile, path)
        seed = derive_seed("profile-sync-remeasure", self.ctx.config, profile_digest(profile), ref.id)
        m = measure(self.ctx.board, n, path, ref, games, seed, c.opening_plies, self.ctx.settings.selfplay.move_cap,
                    how=f"re-measured by profile_sync ({was})")
        log.info("profile_sync: re-measured %s against %s: %.3f [%.3f, %.3f] over %d games",
                 profile.version, ref.id, m.score, m.lo, m.hi, m.games)
        self.cache.put(key, m)
        self.remeasured += 1
        return m, ""


def with_measurement(profile: Profile, m: Measurement, reference: Reference) -> Profile:
    """The profile carrying `m` as its confirmed measurement (and fitness); an earlier one is kept aside."""
    meta = dict(profile.metadata or {})
    if measurement_of(profile) != m:
        if "confirm" in meta:
            meta["previous_confirm"] = meta["confirm"]
        meta["confirm"] = m.to_dict()
        meta["reference"] = {"name": reference.name, "id": reference.id}
    return Profile(weights=profile.weights, version=profile.version, fitness=round(m.score, 4),
                   source=profile.source, metadata=meta)


def merge_profiles(ctx: PhaseContext) -> dict[str, Any]:
    """The phase's work as a plain function: keep the best comparable score, write it as the config's best."""
    cfg = ctx.data()
    reference = resolve_reference(ctx.settings.cmaes.reference, ctx.board, ctx.players)
    judge = Judge(ctx, reference)
    current, current_path = best_profile(cfg, ctx.board, ctx.players)
    best, best_key = current, None
    best_m, why = judge.score(current)
    refused: list[dict[str, str]] = []
    if best_m is None:
        refused.append({"profile": str(current_path), "reason": why})
    store = ArtifactStore.from_config(cfg)
    try:
        keys = [k for k in store.list_keys(f"{PROFILES_PREFIX}/{ctx.config}") if k.endswith(".json")]
        bad = 0
        for key in sorted(keys):
            try:
                prof = profile_from_dict(json.loads(store.read_bytes(key)), key)
            except (ProfileError, ValueError) as exc:
                log.warning("profile_sync: skipping %s: %s", key, exc)
                bad += 1
                continue
            m, why = judge.score(prof)
            if m is None:
                refused.append({"profile": key, "reason": why})
                log.warning("profile_sync: not comparing %s", why)
            elif best_m is None:
                refused.append({"profile": key, "reason": f"the current best {current_path} cannot be compared "
                                                          f"with it against {reference.id!r}"})
            elif m.score > best_m.score:  # ties keep the current best
                best, best_m, best_key = prof, m, key
    finally:
        store.close()
    changed = best_key is not None
    if changed:
        save_profile(with_measurement(best, best_m, reference), profile_path(ctx.board, ctx.players,
                                                                            local_profiles_dir(cfg)))
    return {"id": f"profiles-{ctx.config}-{best.version}", "profiles": len(keys), "invalid": bad,
            "refused": refused, "remeasured": judge.remeasured, "reference": reference.id,
            "best": best.version, "fitness": None if best_m is None else round(best_m.score, 4),
            "ci95": None if best_m is None else [round(best_m.lo, 4), round(best_m.hi, 4)],
            "changed": changed, "from": best_key or str(current_path)}


@phase_task("profile_sync")
def profile_sync(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Keep the best profile per config, comparing only scores against the same reference; returns which."""
    return run_phase("profile_sync", ctx, lambda: merge_profiles(ctx))
