"""The data plane: how a phase's files travel between the coordinator and the host it is placed on.

The coordinator (where the iteration flow runs) owns the game store and the registry.
A phase placed on a work pool never sees the coordinator's data folder: it is handed
artifact keys, fetches them into its own data folder (only a cache), and hands back
keys of what it made. The artifact store (the configured storage block: an S3 bucket
on a fleet, a local folder on one machine) is the only medium the hosts share.

Keys name content, never hosts or paths: `<kind>/<config>/<sha256[:16]>/<file name>`.
So publishing the same file twice uploads it once, a fetched file is verified against
its key, and a key handed to any host means the same bytes there.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from infra.shards import sha256_file
from infra.storage import ArtifactStore

CACHE_DIR = "cache"  # under a host's data folder: fetched artifacts, laid out by key
DIGEST_CHARS = 16


class DataPlaneError(RuntimeError):
    """An artifact is missing from the store or arrived with other bytes than its key names."""


def content_key(kind: str, config: str, path: Path, digest: str | None = None) -> str:
    """The key of a file's bytes: `<kind>/<config>/<sha256[:16]>/<name>`."""
    return f"{kind}/{config}/{(digest or sha256_file(path))[:DIGEST_CHARS]}/{Path(path).name}"


def key_digest(key: str) -> str | None:
    """The content digest a key names (None for keys not made by `content_key`)."""
    parts = key.split("/")
    if len(parts) >= 4 and len(parts[-2]) == DIGEST_CHARS and all(c in "0123456789abcdef" for c in parts[-2]):
        return parts[-2]
    return None


def exists(store: ArtifactStore, key: str) -> bool:
    return key in store.list_keys(key)


def publish(store: ArtifactStore, path: Path, kind: str, config: str) -> str:
    """Upload a finished file under its content key (once: a key already stored is not re-sent)."""
    path = Path(path)
    if not path.is_file():
        raise DataPlaneError(f"cannot publish {path}: no such file")
    key = content_key(kind, config, path)
    if not exists(store, key):
        store.put_file(path, key)
    return key


def cache_path(data_dir: Path, key: str) -> Path:
    """Where a host keeps its copy of `key`: `<data>/cache/<key>`."""
    return Path(data_dir) / CACHE_DIR / key


def fetch(store: ArtifactStore, key: str, data_dir: Path) -> Path:
    """The local copy of `key` in this host's cache, downloaded and verified if not there yet."""
    dest = cache_path(data_dir, key)
    want = key_digest(key)
    if dest.is_file() and (want is None or sha256_file(dest).startswith(want)):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            store.download(key, tmp)
        except Exception as exc:
            raise DataPlaneError(f"artifact {key} could not be fetched from the artifact store "
                                 f"({type(exc).__name__}: {exc}); was it published by the coordinator?") from exc
        got = sha256_file(tmp) if want is not None else None
        if got is not None and not got.startswith(want):
            raise DataPlaneError(f"artifact {key} arrived with other bytes than its key names (sha256 "
                                 f"{got[:DIGEST_CHARS]}); not used")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def place(src: Path, dest: Path) -> Path:
    """Put a cached file at `dest` (hard link, else copy): how a phase's working folder is laid out."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
    return dest
