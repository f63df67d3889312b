"""Issue 15, must show 1-4: a fleet on one machine (tests/pipeline/fleet.py) runs iterations whose
selfplay, train and evaluate are placed on three other hosts (vast-5090, lambda-h100, gh200), each its
own data folder in a mount namespace where the others' folders are empty, sharing only the Prefect API and an S3 bucket
(moto on loopback; the cloud GPU fleet is what is simulated: the hosts are CPU processes here).

`prefect deployment run iteration/hex8 -p profile=tiny` completes twice; the second trains from the
first's model (the coordinator's registry shows the parent). In the second, the training host's worker
hangs in its phase while holding the `gpu-lambda-h100` slot and is SIGKILLed; a replacement worker (a
new host, an empty cache) picks up the rescheduled run once heartbeats mark the dead one Crashed, and
the iteration completes with nothing duplicated. A placement whose deployment is missing is refused
before any phase runs."""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import boto3
import pytest

from . import api
from .conftest import free_port
from .fleet import Fleet
from .stack import BIN

pytestmark = pytest.mark.slow
ITERATION_S = 2400  # generous: a loaded 2-core machine; the test waits on states, never on these margins


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    try:
        port = free_port()
        s3 = f.start("s3", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)])  # the bucket's host
        f.start("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(f.port)])
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="fleet",
                              aws_secret_access_key="fleet-secret")
        while True:
            try:
                client.create_bucket(Bucket="rift-fleet")
                break
            except Exception:
                assert s3.poll() is None, f"moto_server exited; see {f.root / 's3.log'}"
                time.sleep(1)
        f.wait_healthy()
        admin = {**f.env, "AWS_ACCESS_KEY_ID": "fleet", "AWS_SECRET_ACCESS_KEY": "fleet-secret"}
        f.env = admin  # the coordinator's admin: blocks from the environment, then deploy
        f.cli(str(BIN / "python"), "-m", "cli.main", "storage", "s3", "--bucket", "rift-fleet",
              "--endpoint-url", endpoint)
        out = f.cli(str(BIN / "python"), "-m", "cli.main", "deploy")
        assert "phase deployments (5 pools)" in out
        f.env = {k: v for k, v in admin.items() if not k.startswith("AWS_")}
        yield f
    finally:
        f.close()


def run_iteration(fleet: Fleet) -> tuple[str, dict]:
    run_id = fleet.run_deployment("iteration/hex8", "profile=tiny")
    return run_id, fleet.wait(run_id, timeout=ITERATION_S)


def why(fleet: Fleet, run: dict) -> str:
    """A run's state message and its last log lines: what an assertion on its state shows."""
    return f"{run['state'].get('message')}\n{api.logs(fleet.api, run['id'])[-6000:]}"


def placed_runs(fleet: Fleet) -> list[dict]:
    """Every run of the `phase` flow (the placed phases), oldest first."""
    runs = api.post(fleet.api, "/flow_runs/filter", {"flows": {"name": {"any_": ["phase"]}}, "limit": 100,
                                                     "sort": "EXPECTED_START_TIME_ASC"})
    return [r for r in runs if r["name"].startswith(("selfplay-", "train-", "evaluate-"))]


def gpu_slots(fleet: Fleet, pool: str) -> int:
    limits = api.post(fleet.api, "/v2/concurrency_limits/filter", {})
    return next(lim["active_slots"] for lim in limits if lim["name"] == f"gpu-{pool}")


def coordinator_query(fleet: Fleet, sql: str) -> list:
    """Read the coordinator's registry or game store (read-only: the operator looking, not a host)."""
    db = fleet.folder("coord") / "data" / ("registry.db" if "models" in sql else "games/hex8_2p.db")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def test_a_placement_without_its_deployment_is_refused_before_any_phase(fleet):
    """Must show 4: the iteration fails at once, naming the phase, the pool and the fix; no phase ran."""
    deployment = api.get(fleet.api, "/deployments/name/phase/evaluate-gh200")
    api.delete(fleet.api, f"/deployments/{deployment['id']}")
    coord = fleet.rift_worker("coord", "local")
    try:
        run_id, run = run_iteration(fleet)
        assert run["state"]["type"] == "FAILED"
        message = run["state"]["message"] or ""
        logs = api.logs(fleet.api, run_id)
        assert ("phase evaluate on pool gh200 (deployment phase/evaluate-gh200)" in logs
                and "run `rift deploy`" in logs), (message, logs[-2000:])
        assert api.task_runs(fleet.api, run_id) == {}  # refused before any phase ran
    finally:
        fleet.kill(coord)
        fleet.cli(str(BIN / "python"), "-c", "from flows.deploy_phases import deploy_phases as d; "  # put it back
                  "from infra.pipeline_config import load_pools_config as p; d(p())")


def test_two_iterations_across_hosts_survive_a_dead_training_worker(fleet):
    """Must show 1, 2 and 3."""
    workers = {name: fleet.rift_worker(name, pool) for name, pool in
               (("coord", "local"), ("vast", "vast-5090"), ("lambda", "lambda-h100"), ("gh200", "gh200"))}
    first_id, first = run_iteration(fleet)
    assert first["state"]["type"] == "COMPLETED", why(fleet, first)
    summary = api.artifacts(fleet.api, first_id)["iteration-hex8-2p"]["data"]
    for phase, pool in (("selfplay", "vast-5090"), ("train", "lambda-h100"), ("evaluate", "gh200")):
        assert f"| {phase} | pool {pool} (phase/{phase}-{pool}) | Completed |" in summary, summary
    assert "queue + start-up" in summary  # the summary separates waiting for a worker from phase time
    names = {r["name"] for r in placed_runs(fleet)}
    assert {"selfplay-hex8_2p-i1-vast-5090", "train-hex8_2p-i1-lambda-h100", "evaluate-hex8_2p-i1-gh200"} <= names
    (model1, parent1, status1), = coordinator_query(fleet, "SELECT id, parent_id, status FROM models")
    assert parent1 is None
    if status1 != "active":  # the gate judged it weaker than D1: make it the best so lineage can be shown
        from infra.registry import ModelRegistry
        with ModelRegistry(fleet.folder("coord") / "data" / "registry.db") as reg:
            reg.promote(model1)
    for name in ("vast", "lambda", "gh200"):  # pool hosts keep caches, never the truth
        assert not (fleet.folder(name) / "data" / "registry.db").exists()
        assert (fleet.folder(name) / "data" / "cache").is_dir() or name == "vast"

    # SIGTERM stops a worker (the Prefect worker alone ignores it): the training host goes away cleanly
    workers["lambda"].terminate()
    assert workers["lambda"].wait(timeout=600) == 0
    hung = fleet.rift_worker("lambda", "lambda-h100", RIFT_FAULTS="train=hang")
    second_id = fleet.run_deployment("iteration/hex8", "profile=tiny")
    deadline = time.monotonic() + ITERATION_S
    while not any(r["name"] == "train-hex8_2p-i2-lambda-h100" and api.state(r)["type"] == "RUNNING"
                  for r in placed_runs(fleet)):
        assert time.monotonic() < deadline, "the placed training never started"
        time.sleep(1)
    while gpu_slots(fleet, "lambda-h100") != 1:  # must show 3: the GPU phase holds its pool's slot
        assert time.monotonic() < deadline, "the training phase never took its gpu-lambda-h100 slot"
        time.sleep(1)
    fleet.kill(hung)  # the machine dies mid-phase
    fleet.rift_worker("lambda2", "lambda-h100")  # a replacement host with an empty cache
    second = fleet.wait(second_id, timeout=ITERATION_S)
    assert second["state"]["type"] == "COMPLETED", why(fleet, second)
    trains = [r for r in placed_runs(fleet) if r["name"] == "train-hex8_2p-i2-lambda-h100"]
    assert [api.state(r)["type"] for r in trains] == ["CRASHED", "COMPLETED"], [api.state(r) for r in trains]
    assert gpu_slots(fleet, "lambda-h100") == 0

    models = coordinator_query(fleet, "SELECT id, parent_id, iteration FROM models ORDER BY iteration")
    assert len(models) == 2 and models[1][1] == model1 and models[1][2] == 2  # lineage across hosts, once
    (games, distinct), = coordinator_query(fleet, "SELECT count(*), count(DISTINCT id) FROM games")
    assert games == distinct == 12  # six per iteration, none twice
    (host,), = coordinator_query(fleet, "SELECT DISTINCT source_host FROM games")
    assert host == "vast"
    assert (fleet.folder("lambda2") / "data" / "cache" / "handoff" / "models").is_dir()  # it fetched the parent


def test_gpu_phases_on_a_one_slot_pool_take_turns(fleet, own_events_client):
    """Must show 3 (second half), on the fleet's server: two holders of flows/phase.py's GPU slot for
    lambda-h100 (gpu_slots 1) never overlap, and the limit shows the holder while it holds. (Threads of
    this process stand in for two phase runs; the placed training above takes the same slot.)"""
    import threading

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.phase import gpu_slot
    spans: list[tuple[float, float, int]] = []

    def hold() -> None:
        with temporary_settings(updates={PREFECT_API_URL: fleet.api}), gpu_slot("lambda-h100", "train"):
            start = time.monotonic()
            held = gpu_slots(fleet, "lambda-h100")
            time.sleep(2)
            spans.append((start, time.monotonic(), held))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (s1, e1, h1), (s2, e2, h2) = sorted(spans)
    assert h1 == h2 == 1 and e1 <= s2  # one after the other, each seen holding the only slot
    assert gpu_slots(fleet, "lambda-h100") == 0
    with temporary_settings(updates={PREFECT_API_URL: fleet.api}), gpu_slot("lambda-h100", "monitor"):
        assert gpu_slots(fleet, "lambda-h100") == 0  # monitor reads counters: it takes no GPU slot


@pytest.fixture
def own_events_client() -> Iterator[None]:
    """After the test, stop this process's events worker. Prefect keeps one per process, bound to the API URL of the
    moment it was made: the slots above made it for the fleet's server, so every later test's events
    (task-run states among them: Prefect records task runs from events) went to that server once it
    was gone. The next event makes a new one for the URL then current."""
    yield
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=30, at_exit=False)
