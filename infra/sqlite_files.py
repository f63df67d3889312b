"""Opening the project's SQLite files (game stores, model registry) safely.

Both kinds of database are opened the same way: a cheap header check first (a
half-copied or overwritten file is reported before SQLite touches it), WAL mode
with `synchronous=FULL`, and every "file is damaged" error from SQLite turned
into a `CorruptDataError` that names the file and the way out, while ordinary
errors such as "database is locked" pass through unchanged.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from infra.errors import CorruptDataError, corrupt_database

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


def connect(path: Path, schema: str, read_only: bool = False, probe: str | None = None,
            timeout: float = 30.0) -> sqlite3.Connection:
    """Open (creating if needed, unless read-only) a WAL database and apply `schema`.

    `probe` is a query run at once so that a damaged file fails here, by name.
    """
    check_sqlite_header(path)
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout,
                                   isolation_level=None, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(schema)
        if probe:
            conn.execute(probe).fetchall()
        return conn
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise corrupt_database(path, exc) from exc
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
