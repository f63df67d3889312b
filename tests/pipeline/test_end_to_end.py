"""Must show 1 and 2, end to end through Prefect's own command line: a real `prefect server start` on
loopback, process workers, `prefect --no-prompt deploy --all` from prefect.yaml, and
`prefect deployment run iteration/hex8 -p profile=tiny`; then a worker killed in the middle of an
iteration, and the re-run that skips the phases which had finished (their task runs show as Cached)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from infra.gamestore import GameStore

from . import api
from .conftest import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class Stack:
    """A Prefect server, its deployments and workers, all in one temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.data = root / "data"
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RIFT_"))}
        self.env = {**keep, "PREFECT_HOME": str(root / "prefect"), "PREFECT_API_URL": self.api,
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                    "PREFECT_WORKER_QUERY_SECONDS": "2", "RIFT_DATA_DIR": str(self.data),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(args, cwd=self.root, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run(args, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                api.get(self.api, "/health")
                return
            except Exception:
                time.sleep(0.5)
        raise TimeoutError(f"prefect server did not come up; see {self.root / 'server.log'}")

    def worker(self, name: str, **env: str) -> subprocess.Popen:
        return self.start(name, [str(BIN / "prefect"), "worker", "start", "--pool", "local", "--name", name], **env)

    def run_deployment(self, name: str, *params: str) -> str:
        args = [str(BIN / "prefect"), "deployment", "run", name]
        for p in params:
            args += ["-p", p]
        return re.search(r"UUID: ([0-9a-f-]{36})", self.cli(*args)).group(1)

    def wait(self, flow_run_id: str, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = api.flow_run(self.api, flow_run_id)
            if run["state"]["type"] in TERMINAL:
                return run
            time.sleep(1)
        raise TimeoutError(f"flow run {flow_run_id} still {run['state']['name']}")

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL a process, everything it started and its process group: a machine dying."""
        try:
            family = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        for p in family:
            p.kill()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e"))
    try:
        s.start("server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(s.port)])
        s.wait_healthy()
        s.cli(str(BIN / "python"), "-c", "from infra.pipeline_config import load_pools_config as l; "
              "from tasks.limits import ensure_pools; ensure_pools(l())")
        out = s.cli(str(BIN / "prefect"), "--no-prompt", "deploy", "--all")
        assert "Deployment 'iteration/hex8' successfully created" in out
        assert "Deployment 'backup/hourly' successfully created" in out
        yield s
    finally:
        s.close()


def games(stack: Stack) -> int:
    with GameStore(stack.data / "games" / "hex8_2p.db", "t", read_only=True) as store:
        return store.count()


def phase_states(stack: Stack, flow_run_id: str) -> dict[str, str]:
    return {name: run["state"]["name"] for name, run in api.task_runs(stack.api, flow_run_id).items()}


def test_deployment_run_through_the_cli_completes_every_phase(stack):
    """Must show 1 (for the phases in this build: selfplay, sync, monitor)."""
    worker = stack.worker("w1")
    run_id = stack.run_deployment("iteration/hex8", "profile=tiny")
    run = stack.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert phase_states(stack, run_id) == {"selfplay": "Completed", "sync": "Completed", "monitor": "Completed"}
    found = api.artifacts(stack.api, run_id)
    assert {"iteration-hex8-2p", "seat-win-rates", "resources-hex8-2p", "selfplay-progress-hex8-2p"} <= set(found)
    summary = found["iteration-hex8-2p"]["data"]
    assert "# Iteration 1 · hex8_2p · profile tiny" in summary
    assert games(stack) == 6
    stack.kill(worker)


def test_killed_worker_then_rerun_skips_finished_phases(stack):
    """Must show 2: the worker dies while sync runs; the re-run serves selfplay from its cache."""
    hung = stack.worker("w2", RIFT_FAULTS="sync=hang")
    first = stack.run_deployment("iteration/hex8", "profile=tiny")
    deadline = time.monotonic() + 120
    while phase_states(stack, first).get("sync") != "Running":
        assert time.monotonic() < deadline, f"sync never started: {phase_states(stack, first)}"
        time.sleep(0.5)
    assert phase_states(stack, first)["selfplay"] == "Completed" and games(stack) == 12
    stack.kill(hung)
    assert api.flow_run(stack.api, first)["state"]["type"] == "RUNNING"  # nobody left to finish it

    stack.worker("w3")
    second = stack.run_deployment("iteration/hex8", "profile=tiny")
    run = stack.wait(second)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert phase_states(stack, second) == {"selfplay": "Cached", "sync": "Completed", "monitor": "Completed"}
    summary = api.artifacts(stack.api, second)["iteration-hex8-2p"]["data"]
    assert "# Iteration 2 · hex8_2p" in summary and "| selfplay | in-process | Cached |" in summary
    assert games(stack) == 12  # iteration 2's six games, stored once
