"""Append-only, fsynced journal of finished games: the first place a game becomes durable.

The pipeline this replaces lost 45,000 games held in a writer's memory. Here a
game is written to a journal file and fsynced before `GameWriter.append` returns,
so a SIGKILL at any instant loses only the games whose append had not returned.

Format: one line per game, `<crc32 hex> <canonical JSON {"h": hash, "r": record}>\\n`.
A kill mid-write leaves a line without its newline (a torn tail), which is
ignored; a complete line whose checksum fails is real corruption, reported with
the file and byte offset and copied aside, never silently dropped.

Each writer owns one journal file under an exclusive `flock`; the kernel drops the
lock when the process dies, which is how a new writer tells an orphaned journal
(to replay) from a live one (to leave alone).
"""
from __future__ import annotations

import fcntl
import logging
import os
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from infra.errors import DiskFullError, is_disk_full
from infra.records import canonical_json

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"


@dataclass(frozen=True)
class JournalEntry:
    content_hash: str
    record: dict[str, Any]
    end_offset: int  # byte offset just past this entry's line


@dataclass
class JournalScan:
    entries: list[JournalEntry] = field(default_factory=list)
    torn_tail_bytes: int = 0
    bad_lines: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, raw line)


def encode_entry(content_hash: str, record: dict[str, Any]) -> bytes:
    payload = canonical_json({"h": content_hash, "r": record})
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


def _decode_line(line: bytes) -> tuple[str, dict[str, Any]] | None:
    crc_hex, _, payload = line.partition(b" ")
    try:
        if len(crc_hex) != 8 or int(crc_hex, 16) != zlib.crc32(payload):
            return None
        obj = orjson.loads(payload)
        return obj["h"], obj["r"]
    except (ValueError, KeyError, TypeError):
        return None


def write_synced(fd: int, data: bytes) -> None:
    """Write all of `data` at the descriptor's position and fsync: durable on return. On OSError
    part of it may be written; the caller cuts the file back to where it started."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make a created/renamed/removed directory entry durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scan(path: Path, start_offset: int = 0) -> JournalScan:
    """Read the entries of a journal from `start_offset`, classifying damaged bytes."""
    result = JournalScan()
    with open(path, "rb") as fh:
        fh.seek(start_offset)
        data = fh.read()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            result.torn_tail_bytes = len(data) - pos
            break
        line = data[pos:nl]
        decoded = _decode_line(line)
        if decoded is None:
            result.bad_lines.append((start_offset + pos, line))
        else:
            result.entries.append(JournalEntry(decoded[0], decoded[1], start_offset + nl + 1))
        pos = nl + 1
    if result.torn_tail_bytes:
        log.warning("%s: ignoring %d bytes of an entry cut off by a crash (never reported as journaled)",
                    path, result.torn_tail_bytes)
    for offset, _ in result.bad_lines:
        log.error("%s: damaged journal line at byte %d (checksum mismatch); copied to %s.bad, "
                  "the other entries are replayed", path, offset, path.name)
    if result.bad_lines:
        with open(path.with_name(path.name + ".bad"), "ab") as bad:
            for offset, line in result.bad_lines:
                bad.write(b"# offset %d\n" % offset + line + b"\n")
            bad.flush()
            os.fsync(bad.fileno())
    return result


def try_lock(path: Path, create: bool = False) -> int | None:
    """Open `path` and take its exclusive lock without waiting.

    None when a live writer holds the lock, or the file is gone (its owner
    finished and deleted it between listing and opening).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def journals_in(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}")) if directory.exists() else []


class Journal:
    """The journal file of one live writer."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{uuid.uuid4().hex}{SUFFIX}"
        fd = try_lock(self.path, create=True)
        if fd is None:  # a fresh uuid cannot be locked by anyone else
            raise RuntimeError(f"{self.path}: journal unexpectedly locked")
        self._fd = fd
        self.size = 0
        fsync_dir(directory)

    @property
    def name(self) -> str:
        return self.path.name

    def append(self, entries: list[tuple[str, dict[str, Any]]]) -> list[int]:
        """Write entries and fsync; returns each entry's end offset. Durable on return."""
        chunks = [encode_entry(h, r) for h, r in entries]
        data = b"".join(chunks)
        try:
            write_synced(self._fd, data)
        except OSError as exc:
            # e.g. disk full: cut the partial line off, or the next entry would be glued to it
            os.ftruncate(self._fd, self.size)
            if is_disk_full(exc):
                raise DiskFullError(self.path, len(data), "The games journaled before it are kept and "
                                    "reach the database on the next run.") from exc
            raise
        ends, pos = [], self.size
        for chunk in chunks:
            pos += len(chunk)
            ends.append(pos)
        self.size = pos
        return ends

    def close(self, delete: bool) -> None:
        """Release the lock; delete the file when every entry is in the database."""
        if self._fd < 0:
            return
        if delete:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
        os.close(self._fd)
        self._fd = -1
