"""Artifact storage over the default LocalFileSystem block: background uploads, retries, resume."""
from __future__ import annotations

import os
import threading
import time

import pytest
from prefect.filesystems import LocalFileSystem

from infra.data_config import DataConfig
from infra.storage import ArtifactStore, UploadStatus


def store_for(cfg: DataConfig, **overrides) -> ArtifactStore:
    return ArtifactStore.from_config(cfg.model_copy(update={"upload_backoff_s": 0.02, **overrides}))


def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_default_block_is_a_local_folder_and_all_kinds_of_objects_upload(cfg, tmp_path):
    store = store_for(cfg)
    assert isinstance(store.block, LocalFileSystem)
    src = tmp_path / "profile.json"
    src.write_text('{"w": 1}')
    store.save_and_upload(b"model-bytes", "models/square8_2p/m1.pt")
    store.save_and_upload(src, "profiles/square8_2p/best.json")
    store.save_and_upload(lambda p: p.write_bytes(b"shard"), "shards/square8_2p/s1.npz")
    assert store.wait() == {"pending": 0, "completed": 3, "failed": 0}
    assert (cfg.artifacts_dir / "models/square8_2p/m1.pt").read_bytes() == b"model-bytes"
    assert store.read_bytes("profiles/square8_2p/best.json") == b'{"w": 1}'
    assert store.download("shards/square8_2p/s1.npz", tmp_path / "dl.npz").read_bytes() == b"shard"
    assert list(cfg.outbox_dir.iterdir()) == []  # staged copies are removed once uploaded
    store.close()


def test_save_and_upload_returns_before_the_work_is_done(cfg):
    store = store_for(cfg)
    release = threading.Event()
    job = store.save_and_upload(lambda p: (release.wait(10), p.write_bytes(b"late")), "models/slow.pt")
    assert job.status is UploadStatus.PENDING and store.counts()["pending"] == 1
    release.set()
    store.wait()
    assert job.status is UploadStatus.COMPLETED and store.read_bytes("models/slow.pt") == b"late"


def test_what_is_uploaded_is_the_object_as_it_was_at_the_call(cfg, tmp_path):
    store = store_for(cfg, upload_workers=1)
    gate = threading.Event()
    store.save_and_upload(lambda p: (gate.wait(10), p.write_bytes(b"x")), "hold/pool.bin")  # occupy the worker
    ckpt = tmp_path / "latest.pt"
    ckpt.write_bytes(b"weights v1")
    store.save_and_upload(ckpt, "models/v1.pt")
    buf = bytearray(b"buffer v1")
    store.save_and_upload(buf, "models/buf.pt")
    tmp = tmp_path / "latest.pt.tmp"  # the trainer writes the next checkpoint and renames it over
    tmp.write_bytes(b"weights v2")
    os.replace(tmp, ckpt)
    buf[:] = b"buffer v2"
    gate.set()
    store.wait()
    assert store.read_bytes("models/v1.pt") == b"weights v1"
    assert store.read_bytes("models/buf.pt") == b"buffer v1"


def test_failures_are_retried_with_backoff_until_they_succeed(cfg, caplog):
    store = store_for(cfg, upload_retries=20)
    obstacle = cfg.artifacts_dir / "models"  # a file where the folder must go: every write fails
    obstacle.write_text("in the way")
    job = store.save_and_upload(b"weights", "models/m.pt")
    until(lambda: job.attempts >= 3)
    assert job.status is UploadStatus.PENDING
    obstacle.unlink()
    store.wait()
    assert job.status is UploadStatus.COMPLETED and job.attempts >= 3
    assert store.read_bytes("models/m.pt") == b"weights"
    assert "upload of models/m.pt failed (attempt 1/21)" in caplog.text


def test_a_failed_upload_never_stops_the_caller_and_is_resumed_later(cfg, caplog):
    store = store_for(cfg, upload_retries=1)
    obstacle = cfg.artifacts_dir / "models"
    obstacle.write_text("in the way")
    job = store.save_and_upload(b"precious", "models/m.pt")
    ok = store.save_and_upload(b"fine", "profiles/p.json")
    counts = store.close()
    assert counts == {"pending": 0, "completed": 1, "failed": 1}
    assert job.status is UploadStatus.FAILED and job.attempts == 2 and "models" in job.error
    assert ok.status is UploadStatus.COMPLETED
    assert "failed after 2 attempts" in caplog.text and str(cfg.outbox_dir) in caplog.text
    obstacle.unlink()
    later = store_for(cfg)  # e.g. the next process start
    assert later.resume_outbox() == 1
    assert later.wait()["completed"] == 1
    assert later.read_bytes("models/m.pt") == b"precious"
    assert list(cfg.outbox_dir.iterdir()) == []


@pytest.mark.parametrize("key", ["", "/abs/path", "a/../b", "a//b"])
def test_bad_keys_are_refused(cfg, key):
    with pytest.raises(ValueError, match="relative path"):
        store_for(cfg).save_and_upload(b"x", key)
