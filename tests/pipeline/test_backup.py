"""Must show 4: the hourly backup flow against a real S3 API on loopback (moto's server) uploads only what
changed since the last run, verifies each upload, and restores into a fresh folder bit-for-bit."""
from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest

from flows.backup import backup, restore
from infra.registry import ModelRegistry
from tasks.backup import digest_of
from tasks.selfplay import play_and_store

BUCKET = "rift-backups"


@pytest.fixture
def s3_block(prefect_api, s3_endpoint) -> str:
    """A saved S3Bucket block (credentials in their own block) pointing at the loopback server."""
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters
    creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
                           aws_client_parameters=AwsClientParameters(
                               endpoint_url=s3_endpoint, config={"s3": {"addressing_style": "path"}}))
    creds.get_s3_client().create_bucket(Bucket=BUCKET)
    creds.save("rift-backup-creds", overwrite=True)
    S3Bucket(bucket_name=BUCKET, credentials=creds).save("rift-backups", overwrite=True)
    return "s3-bucket/rift-backups"


def bucket_objects(s3_endpoint: str) -> dict[str, tuple[str, object]]:
    """Every object in the bucket: key -> (etag, last modified), read with a fresh client."""
    import boto3
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {o["Key"]: (o["ETag"], o["LastModified"]) for p in pages for o in p.get("Contents", [])}


def content_objects(objects: dict) -> dict:
    return {k: v for k, v in objects.items() if "/objects/" in k}


def test_backup_uploads_only_changes_and_restores_bit_for_bit(s3_block, s3_endpoint, make_ctx, tmp_path):
    data = tmp_path / "data"
    play_and_store(make_ctx(data_dir=data))
    play_and_store(make_ctx(board="square8", data_dir=data))
    with ModelRegistry(data / "registry.db") as reg:
        reg.register("hex8", 2, path="models/hex8_2p/m1.pt", iteration=1)
    model1 = data / "models" / "hex8_2p" / "m1.pt"
    model1.parent.mkdir(parents=True)
    model1.write_bytes(os.urandom(3 << 20))

    first = backup(data_dir=str(data), block=s3_block)
    assert first["files"] == 4 and first["uploaded_objects"] == 4
    assert first["changed"] == ["games/hex8_2p.db", "games/square8_2p.db", "models/hex8_2p/m1.pt", "registry.db"]
    after_first = bucket_objects(s3_endpoint)
    assert len(content_objects(after_first)) == 4

    unchanged = backup(data_dir=str(data), block=s3_block)
    assert unchanged["uploaded_objects"] == 0 and unchanged["changed"] == []
    assert content_objects(bucket_objects(s3_endpoint)) == content_objects(after_first)

    play_and_store(make_ctx(data_dir=data, iteration=2))  # hex8 store grows; square8 and the registry do not
    model2 = data / "models" / "hex8_2p" / "m2.pt"
    model2.write_bytes(os.urandom(1 << 20))
    second = backup(data_dir=str(data), block=s3_block)
    assert second["changed"] == ["games/hex8_2p.db", "models/hex8_2p/m2.pt"]
    assert second["uploaded_objects"] == 2 and second["uploaded_bytes"] < first["uploaded_bytes"]
    now = content_objects(bucket_objects(s3_endpoint))
    assert len(now) == 6
    assert all(now[k] == v for k, v in content_objects(after_first).items()), "unchanged objects were rewritten"

    dest = tmp_path / "restored"
    result = restore(dest=str(dest), block=s3_block)
    assert result["restored"] == 5
    for rel in ("models/hex8_2p/m1.pt", "models/hex8_2p/m2.pt"):
        assert (dest / rel).read_bytes() == (data / rel).read_bytes()
    for rel in ("games/hex8_2p.db", "games/square8_2p.db", "registry.db"):
        restored = hashlib.sha256((dest / rel).read_bytes()).hexdigest()
        assert restored == digest_of(data / rel), rel  # the consistent snapshot of the live file, byte for byte
    with sqlite3.connect(dest / "games" / "hex8_2p.db") as conn:
        assert conn.execute("SELECT count(*) FROM games").fetchone()[0] == 12
    with pytest.raises(Exception, match="fresh folder"):
        restore(dest=str(dest), block=s3_block)
