"""Fixtures of the data-layer tests: a config in a temporary folder and a loopback S3 server."""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from infra.data_config import DataConfig


@pytest.fixture
def cfg(tmp_path: Path) -> DataConfig:
    return DataConfig(data_dir=tmp_path / "data", source_host="test-host")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoS3:
    """moto's S3 server on 127.0.0.1 that a test can stop and restart on the same port (an outage)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer
        self._cls = ThreadedMotoServer
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> None:
        self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def bucket(self, name: str, *, create: bool = True, retries: int = 1):
        """A prefect-aws S3Bucket block (in-process, not saved) pointing at this server."""
        from prefect_aws import AwsCredentials, S3Bucket
        from prefect_aws.client_parameters import AwsClientParameters
        creds = AwsCredentials(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
            aws_client_parameters=AwsClientParameters(
                endpoint_url=self.endpoint,
                config={"s3": {"addressing_style": "path"}, "retries": {"max_attempts": retries},
                        "connect_timeout": 2, "read_timeout": 10}))
        if create:
            creds.get_s3_client().create_bucket(Bucket=name)
        return S3Bucket(bucket_name=name, credentials=creds)


@pytest.fixture(scope="module")
def moto_s3():
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = MotoS3()
    server.start()
    yield server
    server.stop()
