"""Merge games from another host into the local stores, idempotently.

The source is a game database (`<config>.db` from another machine's data/games)
or a file or folder of RingRift game records (`.json` holding one game or
`{"games": [...]}`, or `.jsonl` with one game per line). Each game goes to the
database of its own configuration; content hashes are recomputed, so a game
already present is skipped and a duplicate under another id is refused and
counted. Running the same ingest twice changes nothing.

Every readable record is checked twice before it is stored: its shape (pydantic,
`infra.records`), then, when the caller hands in a `check` (the CLI passes the engine's
replay, `engine.replay_check.first_problem`), the game itself. A refused game is listed
with its file, line (or index, or database id), game id and first bad move; one
unreadable line of a `.jsonl` is listed by its line number and the lines after it are
still read. The data layer never imports the engine: the check is injected.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
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


# check(record) -> None for a sound game, else the reason (its str() names the first bad move)
GameCheck = Callable[[dict[str, Any]], object | None]


@dataclass(frozen=True)
class Refused:
    """A record that was not stored: where it was (file:line, file[index] or db:id), its id, why."""

    where: str
    game_id: str | None
    why: str

    def __str__(self) -> str:
        game = f" game {self.game_id}" if self.game_id else ""
        return f"{self.where}{game}: {self.why}"


class Unreadable(Exception):
    """A source line or file that is not JSON; the message names the line."""


@dataclass
class IngestReport:
    per_config: dict[str, InsertResult] = field(default_factory=lambda: defaultdict(InsertResult))
    refused: list[Refused] = field(default_factory=list)
    sources: int = 0

    @property
    def rejected(self) -> list[tuple[str, str]]:
        """(where, why) of every refused record (the older form of `refused`)."""
        return [(r.where, r.why) for r in self.refused]

    def summary(self) -> str:
        t = self.total
        return (f"{self.sources} records read: {t.inserted} stored, {t.duplicates} duplicates refused, "
                f"{t.already_present} already present, {len(self.refused)} refused")

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
    """(where, record) pairs; `where` names the file and line (or index) for messages.

    An unreadable line of a `.jsonl` yields an `Unreadable` in place of its record, and
    reading goes on with the next line.
    """
    if path.suffix == ".jsonl":
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    yield f"{path}:{n}", json.loads(raw.rstrip(b"\r\n").decode("utf-8"))
                except UnicodeDecodeError as exc:
                    yield f"{path}:{n}", Unreadable(f"line {n} is not UTF-8 text ({exc.reason} at byte "
                                                     f"{exc.start} of the line)")
                except json.JSONDecodeError as exc:
                    cut = "" if raw.endswith(b"\n") else " (the file ends inside it: a write cut short)"
                    yield f"{path}:{n}", Unreadable(f"line {n} is not valid JSON: {exc.msg} (column "
                                                     f"{exc.colno} of that line){cut}")
        return
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        yield str(path), Unreadable(f"not a readable JSON file ({exc})")
        return
    games = data.get("games", [data]) if isinstance(data, dict) else data
    if not isinstance(games, list):
        yield str(path), Unreadable("'games' is not a list of game records")
        return
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
            yield from _records_in_file(f)


def _game_id(record: Any) -> str | None:
    return str(record["id"]) if isinstance(record, dict) and record.get("id") not in (None, "") else None


def ingest(cfg: DataConfig, path: Path, source_host: str | None = None, progress: bool = False,
           check: GameCheck | None = None, recreate_empty: bool = False,
           log_refused: bool = True) -> IngestReport:
    """Merge every game found at `path` into the local stores of `cfg`.

    `source_host` is recorded for games that do not name their host (defaults to this host).
    `check(record)` returns None for a game to store, else why it is refused (see the module doc).
    `recreate_empty` lets a 0-byte local game database be replaced by a new one (refused otherwise).
    Each refused record is logged as a warning unless `log_refused` is False (a caller that lists them).
    """
    report = IngestReport()
    stores: dict[str, GameStore] = {}
    pending: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)

    def flush(key: str) -> None:
        if pending[key]:
            report.per_config[key] += stores[key].insert(pending[key])
            pending[key] = []

    def refuse(where: str, record: Any, why: object) -> None:
        report.refused.append(Refused(where, _game_id(record), str(why)))

    try:
        for where, record in tqdm(iter_sources(Path(path)), desc=f"ingest {Path(path).name}", unit=" games",
                                  disable=not progress):
            report.sources += 1
            if isinstance(record, Exception):
                refuse(where, None, record)
                continue
            try:
                validate_record(record)
            except ValidationError as exc:
                refuse(where, record, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"
                                                 for e in exc.errors()[:3]))
                continue
            except TypeError as exc:
                refuse(where, record, str(exc) or repr(exc))
                continue
            problem = check(record) if check is not None else None
            if problem is not None:
                refuse(where, record, problem)
                continue
            key = config_key(record["boardType"], record["numPlayers"])
            if key not in stores:
                stores[key] = GameStore(cfg.game_db_path(record["boardType"], record["numPlayers"]),
                                        source_host or cfg.source_host, recreate_empty=recreate_empty)
            pending[key].append((content_hash(record), record))
            if len(pending[key]) >= CHUNK:
                flush(key)
        for key in list(pending):
            flush(key)
    finally:
        for store in stores.values():
            store.close()
    for refused in report.refused if log_refused else ():
        log.warning("not ingested: %s", refused)
    log.info("ingested %s: %s", path, report.summary())
    return report
