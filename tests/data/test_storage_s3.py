"""Must show 2: the S3 path against a real S3 API on loopback (moto's server), including an outage."""
from __future__ import annotations

import hashlib
import time

import pytest

from infra.data_config import DataConfig
from infra.storage import ArtifactStore, UploadStatus


def payload(i: int, size: int = 256 << 10) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (size // 32)


def test_s3_bucket_block_round_trip(moto_s3, cfg, tmp_path):
    store = ArtifactStore.from_config(cfg, block=moto_s3.bucket("rift-roundtrip"))
    big = tmp_path / "ckpt.pt"
    big.write_bytes(payload(1, 12 << 20))  # above boto's multipart threshold
    store.save_and_upload(big, "models/square8_2p/ckpt.pt")
    store.save_and_upload(b"profile", "profiles/square8_2p/p.json")
    assert store.wait() == {"pending": 0, "completed": 2, "failed": 0}
    store.put_file(big, "backups/ckpt-sync.pt")
    fresh = moto_s3.bucket("rift-roundtrip", create=False)  # another client sees the objects
    keys = sorted(o["Key"] for o in fresh.list_objects())
    assert keys == ["backups/ckpt-sync.pt", "models/square8_2p/ckpt.pt", "profiles/square8_2p/p.json"]
    assert store.download("models/square8_2p/ckpt.pt", tmp_path / "dl.pt").read_bytes() == big.read_bytes()
    assert store.read_bytes("profiles/square8_2p/p.json") == b"profile"
    store.close()


@pytest.mark.slow
def test_uploads_survive_an_s3_outage_in_the_middle(moto_s3, tmp_path):
    cfg = DataConfig(data_dir=tmp_path / "data", upload_workers=3, upload_retries=10, upload_backoff_s=0.1,
                     upload_backoff_max_s=1.0)
    store = ArtifactStore.from_config(cfg, block=moto_s3.bucket("rift-outage"))
    jobs = [store.save_and_upload(payload(i), f"shards/square8_2p/{i:03d}.npz") for i in range(40)]
    deadline = time.monotonic() + 20
    while store.counts()["completed"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    moto_s3.stop()  # outage: connections refused while uploads are in flight
    try:
        time.sleep(0.3)  # a request the server had already accepted may still finish
        done_before = store.counts()["completed"]
        jobs += [store.save_and_upload(payload(i), f"shards/square8_2p/{i:03d}.npz") for i in range(40, 50)]
        time.sleep(1.5)
        assert store.counts()["completed"] == done_before, "nothing can complete while S3 is down"
    finally:
        moto_s3.start()  # same port: the service comes back
    counts = store.wait(timeout=60)
    assert counts == {"pending": 0, "completed": 50, "failed": 0}
    assert done_before < 50, "the outage must interrupt uploads, not follow them"
    assert sum(j.attempts > 1 for j in jobs) >= cfg.upload_workers, "uploads in flight were retried"
    fresh = moto_s3.bucket("rift-outage", create=False)
    keys = sorted(o["Key"] for o in fresh.list_objects("shards"))
    assert keys == [f"shards/square8_2p/{i:03d}.npz" for i in range(50)]
    for i in (0, 17, 45, 49):
        assert fresh.read_path(f"shards/square8_2p/{i:03d}.npz") == payload(i)
    assert all(j.status is UploadStatus.COMPLETED for j in jobs)
    assert list(cfg.outbox_dir.iterdir()) == []
    store.close()


@pytest.mark.slow
def test_block_configured_by_name(moto_s3, prefect_api, tmp_path):
    """`storage_block: s3-bucket/<name>` loads the saved block (the cluster setting)."""
    block = moto_s3.bucket("rift-named")
    block.credentials.save("rift-test-creds", overwrite=True)
    block.save("rift-artifacts", overwrite=True)
    cfg = DataConfig(data_dir=tmp_path / "data", storage_block="s3-bucket/rift-artifacts")
    store = ArtifactStore.from_config(cfg)
    assert type(store.block).__name__ == "S3Bucket" and store.block.bucket_name == "rift-named"
    store.save_and_upload(b"via the named block", "models/named.pt")
    assert store.wait()["completed"] == 1
    assert moto_s3.bucket("rift-named", create=False).read_path("models/named.pt") == b"via the named block"
