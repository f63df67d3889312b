"""Merge games from another host into the local stores, idempotently.

The source is a game database (`<config>.db` from another machine's data/games)
or a file or folder of RingRift game records (`.json` holding one game or
`{"games": [...]}`, or `.jsonl` with one game per line). Each game goes to the
database of its own configuration; content hashes are recomputed, so a game
already present is skipped and a duplicate under another id is refused and
counted. Running the same ingest twice changes nothing.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from infra.data_config import DataConfig, config_key
from infra.gamestore import GameStore, InsertResult
from infra.records import content_hash, validate_record
from infra.sqlite_files import SQLITE_HEADER

log = logging.getLogger(__name__)

CHUNK = 1000


@dataclass
class IngestReport:
    per_config: dict[str, InsertResult] = field(default_factory=lambda: defaultdict(InsertResult))
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    sources: int = 0

    @property
    def total(self) -> InsertResult:
        out = InsertResult()
        for r in self.per_config.values():
            out += r
        return out


def is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == SQLITE_HEADER


def _records_in_file(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) pairs; `where` names the file (and line) for error messages."""
    if path.suffix == ".jsonl":
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield f"{path}:{n}", json.loads(line)
        return
    data = json.loads(path.read_text())
    games = data.get("games", [data]) if isinstance(data, dict) else data
    for n, game in enumerate(games):
        yield f"{path}[{n}]", game


def iter_sources(path: Path) -> Iterator[tuple[str, Any]]:
    """Records from a database, a record file or a folder of them (recursively)."""
    files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl", ".db")) if path.is_dir() else [path]
    for f in files:
        if f.suffix == ".db" or (f.suffix not in (".json", ".jsonl") and is_sqlite(f)):
            with GameStore(f, source_host="", read_only=True) as src:
                for _, record in src.iter_records():
                    yield f"{f}:{record.get('id')}", record
        else:
            try:
                yield from _records_in_file(f)
            except ValueError as exc:
                yield str(f), exc


def ingest(cfg: DataConfig, path: Path, source_host: str | None = None, progress: bool = False) -> IngestReport:
    """Merge every game found at `path` into the local stores of `cfg`.

    `source_host` is recorded for games that do not name their host (defaults to this host).
    """
    report = IngestReport()
    stores: dict[str, GameStore] = {}
    pending: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)

    def flush(key: str) -> None:
        if pending[key]:
            report.per_config[key] += stores[key].insert(pending[key])
            pending[key] = []

    try:
        for where, record in tqdm(iter_sources(Path(path)), desc=f"ingest {Path(path).name}", unit=" games",
                                  disable=not progress):
            report.sources += 1
            if isinstance(record, Exception):
                report.rejected.append((where, f"unreadable JSON: {record}"))
                continue
            try:
                validate_record(record)
            except (ValidationError, TypeError) as exc:
                report.rejected.append((where, str(exc).splitlines()[0] if str(exc) else repr(exc)))
                continue
            key = config_key(record["boardType"], record["numPlayers"])
            if key not in stores:
                stores[key] = GameStore(cfg.game_db_path(record["boardType"], record["numPlayers"]),
                                        source_host or cfg.source_host)
            pending[key].append((content_hash(record), record))
            if len(pending[key]) >= CHUNK:
                flush(key)
        for key in list(pending):
            flush(key)
    finally:
        for store in stores.values():
            store.close()
    for where, why in report.rejected:
        log.warning("not ingested: %s: %s", where, why)
    total = report.total
    log.info("ingested %s: %d new, %d already present, %d duplicates refused, %d rejected", path,
             total.inserted, total.already_present, total.duplicates, len(report.rejected))
    return report
