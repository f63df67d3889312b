"""Writing files so that a reader (or a crash) never sees half of one."""
from __future__ import annotations

from pathlib import Path


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path` (an atomic
    replace on POSIX), creating the folder first. An interrupted write (an error, or Ctrl-C /
    SIGTERM raised into it) removes the temporary file, so a stopped run leaves no half-file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
