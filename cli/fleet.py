"""Setting up a fleet host: `rift storage s3`, `rift deploy`, `rift worker --pool NAME`.

A host of the fleet needs the same few settings every time, and a worker missing one of
them fails late and confusingly (a phase that cannot see the bucket, a coordinator that
cannot read a placed run's result, a dead worker nobody notices). So the project sets them:

- `rift storage s3` saves the AwsCredentials and S3Bucket blocks (artifacts and results) on the
  Prefect server from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): the secret
  goes to the server's block store, never to a file here.
- `rift deploy` registers prefect.yaml and generates `phase/<phase>-<pool>` for every pool.
- `rift worker --pool NAME` starts `prefect worker start` with the host's name, its data folder,
  the storage and result blocks and flow-run heartbeats, and stops it on SIGTERM (the Prefect
  worker alone ignores SIGTERM for minutes: it gets SIGINT, then SIGKILL after a grace period).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import output
from cli.output import fail
from cli.prefect_home import PREFECT_DEFAULTS, configured_api

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFECT = Path(sys.executable).parent / "prefect"  # the venv's CLI, whatever the PATH says
HEARTBEAT_S = 30  # Prefect's minimum; the zombie automation (tasks/limits.py) waits 90 s
console = output.console()


def block_env(storage_block: str | None, results_block: str | None) -> dict[str, str]:
    """The settings that make a worker's flow runs keep artifacts and results in the fleet's bucket."""
    env = {"RIFT_STORAGE_BLOCK": storage_block} if storage_block else {}
    if results_block:
        env.update(PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=results_block, PREFECT_RESULTS_PERSIST_BY_DEFAULT="true")
    return env


def worker_env(pool: str, host: str, data_dir: Path, storage_block: str | None, results_block: str | None,
               heartbeat_s: int = HEARTBEAT_S) -> dict[str, str]:
    """The settings every worker host needs, on top of the environment."""
    startup = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    return {**os.environ, "RIFT_SOURCE_HOST": host, "RIFT_DATA_DIR": str(data_dir.resolve()),
            "RIFT_POOL": pool, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat_s),
            startup: PREFECT_DEFAULTS[startup], **block_env(storage_block, results_block)}


def worker(
    pool: Annotated[str, typer.Option(help="Work pool from config/pools.yaml this host serves.")],
    name: Annotated[str | None, typer.Option(help="This host's name (limits, game records); default hostname.")] = None,
    data_dir: Annotated[Path, typer.Option(help="This host's data folder (a cache on a pool host).")] = Path("data"),
    storage_block: Annotated[str | None, typer.Option(envvar="RIFT_STORAGE_BLOCK",
                                                      help="Artifact block, e.g. s3-bucket/rift-artifacts.")] = None,
    results_block: Annotated[str | None, typer.Option(envvar="PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK",
                                                      help="Result block, e.g. s3-bucket/rift-results.")] = None,
    grace_s: Annotated[float, typer.Option(help="Seconds a stopping worker gets before SIGKILL.")] = 20.0,
) -> None:
    """Run this host's Prefect worker for POOL with everything a fleet host needs; SIGTERM stops it."""
    from infra.pipeline_config import PipelineConfigError, load_pools_config
    try:
        pools = load_pools_config()
    except PipelineConfigError as exc:
        fail(str(exc))
    if pool not in pools.pools:
        fail(f"pool {pool!r} is not in {pools.source} (pools: {', '.join(pools.pools)})")
    api = configured_api()
    if not api:
        fail("no Prefect API: export PREFECT_API_URL=http://<coordinator>:4200/api (the coordinator's server)")
    host = name or socket.gethostname()
    if pool != pools.local_pool and not (storage_block and results_block):
        fail(f"pool {pool} runs placed phases for a coordinator elsewhere: give --storage-block and "
              "--results-block (or RIFT_STORAGE_BLOCK and PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK); "
              "`rift storage s3` creates them")
    env = {**worker_env(pool, host, data_dir, storage_block, results_block), "PREFECT_API_URL": api}
    args = [str(PREFECT), "worker", "start", "--pool", pool, "--name", host]
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, start_new_session=True)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, _f: stopping.append(s))
    signal.signal(signal.SIGINT, lambda s, _f: stopping.append(s))
    console.print(f"worker {host} for pool {pool}: pid {proc.pid}, data {env['RIFT_DATA_DIR']}, heartbeats "
                  f"every {HEARTBEAT_S} s; SIGTERM or Ctrl-C stops it")
    while proc.poll() is None and not stopping:
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    raise typer.Exit(0 if stopping else (proc.returncode or 1))


def deploy() -> None:
    """Register prefect.yaml's deployments, the work pools and limits, and every phase/<phase>-<pool>."""
    from infra.pipeline_config import load_pools_config
    from tasks.limits import ensure_pools, ensure_zombie_automation
    if not configured_api():
        fail("no Prefect API: deploy into which server? (`rift up` starts one and deploys; then `prefect profile "
              "use ringrift` or export PREFECT_API_URL)")
    pools = load_pools_config()
    ensure_pools(pools)
    ensure_zombie_automation()
    from_yaml, phases = deploy_all(pools)
    console.print(f"deployed {from_yaml} deployments from prefect.yaml and {phases} phase deployments "
                  f"({len(pools.pools)} pools)")


def deploy_all(pools: Any, env: dict[str, str] | None = None) -> tuple[int, int]:
    """`prefect deploy --all` (prefect.yaml, in a process with `env`) and every phase/<phase>-<pool> of
    `pools` (in this process's Prefect settings): (deployments from prefect.yaml, phase deployments)."""
    from flows.deploy_phases import deploy_phases
    out = subprocess.run([str(PREFECT), "--no-prompt", "deploy", "--all"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"prefect deploy failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return out.stdout.count("successfully created"), len(deploy_phases(pools))


def bucket_problem(client: Any, bucket: str, endpoint: str, create: bool) -> str | None:
    """Why the fleet could not use `bucket` through `client` (None when it can), creating it if asked.

    Checked before any block is saved: a block naming a missing or forbidden bucket would only fail
    later, on a GPU host, in the middle of a placed phase."""
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        client.head_bucket(Bucket=bucket)
        return None
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("403", "AccessDenied", "Forbidden"):
            return (f"the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY may not use bucket {bucket!r} at "
                    f"{endpoint} ({code}): grant them s3:ListBucket, GetObject, PutObject and DeleteObject on it")
        if code not in ("404", "NoSuchBucket", "NotFound"):
            return f"bucket {bucket!r} at {endpoint} cannot be checked: {exc}"
    except BotoCoreError as exc:
        return f"S3 at {endpoint} does not answer ({exc}): check --endpoint-url, the network and AWS_DEFAULT_REGION"
    if not create:
        return (f"bucket {bucket!r} does not exist at {endpoint}: create it (`aws s3 mb s3://{bucket}`, or add "
                f"--create here) or name an existing one with --bucket")
    try:
        client.create_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        return f"bucket {bucket!r} could not be created at {endpoint}: {exc}"
    console.print(f"created bucket {bucket!r} at {endpoint}")
    return None


def storage_s3(
    bucket: Annotated[str, typer.Option(help="The S3 bucket shared by the fleet.")],
    endpoint_url: Annotated[str | None, typer.Option(envvar="AWS_ENDPOINT_URL", help="S3-compatible endpoint.")] = None,
    artifacts: Annotated[str, typer.Option(help="Block name for artifacts.")] = "rift-artifacts",
    results: Annotated[str, typer.Option(help="Block name for Prefect results.")] = "rift-results",
    create: Annotated[bool, typer.Option("--create", help="Create the bucket if it does not exist.")] = False,
) -> None:
    """Save the AwsCredentials and two S3Bucket blocks (artifacts/, results/) from the environment."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not (key and secret):
        fail("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (never in a file)")
    if not configured_api():
        fail("no Prefect API: the blocks are saved on the coordinator's server (`prefect profile use ringrift` "
              "after `rift up`, or export PREFECT_API_URL)")
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters
    params = AwsClientParameters(endpoint_url=endpoint_url, config={"s3": {"addressing_style": "path"}}) \
        if endpoint_url else AwsClientParameters()
    creds = AwsCredentials(aws_access_key_id=key, aws_secret_access_key=secret,
                           region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), aws_client_parameters=params)
    problem = bucket_problem(creds.get_s3_client(), bucket, endpoint_url or "AWS S3", create)
    if problem:
        fail(problem + "; no block was saved")
    creds.save("rift-aws", overwrite=True)
    for name, folder in ((artifacts, "artifacts"), (results, "results")):  # separate folders: PREFECT.md
        S3Bucket(bucket_name=bucket, credentials=creds, bucket_folder=folder).save(name, overwrite=True)
    console.print(f"saved blocks aws-credentials/rift-aws, s3-bucket/{artifacts}, s3-bucket/{results}\n"
                  f"on each host: export RIFT_STORAGE_BLOCK=s3-bucket/{artifacts} "
                  f"PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK=s3-bucket/{results}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("deploy")(deploy)
    group = typer.Typer(help="Artifact and result storage blocks.", no_args_is_help=True)
    group.command("s3")(storage_s3)
    app.add_typer(group, name="storage")
