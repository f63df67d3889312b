"""Backups of the SQLite databases (games per config, model registry) into artifact storage.

A database file cannot simply be copied while writers use it; SQLite's online
backup makes a consistent snapshot, which then goes through the upload pool like
any artifact, under `backups/<kind>/<file name>/<UTC timestamp>.db`. Restoring is
the way out that the "damaged database" errors point to.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from infra.data_config import DataConfig
from infra.gamestore import GameStore
from infra.registry import ModelRegistry
from infra.storage import ArtifactStore

log = logging.getLogger(__name__)


def backup_key(db: Path, kind: str, when: datetime | None = None) -> str:
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"backups/{kind}/{db.name}/{stamp}.db"


def backup_databases(cfg: DataConfig, store: ArtifactStore) -> list[str]:
    """Snapshot every game database and the registry, queue their uploads, return the keys.

    Call `store.wait()` to know they are uploaded; the snapshots are removed once uploaded.
    """
    snapshots = cfg.data_dir / "backup-snapshots"
    keys = []
    for db in sorted(cfg.games_dir.glob("*.db")):
        with GameStore(db, cfg.source_host, busy_timeout_s=cfg.busy_timeout_s) as games:
            snap = games.backup(snapshots / db.name)
        keys.append(_queue(store, snap, backup_key(db, "games")))
    if cfg.registry_path.exists():
        with ModelRegistry(cfg.registry_path) as reg:
            snap = reg.backup(snapshots / cfg.registry_path.name)
        keys.append(_queue(store, snap, backup_key(cfg.registry_path, "registry")))
    log.info("queued %d database backups", len(keys))
    return keys


def _queue(store: ArtifactStore, snapshot: Path, key: str) -> str:
    store.save_and_upload(snapshot, key)  # hard-linked into the outbox: the snapshot can go at once
    snapshot.unlink()
    return key


def restore_database(store: ArtifactStore, key: str, dest: Path) -> Path:
    """Download a backup to `dest` (which must not exist: move a damaged file aside first)."""
    if dest.exists():
        raise FileExistsError(f"{dest} exists; move it aside (mv '{dest}' '{dest}.corrupt') before restoring")
    tmp = store.download(key, dest.with_name(dest.name + ".restoring"))
    try:  # opening it proves the download is a readable database of the right kind
        (GameStore(tmp, "restore", read_only=True) if "backups/games/" in key else ModelRegistry(tmp)).close()
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.rename(dest)
    return dest
