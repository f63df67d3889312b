"""Errors of the data layer that a person has to act on.

A damaged database or shard must never fail silently or as a bare sqlite/zip
traceback: the message names the file, says what is wrong and what to do, and
states that nothing was modified, so an operator can recover without guessing.
"""
from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path


class CorruptDataError(RuntimeError):
    """A durable file (game database, registry, shard, journal line) cannot be read."""

    def __init__(self, path: Path | str, problem: str, remedy: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{self.path}: {problem}. Nothing was modified. What to do: {remedy}")


def corrupt_database(path: Path | str, cause: BaseException, extra: str = "") -> CorruptDataError:
    """The standard error for a SQLite file that is not a readable database."""
    name = Path(path).name
    remedy = (
        f"move it aside (mv '{path}' '{path}.corrupt'), then restore the newest backup from artifact "
        f"storage (keys 'backups/games/{name}/...' or 'backups/registry/{name}/...', see "
        f"infra.backup.restore_database) or salvage rows with `sqlite3 '{path}.corrupt' .recover | sqlite3 '{path}'`"
    )
    if extra:
        remedy += f"; {extra}"
    return CorruptDataError(path, f"not a readable SQLite database ({cause})", remedy)


ENOSPC_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
SQLITE_FULL = 13


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def free_bytes(path: Path | str) -> int | None:
    """Free space on the filesystem holding `path` (its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def is_disk_full(exc: BaseException) -> bool:
    """True for 'no space left on device' from the OS or from SQLite."""
    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError) and exc.errno in ENOSPC_ERRNOS:
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == SQLITE_FULL) or "disk is full" in str(exc).lower()
    return False


class DiskFullError(OSError):
    """The disk holding `path` is full: one message with the file, the space needed and what is kept."""

    def __init__(self, path: Path | str, needed: int, kept: str = "") -> None:
        self.path = Path(path)
        self.needed = needed
        self.free = free_bytes(self.path)
        message = (f"{self.path}: no space left on device: writing it needs about {fmt_bytes(needed)} more, "
                   f"{fmt_bytes(self.free)} free there. {kept + ' ' if kept else ''}"
                   f"What to do: free at least {fmt_bytes(needed)} on that disk (or write somewhere else) "
                   "and run again; nothing partial was left behind.")
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message
