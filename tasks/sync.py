"""Sync phase: bring games and shards produced by other workers into the local stores.

Workers running selfplay on a pool publish the games of each run as a small
database under `sync/<config>/<host>/...` in artifact storage (S3 in a cluster).
This phase lists those keys, downloads the ones not yet ingested here and merges
them with `infra.ingest` (content hashes: a game seen twice is stored once, so
running it again changes nothing); it does the same for shards under
`shards/<config>/` (checked against their manifest's sha256) and for any extra
folders the profile names. A small ledger remembers which keys are done so that
a sync does not download the whole history again.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from engine.files import write_atomic
from infra.data_config import DataConfig
from infra.gamestore import GameStore
from engine.replay_check import first_problem
from infra.ingest import ingest
from infra.shards import sha256_file
from infra.storage import ArtifactStore
from tasks.common import PhaseContext, emit, phase_task, run_phase, short_hash

log = logging.getLogger(__name__)


def _ledger_path(cfg: DataConfig, config: str) -> Path:
    return cfg.data_dir / "pipeline" / config / "synced-keys.json"


def _load_ledger(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text()))
    except FileNotFoundError:
        return set()
    except ValueError:
        log.warning("sync ledger %s is unreadable; re-checking every key (ingest is idempotent)", path)
        return set()


def _save_ledger(path: Path, keys: set[str]) -> None:
    write_atomic(path, json.dumps(sorted(keys)))


def sync_games(cfg: DataConfig, store: ArtifactStore, config: str, prefix: str) -> tuple[list[str], dict[str, int]]:
    """Ingest every published game database of `config` not ingested before; returns (new keys, counts)."""
    ledger_path = _ledger_path(cfg, config)
    done = _load_ledger(ledger_path)
    new = [k for k in store.list_keys(f"{prefix}/{config}") if k.endswith(".db") and k not in done]
    counts = {"inserted": 0, "already_present": 0, "duplicates": 0, "rejected": 0}
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    for key in new:
        host = key.split("/")[-2] if key.count("/") >= 3 else None
        with tempfile.TemporaryDirectory(dir=cfg.data_dir, prefix=".sync-") as tmp:
            local = store.download(key, Path(tmp) / Path(key).name)
            report = ingest(cfg, local, source_host=host, check=first_problem)
        total = report.total
        counts["inserted"] += total.inserted
        counts["already_present"] += total.already_present
        counts["duplicates"] += total.duplicates
        counts["rejected"] += len(report.rejected)
        done.add(key)
        _save_ledger(ledger_path, done)  # after each key: a crash repeats at most one (idempotent) ingest
    return new, counts


def sync_shards(cfg: DataConfig, store: ArtifactStore, config: str) -> int:
    """Download shards (manifest + npz) of `config` missing here, verified against the manifest."""
    fetched = 0
    local_dir = cfg.shards_dir / config
    for key in store.list_keys(f"shards/{config}"):
        if not key.endswith(".json") or (local_dir / Path(key).name).exists():
            continue
        manifest = json.loads(store.read_bytes(key))
        local_dir.mkdir(parents=True, exist_ok=True)
        shard = local_dir / manifest["file"]
        tmp = shard.with_name("." + shard.name + ".tmp")
        try:  # a failed or interrupted (Ctrl-C, SIGTERM) download leaves no half-shard behind
            store.download(key.rsplit("/", 1)[0] + "/" + manifest["file"], tmp)
            if sha256_file(tmp) != manifest["sha256"]:
                raise OSError(f"shard {key} downloaded with a sha256 that differs from its manifest; not installed")
            os.replace(tmp, shard)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        (local_dir / Path(key).name).write_text(json.dumps(manifest, indent=1))  # manifest last: shard is complete
        fetched += 1
    return fetched


def sync_all(ctx: PhaseContext, store: ArtifactStore | None = None) -> dict[str, Any]:
    """The phase's work as a plain function."""
    cfg = ctx.data()
    settings = ctx.settings.sync
    store = store or ArtifactStore.from_config(cfg)
    keys, counts = sync_games(cfg, store, ctx.config, settings.artifact_prefix)
    for source in settings.sources:  # extra folders (e.g. rsynced data/games of another machine)
        report = ingest(cfg, Path(source).expanduser(), check=first_problem)
        counts["inserted"] += report.total.inserted
        counts["already_present"] += report.total.already_present
        counts["duplicates"] += report.total.duplicates
        counts["rejected"] += len(report.rejected)
    shards = sync_shards(cfg, store, ctx.config) if settings.shards else 0
    with GameStore(cfg.game_db_path(ctx.board, ctx.players), cfg.source_host) as games:
        stored = games.count()
    return {"id": f"sync-{ctx.config}-{short_hash(*keys, stored, shards)}", "keys": len(keys), **counts,
            "shards": shards, "store_games": stored}


@phase_task("sync")
def sync(ctx: PhaseContext, upstream: list[str]) -> dict[str, Any]:
    """Ingest other workers' games and shards; returns counts."""
    def body() -> dict[str, Any]:
        result = sync_all(ctx)
        emit("games.synced", ctx, {k: result[k] for k in ("inserted", "store_games", "shards")})
        return result
    return run_phase("sync", ctx, body)
