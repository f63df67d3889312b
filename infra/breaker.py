"""Circuit breakers, one per host, persisted so every `rift` invocation sees them.

A dead node must be skipped at once rather than waited on for a connect timeout
(times retries) by every command. The breaker counts consecutive transport
failures: after `failure_threshold` it opens and the host is skipped; after
`recovery_timeout_s` it lets a few probes through (half-open); a success closes
it, a failure opens it again.

State lives in a small JSON file (`<state_dir>/breakers.json`), replaced
atomically and merged per host under a file lock, so concurrent CLI calls and
parallel threads do not lose each other's updates.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, Iterator

from infra.hosts import BreakerSettings

BREAKERS_FILE = "breakers.json"


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class BreakerRecord:
    """What is persisted for one host."""

    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probes: int = 0
    last_error: str = ""
    updated_at: float = 0.0

    def to_json(self) -> dict:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict) -> "BreakerRecord":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["state"] = BreakerState(known.get("state", "closed"))
        return cls(**known)


class BreakerBoard:
    """All hosts' breakers, backed by one JSON file (or memory when `path` is None)."""

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or BreakerSettings()
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, BreakerRecord] = {}
        self._reload()

    @classmethod
    def in_dir(cls, state_dir: Path, settings: BreakerSettings | None = None) -> "BreakerBoard":
        return cls(settings, Path(state_dir) / BREAKERS_FILE)

    # -- persistence -----------------------------------------------------
    def _read_file(self) -> dict[str, BreakerRecord]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text() or "{}")
            return {host: BreakerRecord.from_json(rec) for host, rec in raw.get("hosts", {}).items()}
        except (OSError, ValueError, TypeError):
            return {}  # a corrupt state file must never stop the fleet; it is rewritten

    def _reload(self) -> None:
        self._records = self._read_file()

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _save(self, host: str) -> None:
        """Merge this host's record into the file and replace it atomically."""
        if self.path is None:
            return
        with self._file_lock():
            merged = self._read_file()
            merged[host] = self._records[host]
            payload = {"hosts": {h: r.to_json() for h, r in sorted(merged.items())}}
            fd, tmp = tempfile.mkstemp(prefix=".breakers-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(payload, fh, indent=2)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._records = {**merged, host: self._records[host]}

    # -- state machine ---------------------------------------------------
    def _record(self, host: str) -> BreakerRecord:
        on_disk = self._read_file().get(host)  # another process may have moved it
        if on_disk is not None and on_disk.updated_at > self._records.get(host, BreakerRecord()).updated_at:
            self._records[host] = on_disk
        return self._records.setdefault(host, BreakerRecord())

    def _set(self, host: str, rec: BreakerRecord) -> None:
        rec.updated_at = self.clock()
        self._records[host] = rec
        self._save(host)

    def state(self, host: str) -> BreakerState:
        """Current state, moving open → half-open when the recovery time has passed."""
        with self._lock:
            rec = self._record(host)
            if rec.state is BreakerState.OPEN and self._recovered(rec):
                return BreakerState.HALF_OPEN
            return rec.state

    def record(self, host: str) -> BreakerRecord:
        """A copy of the host's persisted record (for status tables)."""
        with self._lock:
            return BreakerRecord(**asdict(self._record(host)))

    def _recovered(self, rec: BreakerRecord) -> bool:
        return self.clock() - rec.opened_at >= self.settings.recovery_timeout_s

    def allow(self, host: str) -> bool:
        """May a call go to `host` now? Open → no (at once); half-open → a few probes."""
        with self._lock:
            rec = self._record(host)
            if rec.state is BreakerState.CLOSED:
                return True
            if rec.state is BreakerState.OPEN:
                if not self._recovered(rec):
                    return False
                rec.state, rec.probes, rec.opened_at = BreakerState.HALF_OPEN, 0, self.clock()
            elif rec.probes >= self.settings.half_open_probes:
                if not self._recovered(rec):  # probes in flight (or lost with their process)
                    return False
                rec.probes, rec.opened_at = 0, self.clock()
            rec.probes += 1
            self._set(host, rec)
            return True

    def success(self, host: str) -> None:
        """The host answered: close the breaker and forget past failures."""
        with self._lock:
            rec = self._record(host)
            if rec.state is BreakerState.CLOSED and rec.failures == 0:
                return
            self._set(host, BreakerRecord())

    def failure(self, host: str, error: str = "") -> None:
        """The host could not be reached: count it; open when the threshold is met."""
        with self._lock:
            rec = self._record(host)
            rec.failures += 1
            rec.last_error = error[:500]
            if rec.state is BreakerState.HALF_OPEN or rec.failures >= self.settings.failure_threshold:
                rec.state, rec.opened_at, rec.probes = BreakerState.OPEN, self.clock(), 0
            self._set(host, rec)

    def reset(self, host: str) -> None:
        """Operator override: close the breaker now."""
        with self._lock:
            self._set(host, BreakerRecord())

    def snapshot(self) -> dict[str, BreakerRecord]:
        """Every known host's record, re-read from disk."""
        with self._lock:
            self._reload()
            return {h: BreakerRecord(**asdict(r)) for h, r in self._records.items()}
