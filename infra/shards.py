"""Training samples as compressed NPZ shards with a manifest, and the replay window over them.

The engine's encoder (issue 5) turns positions into arrays; this module only
stores what it is given: `features` (N, ...), policy targets (dense (N, P), or
sparse (index, probability) pairs per sample) and `values` (N, players), for one
board configuration. Each shard `data/shards/<config>/<seq>-<id>.npz` is written
to a temporary name, fsynced and renamed, then its manifest `<same>.json`
(config, count, source game ids, created-at, sha256 of the shard) the same way.

Reading verifies the sha256: a truncated or damaged shard is skipped with a
warning naming the file (training continues on the others), or raises a
`CorruptDataError` that says what to do when asked to load that shard directly.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from infra.data_config import config_key
from infra.errors import CorruptDataError
from infra.journal import fsync_dir

log = logging.getLogger(__name__)


@dataclass
class SparsePolicy:
    """Per-sample (move index, probability) pairs in CSR form: sample i owns [offsets[i], offsets[i+1])."""

    indices: np.ndarray  # int32, total pairs
    probs: np.ndarray    # float32, total pairs
    offsets: np.ndarray  # int64, N + 1

    @classmethod
    def from_pairs(cls, pairs: Sequence[Sequence[tuple[int, float]]]) -> SparsePolicy:
        offsets = np.zeros(len(pairs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in pairs])
        flat = [pair for sample in pairs for pair in sample]
        return cls(np.array([i for i, _ in flat], dtype=np.int32), np.array([p for _, p in flat], dtype=np.float32),
                   offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def slice(self, start: int, stop: int) -> SparsePolicy:
        a, b = self.offsets[start], self.offsets[stop]
        return SparsePolicy(self.indices[a:b], self.probs[a:b], self.offsets[start:stop + 1] - a)

    def to_dense(self, size: int) -> np.ndarray:
        dense = np.zeros((len(self), size), dtype=np.float32)
        rows = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        dense[rows, self.indices] = self.probs
        return dense

    @staticmethod
    def concat(parts: Sequence[SparsePolicy]) -> SparsePolicy:
        offsets, base = [np.zeros(1, dtype=np.int64)], 0
        for p in parts:
            offsets.append(p.offsets[1:] + base)
            base += int(p.offsets[-1])
        return SparsePolicy(np.concatenate([p.indices for p in parts]),
                            np.concatenate([p.probs for p in parts]), np.concatenate(offsets))


Policy = np.ndarray | SparsePolicy


@dataclass
class Samples:
    """A batch of training samples, as written to or read from shards."""

    features: np.ndarray
    policy: Policy
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.features)

    def slice(self, start: int, stop: int) -> Samples:
        return Samples(self.features[start:stop], self.policy[start:stop] if isinstance(self.policy, np.ndarray)
                       else self.policy.slice(start, stop), self.values[start:stop])

    @staticmethod
    def concat(parts: Sequence[Samples]) -> Samples:
        kinds = {isinstance(p.policy, np.ndarray) for p in parts}
        if len(kinds) > 1:
            raise ValueError("cannot concatenate dense and sparse policy targets; export one kind per config")
        if isinstance(parts[0].policy, np.ndarray):
            policy: Policy = np.concatenate([p.policy for p in parts])
        else:
            policy = SparsePolicy.concat([p.policy for p in parts])  # type: ignore[misc]
        return Samples(np.concatenate([p.features for p in parts]), policy,
                       np.concatenate([p.values for p in parts]))


@dataclass(frozen=True)
class ShardInfo:
    path: Path
    manifest: dict[str, Any]

    @property
    def count(self) -> int:
        return int(self.manifest["count"])


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _check(samples: Samples, num_players: int) -> None:
    n = len(samples)
    if len(samples.policy) != n or len(samples.values) != n:
        raise ValueError(f"features, policy and values disagree on sample count: "
                         f"{n}, {len(samples.policy)}, {len(samples.values)}")
    if samples.values.ndim != 2 or samples.values.shape[1] != num_players:
        raise ValueError(f"values must be (N, {num_players}) (one outcome per seat), got {samples.values.shape}")


def write_shard(shards_dir: Path, board_type: str, num_players: int, samples: Samples,
                source_game_ids: Sequence[str], extra: dict[str, Any] | None = None) -> ShardInfo:
    """Write one compressed shard and its manifest; durable and atomic on return."""
    _check(samples, num_players)
    config = config_key(board_type, num_players)
    directory = shards_dir / config
    directory.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    stem = f"{created.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
    path = directory / f"{stem}.npz"
    arrays: dict[str, np.ndarray] = {"features": samples.features, "values": samples.values.astype(np.float32)}
    if isinstance(samples.policy, SparsePolicy):
        arrays.update(policy_indices=samples.policy.indices, policy_probs=samples.policy.probs,
                      policy_offsets=samples.policy.offsets)
    else:
        arrays["policy"] = samples.policy
    _atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))
    manifest = {
        "config": config, "boardType": board_type, "numPlayers": num_players, "count": len(samples),
        "policy": "sparse" if isinstance(samples.policy, SparsePolicy) else "dense",
        "featureShape": list(samples.features.shape[1:]), "sourceGames": list(source_game_ids),
        "createdAt": created.isoformat(), "file": path.name, "sha256": sha256_file(path), **(extra or {}),
    }
    _atomic_write(path.with_suffix(".json"), lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
    log.info("wrote shard %s: %d samples from %d games", path, len(samples), len(source_game_ids))
    return ShardInfo(path, manifest)


def list_shards(shards_dir: Path, board_type: str, num_players: int) -> list[ShardInfo]:
    """Shards of a configuration with readable manifests, newest first."""
    directory = shards_dir / config_key(board_type, num_players)
    infos = []
    for manifest_path in directory.glob("*.json") if directory.exists() else []:
        try:
            manifest = json.loads(manifest_path.read_text())
            infos.append(ShardInfo(manifest_path.with_name(manifest["file"]), manifest))
        except (ValueError, KeyError) as exc:
            log.warning("skipping shard manifest %s: unreadable (%s); delete it and re-export that shard",
                        manifest_path, exc)
    return sorted(infos, key=lambda s: (s.manifest["createdAt"], s.path.name), reverse=True)


def load_shard(info: ShardInfo) -> Samples:
    """Load one shard after verifying its hash; CorruptDataError names the file and the fix."""
    remedy = (f"delete '{info.path}' and its manifest '{info.path.with_suffix('.json')}', then re-export "
              f"samples from its {len(info.manifest.get('sourceGames', []))} source games "
              f"(listed in the manifest) or restore the shard from artifact storage")
    if not info.path.exists():
        raise CorruptDataError(info.path, "shard file is missing (its manifest exists)", remedy)
    actual = sha256_file(info.path)
    if actual != info.manifest["sha256"]:
        raise CorruptDataError(info.path, f"sha256 {actual[:12]}… does not match the manifest's "
                                          f"{info.manifest['sha256'][:12]}… (truncated or damaged)", remedy)
    try:
        with np.load(info.path) as z:
            policy: Policy = (SparsePolicy(z["policy_indices"], z["policy_probs"], z["policy_offsets"])
                              if info.manifest["policy"] == "sparse" else z["policy"])
            return Samples(z["features"], policy, z["values"])
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptDataError(info.path, f"cannot be read as a shard ({exc})", remedy) from exc


def replay_window(shards_dir: Path, board_type: str, num_players: int, k: int) -> tuple[Samples | None, list[Path]]:
    """The newest `k` samples across shards; damaged shards are skipped with a warning.

    Returns the samples (None when there are none) and the shard files skipped.
    """
    parts: list[Samples] = []
    skipped: list[Path] = []
    remaining = k
    for info in list_shards(shards_dir, board_type, num_players):
        if remaining <= 0:
            break
        try:
            samples = load_shard(info)
        except CorruptDataError as exc:
            log.warning("skipping shard in replay window: %s", exc)
            skipped.append(info.path)
            continue
        take = min(remaining, len(samples))
        parts.append(samples.slice(len(samples) - take, len(samples)))  # newest samples sit at the end
        remaining -= take
    if not parts:
        return None, skipped
    return Samples.concat(parts[::-1]), skipped
