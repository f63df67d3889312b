"""Incremental backup of the data folder (game databases, registry, models, profiles) and restore.

Layout in artifact storage (the S3 block in a cluster), under `prefix`:
    objects/<sha[:2]>/<sha256>       file contents, content-addressed: never overwritten
    manifests/<UTC stamp>.json       {relative path: {sha256, size}} of one backup run
    latest.json                      the newest manifest

A run snapshots each SQLite file with SQLite's online backup (a consistent copy
while writers work; byte-identical when nothing changed), hashes it, and uploads
only contents the latest manifest does not already have; each upload is read back
and its sha256 compared before the new manifest is written, so a manifest never
points at a missing or damaged object. A local state file keeps each file's
(size, mtime) signature and hash, so unchanged databases are not even snapshotted.

Restore downloads a manifest's files into a fresh folder and checks every sha256.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from infra.data_config import DataConfig, load_data_config
from infra.pipeline_config import BackupSettings
from infra.shards import sha256_file
from infra.sqlite_files import SQLITE_HEADER
from infra.storage import ArtifactStore

log = logging.getLogger(__name__)

SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".tmp", ".restoring")


class BackupVerifyError(OSError):
    """An uploaded object read back with a different sha256."""


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == SQLITE_HEADER


def _signature(path: Path) -> list[int]:
    """What changes when a file (or its WAL) is written."""
    sig = []
    for p in (path, path.with_name(path.name + "-wal")):
        st = p.stat() if p.exists() else None
        sig += [st.st_size, st.st_mtime_ns] if st else [0, 0]
    return sig


def files_to_back_up(data_dir: Path, include: list[str]) -> list[str]:
    """Relative paths (posix) matched by the include globs, without SQLite side files and temporaries."""
    found = set()
    for pattern in include:
        for p in data_dir.glob(pattern):
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(SKIP_SUFFIXES):
                found.add(p.relative_to(data_dir).as_posix())
    return sorted(found)


def sqlite_snapshot(src: Path, dest: Path) -> Path:
    """A consistent copy of a live SQLite database (online backup API)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return dest


class IncrementalBackup:
    """One backup target: a data folder and a prefix in an artifact store."""

    def __init__(self, cfg: DataConfig, store: ArtifactStore, settings: BackupSettings) -> None:
        self.cfg, self.store, self.settings = cfg, store, settings
        self.prefix = settings.prefix.strip("/")
        self.state_path = cfg.data_dir / "pipeline" / "backup-state.json"
        self.snapshots = cfg.data_dir / "pipeline" / "backup-snapshots"

    def object_key(self, sha: str) -> str:
        return f"{self.prefix}/objects/{sha[:2]}/{sha}"

    def latest(self) -> dict[str, Any] | None:
        """The newest manifest, or None before the first backup."""
        key = f"{self.prefix}/latest.json"
        if key not in self.store.list_keys(key):
            return None
        return json.loads(self.store.read_bytes(key))

    def _local_state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _prepare(self, rel: str, state: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
        """The file's state entry (signature taken *before* reading, so a write during the backup is seen
        next time) and the file to upload from (a temporary snapshot for SQLite; None if unchanged)."""
        path = self.cfg.data_dir / rel
        sig = _signature(path)
        known = state.get(rel)
        if known and known["sig"] == sig:
            return known, None
        source = sqlite_snapshot(path, self.snapshots / rel) if _is_sqlite(path) else path
        return {"sig": sig, "sha256": sha256_file(source), "size": source.stat().st_size}, source

    def _upload_verified(self, source: Path, sha: str) -> None:
        key = self.object_key(sha)
        self.store.put_file(source, key)
        with tempfile.TemporaryDirectory(dir=self.cfg.data_dir, prefix=".verify-") as tmp:
            back = self.store.download(key, Path(tmp) / "object")
            got = sha256_file(back)
        if got != sha:
            raise BackupVerifyError(f"backup object {key} read back with sha256 {got[:12]}… instead of {sha[:12]}…")

    def run(self) -> dict[str, Any]:
        """Back up what changed since the latest manifest; returns what was uploaded."""
        previous = self.latest() or {"files": {}}
        have = {entry["sha256"] for entry in previous["files"].values()}
        state = self._local_state()
        files: dict[str, dict[str, Any]] = {}
        uploads: dict[str, tuple[Path, int]] = {}  # sha -> (file holding that content, size)
        snapshots: list[Path] = []
        try:
            for rel in files_to_back_up(self.cfg.data_dir, self.settings.include):
                entry, source = self._prepare(rel, state)
                if source is None and entry["sha256"] not in have:  # known here, missing there: read it again
                    entry, source = self._prepare(rel, {})
                if source is not None and source.is_relative_to(self.snapshots):
                    snapshots.append(source)
                state[rel] = entry
                files[rel] = {"sha256": entry["sha256"], "size": entry["size"]}
                if entry["sha256"] not in have:
                    uploads.setdefault(entry["sha256"], (source, entry["size"]))
            with ThreadPoolExecutor(max_workers=self.cfg.upload_workers) as pool:
                list(pool.map(lambda item: self._upload_verified(item[1][0], item[0]), uploads.items()))
        finally:
            for snap in snapshots:
                snap.unlink(missing_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        blob = json.dumps({"created_at": stamp, "host": self.cfg.source_host, "files": files},
                          indent=1, sort_keys=True).encode()
        manifest_key = f"{self.prefix}/manifests/{stamp}.json"
        self.store.write_bytes(manifest_key, blob)
        self.store.write_bytes(f"{self.prefix}/latest.json", blob)
        if self.store.read_bytes(f"{self.prefix}/latest.json") != blob:
            raise BackupVerifyError(f"{self.prefix}/latest.json read back differently")
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state))
        changed = sorted(r for r in files if previous["files"].get(r, {}).get("sha256") != files[r]["sha256"])
        result = {"manifest": manifest_key, "files": len(files), "changed": changed,
                  "removed": sorted(set(previous["files"]) - set(files)), "uploaded_objects": len(uploads),
                  "uploaded_bytes": sum(size for _, size in uploads.values())}
        log.info("backup %s: %d files, %d changed, %d objects (%d bytes) uploaded and verified", manifest_key,
                 len(files), len(changed), len(uploads), result["uploaded_bytes"])
        return result

    def restore(self, dest: Path, manifest_key: str | None = None) -> dict[str, Any]:
        """Download every file of a manifest (default: the latest) into `dest`, checking each sha256."""
        key = manifest_key or f"{self.prefix}/latest.json"
        manifest = json.loads(self.store.read_bytes(key))
        clashes = [rel for rel in manifest["files"] if (dest / rel).exists()]
        if clashes:
            raise FileExistsError(f"restore into {dest} would overwrite {clashes[0]} (and {len(clashes) - 1} more): "
                                  f"restore into a fresh folder, or move those files aside first")
        restored = 0
        for rel, entry in sorted(manifest["files"].items()):
            target = dest / rel
            tmp = self.store.download(self.object_key(entry["sha256"]), target.with_name(target.name + ".restoring"))
            got = sha256_file(tmp)
            if got != entry["sha256"]:
                tmp.unlink()
                raise BackupVerifyError(f"{rel}: backup object has sha256 {got[:12]}…, manifest says "
                                        f"{entry['sha256'][:12]}…; nothing was written for this file")
            os.replace(tmp, target)
            restored += 1
        return {"manifest": key, "restored": restored, "dest": str(dest),
                "bytes": sum(e["size"] for e in manifest["files"].values())}


def digest_of(path: Path) -> str:
    """sha256 of a file, or of a consistent snapshot when it is a SQLite database."""
    if not _is_sqlite(path):
        return sha256_file(path)
    with tempfile.TemporaryDirectory() as tmp:
        return hashlib.sha256(sqlite_snapshot(path, Path(tmp) / "s.db").read_bytes()).hexdigest()


def open_store(cfg: DataConfig, settings: BackupSettings) -> ArtifactStore:
    """The backup target: the settings' block, else the data layer's (S3 when configured, else local)."""
    from infra.storage import load_block
    return ArtifactStore.from_config(cfg, block=load_block(settings.block) if settings.block else None)


@task(name="backup", retries=2, retry_delay_seconds=exponential_backoff(5), retry_jitter_factor=0.5,
      cache_policy=NO_CACHE)
def backup_data(data_dir: str | None, settings: BackupSettings) -> dict[str, Any]:
    """Upload what changed since the latest manifest (never cached: each run must look again)."""
    cfg = load_data_config(data_dir=data_dir)
    store = open_store(cfg, settings)
    try:
        return IncrementalBackup(cfg, store, settings).run()
    finally:
        store.close()


@task(name="restore", retries=2, retry_delay_seconds=exponential_backoff(5), retry_jitter_factor=0.5,
      cache_policy=NO_CACHE)
def restore_data(data_dir: str | None, dest: str, settings: BackupSettings,
                 manifest_key: str | None = None) -> dict[str, Any]:
    """Download a manifest's files into `dest` (a fresh folder), each checked against its sha256."""
    cfg = load_data_config(data_dir=data_dir)
    store = open_store(cfg, settings)
    try:
        return IncrementalBackup(cfg, store, settings).restore(Path(dest), manifest_key)
    finally:
        store.close()
