"""The selfplay-facing writer: journal every game at once, flush to SQLite in batches.

`append` returns only after the game is fsynced to this writer's journal, so a
caller may report it as saved. Games reach the database in batches (by default
100 games or 5 seconds, whichever comes first) in one transaction that also
records how far the journal is flushed. On start, a writer replays whatever
orphaned journals (left by killed writers) hold beyond their flushed offset.

A flush that fails (database locked for too long, disk full, database damaged)
is logged loudly and retried on the next batch; the games stay in the journal,
and `close()` raises instead of deleting a journal that is not yet in the database.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infra.data_config import DataConfig, config_key
from infra.gamestore import GameStore, InsertResult
from infra.journal import Journal, journals_in, scan, try_lock
from infra.records import content_hash, validate_record

log = logging.getLogger(__name__)


class GameWriter:
    """Durable, batched writer of finished games of one board configuration."""

    def __init__(self, cfg: DataConfig, board_type: str, num_players: int, recreate_empty: bool = False) -> None:
        self.cfg = cfg
        self.config = config_key(board_type, num_players)
        self.board_type, self.num_players = board_type, int(num_players)
        self.store = GameStore(cfg.game_db_path(board_type, num_players), cfg.source_host,
                               busy_timeout_s=cfg.busy_timeout_s, recreate_empty=recreate_empty)
        self.totals = InsertResult()
        self.flush_error: Exception | None = None
        self._lock = threading.RLock()
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._pending_end = 0
        self._oldest: float | None = None
        self._retry_at = 0.0  # after a failed flush, appends do not retry before this time
        self._journal_dir = cfg.journal_dir(board_type, num_players)
        self.journal = Journal(self._journal_dir)
        self.replayed = self.replay_orphans()
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._flush_on_time, name=f"flush-{self.config}", daemon=True)
        self._timer.start()

    # -- writing -------------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> str:
        """Journal one finished game (fsynced on return); returns its content hash."""
        return self.append_many([record])[0]

    def append_many(self, records: Iterable[dict[str, Any]]) -> list[str]:
        """Journal several games with a single fsync (group commit)."""
        prepared = [self._prepare(r) for r in records]
        if not prepared:
            return []
        with self._lock:
            ends = self.journal.append(prepared)
            self._pending.extend(prepared)
            self._pending_end = ends[-1]
            if self._oldest is None:
                self._oldest = time.monotonic()
            if len(self._pending) >= self.cfg.flush_batch_size and time.monotonic() >= self._retry_at:
                self._flush_locked()
        return [h for h, _ in prepared]

    def _prepare(self, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        validate_record(record)
        if (record["boardType"], int(record["numPlayers"])) != (self.board_type, self.num_players):
            raise ValueError(f"game {record['id']} is {config_key(record['boardType'], record['numPlayers'])}, "
                             f"this writer stores {self.config}")
        meta = dict(record.get("metadata") or {})
        meta.setdefault("sourceHost", self.cfg.source_host)
        record = {**record, "metadata": meta}
        return content_hash(record), record

    def flush(self) -> InsertResult:
        """Write pending games to the database now."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> InsertResult:
        if not self._pending:
            return InsertResult()
        started = time.perf_counter()
        batch, end = self._pending, self._pending_end
        try:
            result = self.store.insert(batch, journal=self.journal.name, journal_offset=end)
        except Exception as exc:  # logged and kept: the games are safe in the journal
            self.flush_error = exc
            log.error("flush of %d games to %s failed; they stay in journal %s and will be retried: %s",
                      len(batch), self.store.path, self.journal.path, exc)
            self._oldest = time.monotonic()  # the timer retries after one interval
            self._retry_at = self._oldest + self.cfg.flush_interval_s
            return InsertResult()
        self.flush_error = None
        self._pending, self._oldest = [], None
        self.totals += result
        log.info("flushed %d games to %s (%d new, %d duplicates refused, %d already present) in %.1f ms; "
                 "journal %s at byte %d", len(batch), self.store.path.name, result.inserted, result.duplicates,
                 result.already_present, (time.perf_counter() - started) * 1e3, self.journal.name, end)
        if self.journal.size >= self.cfg.journal_rotate_bytes:
            old, self.journal = self.journal, Journal(self._journal_dir)
            old.close(delete=True)
        return result

    def _flush_on_time(self) -> None:
        tick = min(0.25, self.cfg.flush_interval_s / 2)
        while not self._stop.wait(tick):
            with self._lock:
                if self._oldest is not None and time.monotonic() - self._oldest >= self.cfg.flush_interval_s:
                    self._flush_locked()

    # -- recovery ------------------------------------------------------------------------------
    def replay_orphans(self) -> InsertResult:
        """Insert entries of journals left by dead writers that are not yet in the database."""
        total = InsertResult()
        for path in journals_in(self._journal_dir):
            if path == self.journal.path:
                continue
            fd = try_lock(path)
            if fd is None:
                continue  # a live writer owns it
            try:
                total += self._replay_one(path)
            finally:
                os.close(fd)
        return total

    def _replay_one(self, path: Path) -> InsertResult:
        offset = self.store.journal_offset(path.name)
        found = scan(path, offset)
        result = InsertResult()
        step = self.cfg.flush_batch_size
        for i in range(0, len(found.entries), step):
            chunk = found.entries[i:i + step]
            result += self.store.insert([(e.content_hash, e.record) for e in chunk],
                                        journal=path.name, journal_offset=chunk[-1].end_offset)
        if found.entries or found.torn_tail_bytes or found.bad_lines:
            log.info("replayed journal %s from byte %d: %d entries (%d new, %d already present, "
                     "%d duplicates refused)", path, offset, len(found.entries), result.inserted,
                     result.already_present, result.duplicates)
        if found.bad_lines:
            path.rename(path.with_name(path.name + ".corrupt"))
        else:
            path.unlink(missing_ok=True)
        self.totals += result
        return result

    # -- shutdown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush what is pending and release the journal; raise if games could not reach the database."""
        self._stop.set()
        self._timer.join()
        with self._lock:
            self._flush_locked()
            flushed = not self._pending
            self.journal.close(delete=flushed)
        self.store.close()
        if not flushed:
            raise RuntimeError(
                f"{len(self._pending)} games could not be written to {self.store.path} and remain in journal "
                f"{self.journal.path}; the next writer replays them once the database is usable. "
                f"Cause: {self.flush_error}") from self.flush_error

    def __enter__(self) -> GameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
