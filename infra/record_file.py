"""An append-only JSON-lines file of game records (`rift selfplay`'s games.jsonl), never left torn.

Each record is one line, written and fsynced before `append` returns. A write that fails
(disk full, quota) is cut back off, so the file ends after the last complete record and
a later run appends cleanly; a full disk raises `DiskFullError` naming the file and the
space the record needed. A file that already ends inside a line (a process killed
mid-write before this class existed, or a copy cut short) is repaired on open: the
partial bytes are saved beside it in `<name>.torn` and cut off, so nothing is lost and
the next record starts on a line of its own.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from infra.errors import DiskFullError, is_disk_full
from infra.journal import write_synced

log = logging.getLogger(__name__)

_BLOCK = 1 << 16


def _last_newline_end(fd: int, size: int) -> int:
    """Offset just past the last b"\\n" in the file (0 when it has none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        chunk = os.pread(fd, pos - start, start)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            return start + nl + 1
        pos = start
    return 0


class RecordFile:
    """Open `path` for appending whole lines (see the module doc)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(self.path, 4096) from exc
            raise
        self.size = os.fstat(self._fd).st_size
        self.repaired = 0
        if self.size:
            self._repair_torn_tail()

    def _repair_torn_tail(self) -> None:
        if os.pread(self._fd, 1, self.size - 1) == b"\n":
            return
        keep = _last_newline_end(self._fd, self.size)
        tail = os.pread(self._fd, self.size - keep, keep)
        torn = self.path.with_name(self.path.name + ".torn")
        try:
            with open(torn, "ab") as fh:
                fh.write(b"# %d bytes cut from the end of %s at offset %d\n" % (len(tail), bytes(self.path), keep))
                fh.write(tail + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:  # keep the torn bytes where they are rather than lose them
            self.close()
            if is_disk_full(exc):
                raise DiskFullError(torn, len(tail) + 100, f"{self.path} ends with {len(tail)} bytes of a record "
                                    "cut short; they are kept until they can be saved aside.") from exc
            raise
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        log.warning("%s ended with %d bytes of a record cut short (a write that never finished); saved them "
                    "to %s and cut them off, so new records start on a line of their own", self.path,
                    len(tail), torn)
        self.repaired, self.size = len(tail), keep

    def append(self, line: bytes) -> int:
        """Write one record line (a newline is added) and fsync; returns its start offset."""
        data = line if line.endswith(b"\n") else line + b"\n"
        start = self.size
        try:
            write_synced(self._fd, data)
        except OSError as exc:
            self.truncate(start)  # never leave half a record: the next line would be glued to it
            if is_disk_full(exc):
                raise DiskFullError(self.path, len(data),
                                    f"The {start} bytes of complete records already in the file are kept.") from exc
            raise
        self.size = start + len(data)
        return start

    def truncate(self, size: int) -> None:
        """Cut the file back to `size` bytes (the end of an earlier record)."""
        os.ftruncate(self._fd, size)
        try:
            os.fsync(self._fd)
        except OSError:  # the truncate itself frees space; a failed fsync of it is not fatal here
            log.warning("%s: fsync after cutting back to %d bytes failed", self.path, size)
        self.size = size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
