"""Artifact storage (models, shards, profiles, database backups) through a Prefect filesystem block.

The block is a `LocalFileSystem` under `data/artifacts` by default, or any saved
block named by `DataConfig.storage_block` (an `S3Bucket` from prefect-aws in a
cluster): the code does the same calls either way and never talks to boto3 itself.

Uploads must never hold training up. `save_and_upload(obj, key)` snapshots the
object's source (a hard link for a file; a reference for immutable bytes) and
returns; a pool of workers writes the staged copy to `data/outbox/` and uploads
it, retrying with exponential backoff and jitter. Failures are logged and the
staged copy is kept, so `resume_outbox()` (run at the next start) finishes any
upload a crash or a long outage interrupted. `wait()` drains the pool.
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from infra.data_config import DataConfig
from infra.journal import fsync_dir

log = logging.getLogger(__name__)

Saveable = bytes | bytearray | memoryview | str | Path | Callable[[Path], Any]


class UploadStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class UploadJob:
    key: str
    job_id: str
    status: UploadStatus = UploadStatus.PENDING
    attempts: int = 0
    error: str | None = None
    seconds: float = 0.0
    future: Future | None = field(default=None, repr=False)


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"artifact key {key!r} must be a relative path like 'models/square8_2p/m1.pt'")
    return key


def load_block(name: str) -> Any:
    """A saved Prefect filesystem block by document name, e.g. 's3-bucket/rift-artifacts'."""
    from prefect.blocks.core import Block
    try:
        import prefect_aws  # noqa: F401  (registers the s3-bucket block type)
    except ImportError:  # a local-only install can still load other block types
        pass
    return Block.load(name)


def default_block(cfg: DataConfig) -> Any:
    """The configured block, or a local folder under the data directory."""
    if cfg.storage_block:
        return load_block(cfg.storage_block)
    from prefect.filesystems import LocalFileSystem
    cfg.artifacts_dir.mkdir(parents=True, exist_ok=True)
    return LocalFileSystem(basepath=str(cfg.artifacts_dir.resolve()))


def _atomic_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 8 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


class ArtifactStore:
    """Synchronous reads and writes, plus the background upload pool, over one block."""

    def __init__(self, block: Any, outbox: Path, workers: int = 4, retries: int = 6,
                 backoff_s: float = 0.5, backoff_max_s: float = 30.0) -> None:
        self.block = block
        self.outbox = Path(outbox)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.retries, self.backoff_s, self.backoff_max_s = retries, backoff_s, backoff_max_s
        self.jobs: dict[str, UploadJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload")

    @classmethod
    def from_config(cls, cfg: DataConfig, block: Any = None) -> ArtifactStore:
        return cls(block if block is not None else default_block(cfg), cfg.outbox_dir, cfg.upload_workers,
                   cfg.upload_retries, cfg.upload_backoff_s, cfg.upload_backoff_max_s)

    # -- synchronous access ----------------------------------------------------------------------
    def put_file(self, path: Path | str, key: str) -> None:
        """Upload a local file now (streamed; multipart on S3)."""
        check_key(key)
        from prefect.filesystems import LocalFileSystem
        if hasattr(self.block, "upload_from_path"):  # S3Bucket and the other object-store blocks
            self.block.upload_from_path(str(path), key)
        elif isinstance(self.block, LocalFileSystem):  # stream the copy instead of reading it into memory
            _atomic_copy(Path(path), Path(self.block.basepath) / key)
        else:
            self.block.write_path(key, Path(path).read_bytes())

    def write_bytes(self, key: str, data: bytes) -> None:
        self.block.write_path(check_key(key), bytes(data))

    def read_bytes(self, key: str) -> bytes:
        return self.block.read_path(check_key(key))

    def download(self, key: str, dest: Path) -> Path:
        """Fetch an artifact to a local file (streamed where the block can)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(self.block, "download_object_to_path"):
            self.block.download_object_to_path(check_key(key), str(dest))
        else:
            dest.write_bytes(self.read_bytes(key))
        return dest

    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys of the artifacts under `prefix` (a folder, e.g. 'sync/hex8_2p', or one key), sorted."""
        folder = prefix.strip("/")
        if hasattr(self.block, "list_objects"):  # S3Bucket: keys carry the block's bucket_folder
            base = (getattr(self.block, "bucket_folder", "") or "").strip("/")
            cut = len(base) + 1 if base else 0
            keys = [o["Key"][cut:] for o in self.block.list_objects(folder)]
        else:
            from prefect.filesystems import LocalFileSystem
            if not isinstance(self.block, LocalFileSystem):
                raise NotImplementedError(f"listing is not supported for {type(self.block).__name__} blocks")
            root = Path(self.block.basepath)
            target = root / folder
            found = target.rglob("*") if target.is_dir() else [target] if target.is_file() else []
            keys = [p.relative_to(root).as_posix() for p in found if p.is_file() and not p.name.startswith(".")]
        return sorted(k for k in keys if not folder or k == folder or k.startswith(folder + "/"))

    # -- background uploads ----------------------------------------------------------------------
    def save_and_upload(self, obj: Saveable, key: str) -> UploadJob:
        """Stage `obj` and upload it to `key` in the background; returns at once.

        `obj` is bytes (kept by reference; bytearray/memoryview are copied first),
        a path to a finished file (hard-linked, so a later replace of that path does
        not change what is uploaded), or a function that writes the file at the path it is given.
        """
        check_key(key)
        job = UploadJob(key, uuid.uuid4().hex)
        staged = self.outbox / f"{job.job_id}.data"
        if isinstance(obj, (bytearray, memoryview)):
            obj = bytes(obj)
        if isinstance(obj, (str, Path)):
            try:
                os.link(obj, staged)
                obj = staged
            except OSError:  # another filesystem: copy in the background instead
                obj = Path(obj)
        with self._lock:
            self.jobs[job.job_id] = job
            job.future = self._pool.submit(self._run, job, obj, staged)
        return job

    def _stage(self, job: UploadJob, obj: Saveable, staged: Path) -> None:
        """Make the staged copy complete and durable, with its key beside it for resume."""
        if isinstance(obj, bytes):
            with open(staged, "wb") as fh:
                fh.write(obj)
                fh.flush()
                os.fsync(fh.fileno())
        elif isinstance(obj, Path) and obj != staged:
            _atomic_copy(obj, staged)
        elif callable(obj):
            obj(staged)
        meta = self.outbox / f"{job.job_id}.json"
        meta.write_text(json.dumps({"key": job.key, "staged": staged.name}))
        fsync_dir(self.outbox)

    def _run(self, job: UploadJob, obj: Saveable, staged: Path) -> UploadJob:
        started = time.perf_counter()
        try:
            self._stage(job, obj, staged)
        except Exception as exc:  # nothing to upload; the caller's source is untouched
            job.status, job.error = UploadStatus.FAILED, f"staging failed: {exc}"
            log.error("could not stage artifact %s: %s", job.key, exc)
            return job
        for attempt in range(1, self.retries + 2):
            job.attempts = attempt
            try:
                self.put_file(staged, job.key)
            except Exception as exc:
                job.error = f"{type(exc).__name__}: {exc}"
                if attempt > self.retries:
                    job.status = UploadStatus.FAILED
                    log.error("upload of %s failed after %d attempts (%s); the staged copy stays at %s and "
                              "is retried by resume_outbox() at the next start", job.key, attempt, job.error,
                              staged)
                    return job
                delay = min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s) * random.uniform(0.5, 1.0)
                log.warning("upload of %s failed (attempt %d/%d): %s; retrying in %.2fs", job.key, attempt,
                            self.retries + 1, job.error, delay)
                time.sleep(delay)
                continue
            job.status, job.seconds = UploadStatus.COMPLETED, time.perf_counter() - started
            self._discard(job.job_id, staged)
            log.info("uploaded %s in %.2fs (%d attempt%s)", job.key, job.seconds, attempt, "s"[attempt == 1:])
            return job
        return job

    def _discard(self, job_id: str, staged: Path) -> None:
        (self.outbox / f"{job_id}.json").unlink(missing_ok=True)
        staged.unlink(missing_ok=True)

    def resume_outbox(self) -> int:
        """Re-queue uploads that a previous process staged but did not finish; returns how many."""
        resumed = 0
        active = {j.job_id for j in self.jobs.values() if j.status is UploadStatus.PENDING}
        for meta in sorted(self.outbox.glob("*.json")):
            job_id = meta.stem
            if job_id in active:
                continue
            try:
                info = json.loads(meta.read_text())
                staged = self.outbox / info["staged"]
            except (ValueError, KeyError) as exc:
                log.error("outbox entry %s is unreadable (%s); its data file is kept for inspection", meta, exc)
                continue
            if not staged.exists():
                meta.unlink()
                continue
            job = UploadJob(info["key"], job_id)
            with self._lock:
                self.jobs[job_id] = job
                job.future = self._pool.submit(self._run, job, staged, staged)
            resumed += 1
        for orphan in self.outbox.glob("*.data"):  # staging never finished: no metadata, not uploadable
            if not orphan.with_suffix(".json").exists() and orphan.stem not in self.jobs:
                log.warning("discarding incomplete staged upload %s (its writer died while staging)", orphan)
                orphan.unlink()
        if resumed:
            log.info("resumed %d uploads from %s", resumed, self.outbox)
        return resumed

    def counts(self) -> dict[str, int]:
        with self._lock:
            jobs = list(self.jobs.values())
        return {s.value: sum(j.status is s for j in jobs) for s in UploadStatus}

    def wait(self, timeout: float | None = None) -> dict[str, int]:
        """Block until queued uploads finish (or `timeout`); never raises for failed uploads."""
        with self._lock:
            futures = [j.future for j in self.jobs.values() if j.future is not None]
        wait_futures(futures, timeout=timeout)
        counts = self.counts()
        if counts["failed"]:
            log.error("%d uploads failed; their staged copies are in %s", counts["failed"], self.outbox)
        return counts

    def close(self) -> dict[str, int]:
        counts = self.wait()
        self._pool.shutdown(wait=True)
        return counts
