"""`rift storage s3` checks the fleet's bucket before it saves any block (issue 15, must-show 5: found
when docs/fleet.md was tried from a fresh clone). Against moto's S3 server on loopback.

A block naming a missing bucket used to be saved without complaint, and the first placed phase then
failed on a GPU host. The check runs before the Prefect server is contacted, so the refusal needs no
server (PREFECT_API_URL points at a closed port: reaching it would fail differently)."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import boto3
import pytest
from typer.testing import CliRunner

from cli.fleet import block_env, bucket_problem
from cli.main import app

from .helpers import free_port

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(endpoint: str):  # noqa: ANN201 - boto3's client type is generated
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def test_a_missing_bucket_is_named_and_created_only_when_asked(endpoint: str) -> None:
    s3 = client(endpoint)
    problem = bucket_problem(s3, "fleet-missing", endpoint, create=False)
    assert problem is not None and "'fleet-missing' does not exist" in problem and "--create" in problem
    assert "fleet-missing" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket_problem(s3, "fleet-made", endpoint, create=True) is None
    assert "fleet-made" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket_problem(s3, "fleet-made", endpoint, create=False) is None  # exists now: fine as it is


def test_an_endpoint_that_does_not_answer_is_named() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    s3 = boto3.client("s3", endpoint_url=dead, region_name="us-east-1", aws_access_key_id="k",
                      aws_secret_access_key="s", config=boto3.session.Config(retries={"max_attempts": 1},
                                                                            connect_timeout=5))
    problem = bucket_problem(s3, "any", dead, create=False)
    assert problem is not None and dead in problem and "does not answer" in problem


def test_the_command_refuses_a_missing_bucket_before_saving_anything(endpoint: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    # the command reads the API from Prefect's settings (environment or profile); in this process those
    # were loaded before the test, so the URL is set through them. Nothing listens there: never reached.
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        result = CliRunner().invoke(app, ["storage", "s3", "--bucket", "nobody-made-this", "--endpoint-url",
                                          endpoint])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "'nobody-made-this' does not exist" in text and "no block was saved" in text


def test_block_env_sets_persistence_with_the_results_block() -> None:
    assert block_env(None, None) == {}
    env = block_env("s3-bucket/a", "s3-bucket/r")
    assert env == {"RIFT_STORAGE_BLOCK": "s3-bucket/a", "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": "s3-bucket/r",
                   "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true"}
