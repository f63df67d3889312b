"""Errors of the data layer that a person has to act on.

A damaged database or shard must never fail silently or as a bare sqlite/zip
traceback: the message names the file, says what is wrong and what to do, and
states that nothing was modified, so an operator can recover without guessing.
"""
from __future__ import annotations

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
