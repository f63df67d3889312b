"""Heuristic weight profiles: one JSON file per board and player count.

`config/profiles/<board>_<n>p.json` holds `{"version", "fitness", "weights": {name: value}}`
with exactly one weight per feature in `FEATURE_NAMES`, and optionally `"metadata"`: how a tuned
profile was measured (tasks/tuning.py: reference, games, seeds, score with its interval), so a
fitness is never read without knowing what it was measured against. A file with a missing or unknown
weight is refused, naming the file and the weight: a silently defaulted weight would make a
CMA-ES run tune something other than what it thinks it tunes.

CMA-ES works on flat vectors, so `weights_vector` / `profile_from_vector` convert between a
profile and a vector in `FEATURE_NAMES` order.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.files import write_atomic
from engine.geometry import BOARD_TYPES
from engine.players.features import FEATURE_NAMES

PROFILES_ENV = "RIFT_PROFILES_DIR"


class ProfileError(ValueError):
    """A profile file that cannot be used, with the file and the reason in the message."""


@dataclass(frozen=True)
class Profile:
    """Weights of the heuristic evaluation, with the version and fitness of their tuning."""

    weights: dict[str, float]
    version: str = "default"
    fitness: float | None = None
    source: str = field(default="<memory>", compare=False)
    metadata: dict | None = field(default=None, compare=False)

    def vector(self) -> list[float]:
        return [self.weights[k] for k in FEATURE_NAMES]


def profiles_dir() -> Path:
    """`$RIFT_PROFILES_DIR`, else the repository's `config/profiles`."""
    env = os.environ.get(PROFILES_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "config" / "profiles"


def profile_path(board: str, num_players: int, directory: Path | None = None) -> Path:
    return (directory or profiles_dir()) / f"{board}_{num_players}p.json"


def validate_weights(weights: object, source: str) -> dict[str, float]:
    """The weights as floats, or ProfileError naming `source` and the offending weight."""
    if not isinstance(weights, dict):
        raise ProfileError(f"{source}: 'weights' must be an object of feature name -> number")
    unknown = sorted(set(weights) - set(FEATURE_NAMES))
    if unknown:
        raise ProfileError(
            f"{source}: unknown weight {unknown[0]!r} (known features: {', '.join(FEATURE_NAMES)})"
        )
    missing = [k for k in FEATURE_NAMES if k not in weights]
    if missing:
        raise ProfileError(f"{source}: missing weight {missing[0]!r}")
    out = {}
    for k in FEATURE_NAMES:
        v = weights[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ProfileError(f"{source}: weight {k!r} must be a finite number, got {v!r}")
        out[k] = float(v)
    return out


def profile_from_dict(d: object, source: str = "<memory>") -> Profile:
    if not isinstance(d, dict):
        raise ProfileError(f"{source}: a profile must be a JSON object")
    extra = sorted(set(d) - {"version", "fitness", "weights", "metadata"})
    if extra:
        raise ProfileError(f"{source}: unknown field {extra[0]!r} (expected version, fitness, weights, metadata)")
    metadata = d.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ProfileError(f"{source}: 'metadata' must be an object or null")
    if "weights" not in d:
        raise ProfileError(f"{source}: missing field 'weights'")
    fitness = d.get("fitness")
    if fitness is not None and (isinstance(fitness, bool) or not isinstance(fitness, (int, float))):
        raise ProfileError(f"{source}: 'fitness' must be a number or null, got {fitness!r}")
    return Profile(
        weights=validate_weights(d["weights"], source),
        version=str(d.get("version", "unversioned")),
        fitness=None if fitness is None else float(fitness),
        source=source,
        metadata=metadata,
    )


def load_profile_file(path: str | Path) -> Profile:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except json.JSONDecodeError as e:
        raise ProfileError(f"{path}: not valid JSON ({e})") from None
    return profile_from_dict(d, str(path))


_CACHE: dict[tuple[str, int, str], Profile] = {}


def load_profile(board: str, num_players: int, directory: Path | None = None) -> Profile:
    """The profile for a board and player count (cached per file path)."""
    if board not in BOARD_TYPES:
        raise ProfileError(f"unknown board {board!r}: expected one of {', '.join(BOARD_TYPES)}")
    path = profile_path(board, num_players, directory)
    key = (board, num_players, str(path))
    p = _CACHE.get(key)
    if p is None:
        p = _CACHE[key] = load_profile_file(path)
    return p


def weights_vector(profile: Profile) -> np.ndarray:
    """The weights as a flat vector in `FEATURE_NAMES` order (what CMA-ES tunes)."""
    return np.array(profile.vector(), dtype=float)


def profile_from_vector(
    vector: "np.ndarray | list[float]", *, version: str = "tuned", fitness: float | None = None,
    metadata: dict | None = None,
) -> Profile:
    v = [float(x) for x in vector]
    if len(v) != len(FEATURE_NAMES):
        raise ProfileError(f"a weight vector needs {len(FEATURE_NAMES)} values, got {len(v)}")
    return Profile(weights=dict(zip(FEATURE_NAMES, v)), version=version, fitness=fitness, metadata=metadata)


def profile_to_dict(profile: Profile) -> dict:
    d = {"version": profile.version, "fitness": profile.fitness, "weights": dict(profile.weights)}
    if profile.metadata is not None:
        d["metadata"] = profile.metadata
    return d


def profile_digest(profile: Profile) -> str:
    """A short hash of the weights alone (not version or fitness): two files with this digest play
    the same heuristic, so a measurement of one is a measurement of the other."""
    blob = json.dumps([round(w, 9) for w in profile.vector()]).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write the profile atomically (a reader never sees half a file), creating the folder."""
    write_atomic(path, json.dumps(profile_to_dict(profile), indent=2) + "\n")
