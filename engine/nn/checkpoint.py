"""Checkpoints that never hold training up.

`save` blocks only for the snapshot (the weights copied to CPU, a few ms); a
background thread then serialises the snapshot, writes it atomically under the
run's folder and hands the finished file to the artifact store, whose own pool
uploads it (infra.storage.ArtifactStore.save_and_upload). `wait` drains both at
the end of training. `save_sync` does the same work in the caller, to measure
what the background path saves.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.files import write_atomic
from engine.nn.model import RingRiftNet, export_payload, payload_bytes

log = logging.getLogger(__name__)


class BackgroundCheckpointer:
    """Save checkpoints of a model under `directory`, uploading each to `key_prefix/<name>`."""

    def __init__(self, directory: Path, store: Any | None = None, key_prefix: str = "checkpoints"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.key_prefix = key_prefix.strip("/")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._futures: list[Future] = []
        self.blocked_s: list[float] = []

    def _finish(self, payload: dict, name: str) -> Path:
        path = self.directory / name
        write_atomic(path, payload_bytes(payload))
        if self.store is not None:
            self.store.save_and_upload(path, f"{self.key_prefix}/{name}")
        return path

    def save(self, model: RingRiftNet, name: str) -> float:
        """Snapshot now, write and upload in the background; returns the seconds training was held."""
        t0 = time.perf_counter()
        payload = export_payload(model)
        self._futures.append(self._pool.submit(self._finish, payload, name))
        blocked = time.perf_counter() - t0
        self.blocked_s.append(blocked)
        return blocked

    def save_sync(self, model: RingRiftNet, name: str) -> float:
        """Snapshot, write and upload in the caller, waiting for the upload; returns its seconds."""
        t0 = time.perf_counter()
        path = self.directory / name
        write_atomic(path, payload_bytes(export_payload(model)))
        if self.store is not None:
            self.store.put_file(path, f"{self.key_prefix}/{name}")
        return time.perf_counter() - t0

    def wait(self) -> dict[str, int] | None:
        """Finish every write, then every upload; returns the store's upload counts."""
        for fut in self._futures:
            try:
                fut.result()
            except Exception as exc:  # a lost checkpoint is logged, never fatal to training
                log.error("checkpoint write failed: %s", exc)
        self._futures.clear()
        self._pool.shutdown(wait=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        return self.store.wait() if self.store is not None else None
