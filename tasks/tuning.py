"""Fixed-reference CMA-ES and confirmation matches for heuristic profiles (no Prefect in here).

Why a fixed reference: a fitness is a mean score *against something*. Measured against the
config's current best, it changes meaning whenever the best changes, and numbers from two
iterations or two hosts cannot be compared (a profile that once scored 1.0 against a weak best
could never be replaced). So every score here is against one named, fixed `Reference` (by
default the repository's untuned profile of the config), identified by its version and a hash
of its weights: `Reference.id` is what two measurements must share to be compared.

Why a confirmation: during tuning a candidate plays `games_per_candidate` games (tens), and the
best of many such small samples is mostly luck. The winner is the search's distribution mean
(CMA-ES's own noise-robust estimate), re-measured over `confirm_games` on fresh seeds; that
score, with its 95% interval (engine.ratings.score_interval), is the profile's fitness. The
profile's metadata records the reference, the games, every seed, and the score with its CI.

Every match is seat-rotated (each block of `players` games shares one random opening of
`opening_plies` plies, engine.arena), so seat advantage cancels and the games differ. The games
of a block are not independent (an opening that suits one profile tends to suit it from every
seat), so the interval is computed over block means (`block_estimate`), the independent unit,
not over games. (On hex8 2p the two intervals came out nearly equal: 400 games, [0.605, 0.695]
over blocks, [0.603, 0.697] over games; on other boards the correlation may be larger.)
The CMA-ES task (tasks/cmaes.py), profile_sync (tasks/profile_sync.py) and bench/profiles.py
share these functions, so the bench reproduces what the pipeline measures.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cma
import numpy as np

from engine.arena import MatchResult, derive_seed, play_match
from engine.files import write_atomic
from engine.players.profiles import (Profile, load_profile_file, profile_digest, profile_from_vector, profile_path,
                                     save_profile, weights_vector)
from engine.ratings import ScoreEstimate, elo_from_score, score_interval
from infra.pipeline_config import CmaesSettings
from tasks.players import PROFILE, pipeline_player

DEFAULT_REFERENCE = "default"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Reference:
    """The fixed opponent every score is measured against."""

    name: str
    path: Path
    profile: Profile

    @property
    def id(self) -> str:
        """Version and weight hash: equal ids mean the same opponent, whatever the file is called."""
        return f"{self.profile.version}#{profile_digest(self.profile)}"

    @property
    def spec(self) -> str:
        return PROFILE + str(self.path)


def resolve_reference(name: str, board: str, players: int) -> Reference:
    """`default` is the untuned profile of the config (config/profiles, or $RIFT_PROFILES_DIR);
    anything else is the path of a profile file (relative to here, else to the project)."""
    if name == DEFAULT_REFERENCE:
        path = profile_path(board, players)
    else:
        path = Path(name).expanduser()
        if not path.is_absolute() and not path.exists():
            path = PROJECT_ROOT / path
    return Reference(name, path.resolve(), load_profile_file(path))


@dataclass(frozen=True)
class Measurement:
    """A profile's mean score against a reference over seat-rotated games, with its 95% interval."""

    reference: str
    reference_name: str
    games: int
    seed: int
    opening_plies: int
    score: float
    lo: float
    hi: float
    how: str = "match"

    @property
    def elo(self) -> float:
        return elo_from_score(self.score)

    def to_dict(self) -> dict[str, Any]:
        elo = self.elo
        return {"reference": self.reference, "reference_name": self.reference_name, "games": self.games,
                "seed": self.seed, "opening_plies": self.opening_plies, "score": round(self.score, 4),
                "ci95": [round(self.lo, 4), round(self.hi, 4)],
                "elo": None if np.isinf(elo) else round(elo, 1), "how": self.how}

    @classmethod
    def from_dict(cls, d: object) -> Measurement | None:
        """The measurement in a profile's metadata, or None when absent or malformed."""
        try:
            assert isinstance(d, dict)
            lo, hi = d["ci95"]
            return cls(str(d["reference"]), str(d.get("reference_name", "")), int(d["games"]), int(d["seed"]),
                       int(d.get("opening_plies", 0)), float(d["score"]), float(lo), float(hi),
                       str(d.get("how", "match")))
        except (AssertionError, KeyError, TypeError, ValueError):
            return None


def measurement_of(profile: Profile) -> Measurement | None:
    """The confirmed measurement recorded in the profile's metadata, if any."""
    return Measurement.from_dict((profile.metadata or {}).get("confirm"))


def self_measurement(reference: Reference) -> Measurement:
    """The reference against itself: 0.5 by symmetry of seat-rotated games, no games needed."""
    return Measurement(reference.id, reference.name, 0, 0, 0, 0.5, 0.5, 0.5, how="identical to the reference")


def rotation_games(games: int, players: int) -> int:
    """`games` rounded up to whole rotation blocks, so every seat is played equally often."""
    return -(-games // players) * players


def block_estimate(match: MatchResult, entrant: int = 0) -> ScoreEstimate:
    """The entrant's mean score over the match's games, with the 95% interval of the mean of its
    rotation blocks (`num_players` consecutive games sharing an opening): the block, not the
    game, is the independent unit. `games` stays the number of games."""
    s = match.scores(entrant)
    n = match.num_players
    blocks = [float(np.mean(s[i:i + n])) for i in range(0, len(s), n)]
    est = score_interval(blocks)
    return ScoreEstimate(len(s), float(np.mean(s)) if s else 0.5, est.lo, est.hi)


def score_against(board: str, players: int, spec: str, reference: Reference, games: int, seed: int,
                  opening_plies: int, move_cap: int | None) -> ScoreEstimate:
    """Mean score of `spec` (seat 1 of the rotation) against `reference` in every other seat."""
    match = play_match(board, [spec] + [reference.spec] * (players - 1), rotation_games(games, players),
                       seed=seed, workers=1, move_cap=move_cap, opening_plies=opening_plies, factory=pipeline_player)
    return block_estimate(match)


def measure(board: str, players: int, profile_file: str | Path, reference: Reference, games: int, seed: int,
            opening_plies: int, move_cap: int | None, how: str = "match") -> Measurement:
    """Play the profile in `profile_file` against the reference and record the result."""
    est = score_against(board, players, PROFILE + str(profile_file), reference, games, seed, opening_plies, move_cap)
    return Measurement(reference.id, reference.name, est.games, seed, opening_plies, est.score, est.lo, est.hi, how)


@dataclass(frozen=True)
class TuneResult:
    vector: np.ndarray
    fitness: float          # mean score of the last generation's candidates (a population mean, not a max)
    history: list[dict[str, float]]
    seeds: list[int]
    candidates: int
    games: int


Progress = Callable[[dict[str, float]], None]


def tune_weights(board: str, players: int, start: Profile, reference: Reference, settings: CmaesSettings, *,
                 seed: int, move_cap: int | None, work: Path, progress: Progress | None = None) -> TuneResult:
    """CMA-ES from `start`'s weights; a candidate's fitness is its mean score against `reference`.

    All candidates of a generation meet the same seeds (common random numbers: their differences
    are not drowned by which openings each drew); each generation draws new seeds. The step size
    is `sigma0` relative to each weight's magnitude (at least 0.1)."""
    x0 = weights_vector(start)
    es = cma.CMAEvolutionStrategy(x0, settings.sigma0, {
        "popsize": settings.population, "maxiter": settings.generations, "seed": seed % (2**31 - 1) + 1,
        "CMA_stds": np.maximum(np.abs(x0), 0.1), "verbose": -9})
    games = rotation_games(settings.games_per_candidate, players)
    work.mkdir(parents=True, exist_ok=True)
    history, seeds, fits = [], [], [0.5]
    for g in range(settings.generations):
        xs = es.ask()
        gseed = derive_seed("cmaes-games", seed, g)
        seeds.append(gseed)
        fits = []
        for k, x in enumerate(xs):
            path = work / f"g{g}-c{k}.json"
            save_profile(profile_from_vector(x, version=f"candidate-g{g}-c{k}"), path)
            fits.append(score_against(board, players, PROFILE + str(path), reference, games, gseed,
                                      settings.opening_plies, move_cap).score)
            os.unlink(path)
        es.tell(xs, [-f for f in fits])  # cma minimises
        row = {"generation": g, "mean": round(float(np.mean(fits)), 4), "best": round(max(fits), 4),
               "worst": round(min(fits), 4)}
        history.append(row)
        if progress:
            progress(row)
    n = settings.population * len(history)
    return TuneResult(np.array(es.result.xfavorite, dtype=float), float(np.mean(fits)), history, seeds, n, n * games)


def tune_and_confirm(board: str, players: int, start: Profile, reference: Reference, settings: CmaesSettings, *,
                     seed: int, move_cap: int | None, work: Path, version_prefix: str,
                     progress: Progress | None = None) -> Profile:
    """Tune (see `tune_weights`), then re-measure the winner over `confirm_games` on a fresh seed.

    The returned profile's fitness is the confirmed score; its metadata records the reference,
    the tuning (settings, per-generation scores, seeds) and the confirmation (games, seed, score, CI)."""
    result = tune_weights(board, players, start, reference, settings, seed=seed, move_cap=move_cap, work=work,
                          progress=progress)
    draft = profile_from_vector(result.vector, version="draft")
    version = f"{version_prefix}-{profile_digest(draft)}"
    path = work / "tuned.json"
    save_profile(profile_from_vector(result.vector, version=version), path)
    confirm = measure(board, players, path, reference, settings.confirm_games, derive_seed("cmaes-confirm", seed),
                      settings.opening_plies, move_cap, how="confirmation on fresh seeds")
    metadata = {
        "reference": {"name": reference.name, "id": reference.id},
        "tuning": {"start": start.version, "seed": seed, "population": settings.population,
                   "generations": settings.generations, "sigma0": settings.sigma0,
                   "games_per_candidate": rotation_games(settings.games_per_candidate, players),
                   "opening_plies": settings.opening_plies, "candidates": result.candidates, "games": result.games,
                   "fitness": round(result.fitness, 4), "seeds": result.seeds, "history": result.history},
        "confirm": confirm.to_dict(),
    }
    return profile_from_vector(result.vector, version=version, fitness=round(confirm.score, 4), metadata=metadata)


def used_seeds(profile: Profile) -> set[int]:
    """Every match seed recorded in a profile's metadata (tuning and confirmation)."""
    meta = profile.metadata or {}
    seeds = {int(s) for s in (meta.get("tuning") or {}).get("seeds", [])}
    m = measurement_of(profile)
    return seeds | ({m.seed} if m else set())


class MeasurementCache:
    """Measurements already played, in a JSON file keyed by weights, reference and match size,
    so that running profile_sync again re-measures nothing."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            self.data = {}

    @staticmethod
    def key(profile: Profile, reference: Reference, games: int, opening_plies: int) -> str:
        return f"{profile_digest(profile)}|{reference.id}|{games}|{opening_plies}"

    def get(self, key: str) -> Measurement | None:
        return Measurement.from_dict(self.data.get(key))

    def put(self, key: str, m: Measurement) -> None:
        self.data[key] = m.to_dict()
        write_atomic(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")
