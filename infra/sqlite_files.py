"""Opening the project's SQLite files (game stores, model registry) safely.

Both kinds of database are opened the same way: a cheap header check first (a
half-copied or overwritten file is reported before SQLite touches it), WAL mode
with `synchronous=FULL`, and every "file is damaged" error from SQLite turned
into a `CorruptDataError` that names the file and the way out, while ordinary
errors such as "database is locked" pass through unchanged.
"""
from __future__ import annotations

import logging
import os
import re
import sqlite3
from pathlib import Path

from infra.errors import CorruptDataError, DiskFullError, corrupt_database, is_disk_full

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_corruption(exc: sqlite3.Error) -> bool:
    """True for errors that mean the file is damaged, not merely busy."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in _CORRUPT_CODES:
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def guard(path: Path, exc: sqlite3.Error) -> Exception:
    """The exception to raise for `exc` raised while using the database at `path`."""
    return corrupt_database(path, exc) if is_corruption(exc) else exc


def check_sqlite_header(path: Path) -> None:
    """Magic bytes and truncation, checked without reading every page."""
    if not path.exists() or path.stat().st_size == 0:
        return
    size = path.stat().st_size
    with open(path, "rb") as fh:
        header = fh.read(100)
    if not header.startswith(SQLITE_HEADER):
        raise corrupt_database(path, RuntimeError("bad file header"))
    if len(header) < 100:
        raise corrupt_database(path, RuntimeError(f"file is truncated to {size} bytes"))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_count_valid = header[24:28] == header[92:96]
    wal = path.with_name(path.name + "-wal")
    wal_active = wal.exists() and wal.stat().st_size > 0
    if header_count_valid and not wal_active and size < pages * page_size:
        raise corrupt_database(path, RuntimeError(f"file is truncated: {size} bytes of {pages * page_size}"))


def _refuse_empty(path: Path, kind: str) -> CorruptDataError:
    return CorruptDataError(
        path, f"is empty (0 bytes) where a {kind} should be: the file was truncated or copied without its "
        "contents, so the games it held are gone from it",
        f"restore the newest backup (see infra.backup.restore_database), or, only if it never held anything, "
        f"run again with --recreate-empty-store to start a new empty {kind} in its place")


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create_new(path: Path, schema: str, timeout: float) -> None:
    """Create a database with `schema` beside `path`, then link it into place, so no half-made
    (0-byte) file is ever left at `path`; an existing file is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.new-*"):  # left by a creator killed midway
        match = re.search(r"\.new-(\d+)(-wal|-shm|-journal)?$", stale.name)
        if match and not _alive(int(match.group(1))):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        conn = sqlite3.connect(tmp, timeout=timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(schema)
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it meanwhile: use theirs
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc):
            raise DiskFullError(path, 64 * 1024, "No database was created.") from exc
        raise
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def connect(path: Path, schema: str, read_only: bool = False, probe: str | None = None,
            timeout: float = 30.0, table: str | None = None, kind: str = "database",
            recreate_empty: bool = False) -> sqlite3.Connection:
    """Open (creating if needed, unless read-only) a WAL database and apply `schema`.

    `probe` is a query run at once so that a damaged file fails here, by name. With `table`,
    the file must be one of ours: a 0-byte file is refused (unless `recreate_empty`), a SQLite
    database without `table` is refused as foreign, and a new file is created whole.
    """
    check_sqlite_header(path)
    if table is not None:
        if path.exists() and path.stat().st_size == 0:
            if read_only or not recreate_empty:
                raise _refuse_empty(path, kind)
            log.warning("%s: replacing an empty (0-byte) file with a new %s, as asked", path, kind)
            path.unlink()
        if not read_only and not path.exists():
            _create_new(path, schema, timeout)
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout,
                                   isolation_level=None, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        # a database with no tables at all holds nothing to lose: it is set up like a new one
        if table is not None and (names := _tables(conn)) and table not in names:
            conn.close()
            raise CorruptDataError(path, f"is an SQLite database but not a {kind} (its tables: "
                                   f"{', '.join(names) or 'none'})", "point --data-dir at the right folder, "
                                   "or move this file aside if it does not belong there")
        if not read_only:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(schema)
        if probe:
            conn.execute(probe).fetchall()
        return conn
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise corrupt_database(path, exc) from exc
        if is_disk_full(exc):
            raise DiskFullError(path, 64 * 1024, "The database was not changed.") from exc
        if read_only:
            raise CorruptDataError(path, f"is not the expected kind of database ({exc})",
                                   "check that the path names a file this command reads") from exc
        raise


class SqliteFile:
    """Base of the classes that own one open database file: closing, `with`, online backup."""

    path: Path
    _conn: sqlite3.Connection

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):  # noqa: ANN204 (returns the subclass)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backup(self, dest: Path) -> Path:
        """A consistent copy of the live database at `dest` (SQLite online backup), e.g. for upload."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        target = sqlite3.connect(dest)
        try:
            self._conn.backup(target)
        except sqlite3.DatabaseError as exc:
            raise guard(self.path, exc) from exc
        finally:
            target.close()
        return dest
