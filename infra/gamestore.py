"""One SQLite database of finished games per board configuration.

`data/games/<board>_<n>p.db` in WAL mode with `synchronous=FULL`, so several
processes can read while one writes, and a committed batch survives a crash.
Games are keyed by their content hash: inserting a game already stored is
refused and counted (a *duplicate* when it arrived under another id, *already
present* when the same id comes back, as a re-run ingest or journal replay does),
so merging databases from many hosts never stores a game twice.

The journal offsets a writer has flushed are committed in the same transaction
as the games themselves; replay after a crash resumes exactly there.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from infra.errors import DiskFullError, is_disk_full
from infra.records import dumps, stored_fields, utc_now_iso
from infra.sqlite_files import SqliteFile, connect, guard

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS games (
    hash TEXT NOT NULL UNIQUE,
    id TEXT NOT NULL,
    board_type TEXT NOT NULL,
    num_players INTEGER NOT NULL,
    engines TEXT NOT NULL,          -- JSON list, engine identity per seat
    outcome TEXT,
    winner INTEGER,
    length INTEGER NOT NULL,
    hit_cap INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    source_host TEXT NOT NULL,
    samples_ref TEXT,               -- shard key holding this game's samples, if exported
    inserted_at TEXT NOT NULL,
    moves TEXT NOT NULL,            -- JSON list of moves as recorded (large: kept after the small columns)
    record TEXT NOT NULL            -- the rest of the game record, JSON without moves
);
CREATE INDEX IF NOT EXISTS games_id ON games(id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS journal_progress (
    journal TEXT PRIMARY KEY, offset INTEGER NOT NULL, updated_at TEXT NOT NULL
);
"""

COLUMNS = ("hash", "id", "board_type", "num_players", "engines", "outcome", "winner", "length", "hit_cap",
           "created_at", "source_host", "samples_ref", "inserted_at", "moves", "record")


@dataclass
class InsertResult:
    inserted: int = 0
    duplicates: int = 0       # same content already stored under another id: refused
    already_present: int = 0  # the very same game (id and content) seen again: skipped

    def __iadd__(self, other: InsertResult) -> InsertResult:
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.already_present += other.already_present
        return self


class GameStore(SqliteFile):
    """Access to one configuration's game database."""

    def __init__(self, path: Path, source_host: str, read_only: bool = False, busy_timeout_s: float = 30.0,
                 recreate_empty: bool = False) -> None:
        """Open the store at `path`, creating it when absent. A 0-byte file (a truncated store) or a
        foreign SQLite file is refused with CorruptDataError; `recreate_empty` replaces a 0-byte one."""
        self.path = Path(path)
        self.source_host = source_host
        self._conn = connect(self.path, SCHEMA, read_only=read_only, probe="SELECT count(*) FROM games",
                             timeout=busy_timeout_s, table="games", kind="game store",
                             recreate_empty=recreate_empty)

    def insert(self, items: Iterable[tuple[str, dict[str, Any]]],
               journal: str | None = None, journal_offset: int | None = None) -> InsertResult:
        """Insert (content_hash, record) pairs in one transaction; duplicates are refused and counted.

        When `journal` is given, its flushed offset is committed atomically with the games.
        """
        result = InsertResult()
        now = utc_now_iso()
        conn = self._conn
        written = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for content_hash, record in items:
                    row = self._row(content_hash, record, now)
                    written += len(row[-1]) + len(row[-2])
                    cur = conn.execute(
                        f"INSERT INTO games ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))}) "
                        "ON CONFLICT(hash) DO NOTHING", row)
                    if cur.rowcount == 1:
                        result.inserted += 1
                        continue
                    existing = conn.execute("SELECT id FROM games WHERE hash=?", (content_hash,)).fetchone()
                    if existing and existing[0] == record["id"]:
                        result.already_present += 1
                    else:
                        result.duplicates += 1
                if result.duplicates:
                    conn.execute("INSERT INTO counters VALUES ('duplicates_refused', ?) ON CONFLICT(name) "
                                 "DO UPDATE SET value = value + excluded.value", (result.duplicates,))
                if journal is not None:
                    conn.execute("INSERT INTO journal_progress VALUES (?, ?, ?) ON CONFLICT(journal) "
                                 "DO UPDATE SET offset=excluded.offset, updated_at=excluded.updated_at",
                                 (journal, journal_offset, now))
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk does): never let a failing
                # ROLLBACK ("no transaction is active") hide the real cause
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error as rollback_exc:
                        log.warning("%s: rollback after a failed insert also failed: %s", self.path, rollback_exc)
                raise
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                # the batch is written twice (write-ahead log, then the database) plus its index
                raise DiskFullError(self.path, 2 * written + 64 * 1024,
                                    "None of this batch was stored; the games already in it are kept.") from exc
            raise guard(self.path, exc) from exc
        return result

    def _row(self, content_hash: str, record: dict[str, Any], now: str) -> tuple[Any, ...]:
        fields = stored_fields(record, self.source_host)
        rest = {k: v for k, v in record.items() if k != "moves"}
        values = {**fields, "hash": content_hash, "moves": dumps(record.get("moves", [])),
                  "record": dumps(rest), "inserted_at": now}
        return tuple(values[c] for c in COLUMNS)

    def journal_offset(self, journal: str) -> int:
        row = self._query("SELECT offset FROM journal_progress WHERE journal=?", (journal,))
        return row[0][0] if row else 0

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise guard(self.path, exc) from exc

    def count(self) -> int:
        return self._query("SELECT count(*) FROM games")[0][0]

    def counter(self, name: str) -> int:
        row = self._query("SELECT value FROM counters WHERE name=?", (name,))
        return row[0][0] if row else 0

    def ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM games ORDER BY rowid")]

    def get(self, game_id: str) -> dict[str, Any] | None:
        """The full record of a game by id (the first stored, if ids collide)."""
        rows = self._query("SELECT record, moves FROM games WHERE id=? ORDER BY rowid LIMIT 1", (game_id,))
        return {**orjson.loads(rows[0][0]), "moves": orjson.loads(rows[0][1])} if rows else None

    def iter_records(self, chunk: int = 500) -> Iterator[tuple[str, dict[str, Any]]]:
        """(hash, record) of every game in insertion order, read in chunks."""
        last = 0
        while True:
            rows = self._query("SELECT rowid, hash, record, moves FROM games WHERE rowid > ? "
                               "ORDER BY rowid LIMIT ?", (last, chunk))
            if not rows:
                return
            for _, content_hash, record, moves in rows:
                yield content_hash, {**orjson.loads(record), "moves": orjson.loads(moves)}
            last = rows[-1][0]

    def last_rowid(self) -> int:
        """The newest game's rowid (0 when empty). Games are only ever appended, so rowids grow with
        arrival: continuous training remembers the last one it learned from."""
        return self._query("SELECT coalesce(max(rowid), 0) FROM games")[0][0]

    def count_between(self, after: int, upto: int | None = None) -> int:
        """Games stored with after < rowid <= upto (upto None: to the newest)."""
        upto = self.last_rowid() if upto is None else upto
        return self._query("SELECT count(*) FROM games WHERE rowid > ? AND rowid <= ?", (after, upto))[0][0]

    def records_between(self, after: int, upto: int, chunk: int = 500) -> Iterator[dict[str, Any]]:
        """Full records of the games with after < rowid <= upto, in arrival order, read in chunks."""
        while True:
            rows = self._query("SELECT rowid, record, moves FROM games WHERE rowid > ? AND rowid <= ? "
                               "ORDER BY rowid LIMIT ?", (after, upto, chunk))
            if not rows:
                return
            for _, record, moves in rows:
                yield {**orjson.loads(record), "moves": orjson.loads(moves)}
            after = rows[-1][0]

    def newest_between(self, after: int, upto: int, max_moves: int, chunk: int = 200) -> list[dict[str, Any]]:
        """The newest games with after < rowid <= upto whose moves together first reach `max_moves`
        (all of them when they never do), in arrival order: what a replay window of `max_moves`
        positions can hold. Read newest first in chunks, so a backlog far larger than the window
        is never loaded."""
        out: list[dict[str, Any]] = []
        moves, below = 0, upto + 1
        while moves < max_moves:
            rows = self._query("SELECT rowid, record, moves FROM games WHERE rowid > ? AND rowid < ? "
                               "ORDER BY rowid DESC LIMIT ?", (after, below, chunk))
            if not rows:
                break
            for rowid, record, played in rows:
                out.append({**orjson.loads(record), "moves": orjson.loads(played)})
                moves += len(out[-1]["moves"])
                below = rowid
                if moves >= max_moves:
                    break
        out.reverse()
        return out

    def json_rows(self, paths: list[str], limit: int | None = None) -> list[tuple[Any, ...]]:
        """(created_at, source_host, winner, hit_cap, json_extract(record, p) for each p) of the newest
        `limit` games (all when None), newest first; e.g. paths=['$.metadata.pipeline.iteration']."""
        extract = "".join(", json_extract(record, ?)" for _ in paths)
        sql = f"SELECT created_at, source_host, winner, hit_cap{extract} FROM games ORDER BY rowid DESC"
        params: tuple[Any, ...] = tuple(paths)
        if limit is not None:
            sql, params = sql + " LIMIT ?", params + (limit,)
        return self._query(sql, params)

    def summary_rows(self) -> list[tuple[Any, ...]]:
        """Columns reports need: (id, engines, winner, length, hit_cap, source_host, outcome)."""
        return self._query("SELECT id, engines, winner, length, hit_cap, source_host, outcome FROM games")

    def check(self) -> list[str]:
        """Full integrity check (reads every page); [] when healthy."""
        problems = [r[0] for r in self._query("PRAGMA integrity_check")]
        return [] if problems == ["ok"] else problems

