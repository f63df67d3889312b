"""A real Prefect stack for end-to-end tests: `prefect server start` on loopback, process workers and
`prefect --no-prompt deploy --all` from prefect.yaml, all in one temporary folder."""
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

from . import api
from .conftest import free_port

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
                    # flow runs import this checkout (a worktree's), not where the venv was installed from
                    "PYTHONPATH": str(REPO),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(args, cwd=self.root, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, timeout: float = 600) -> str:
        out = subprocess.run(args, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def wait_healthy(self, timeout: float = 600) -> None:  # minutes on a loaded 2-core machine
        """Until the server (the first process started) answers, or its process has died."""
        server = self.procs[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and server.poll() is None:
            try:
                api.get(self.api, "/health")
                return
            except Exception:
                time.sleep(0.5)
        raise TimeoutError(f"prefect server did not come up (exit {server.poll()}); see {self.root / 'server.log'}")

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
            if api.state(run)["type"] in TERMINAL:
                return run
            time.sleep(1)
        raise TimeoutError(f"flow run {flow_run_id} still {api.state(run)['name']}")

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


def deployed_stack(root: Path) -> Iterator[Stack]:
    """A server with the pools of config/pools.yaml and every deployment of prefect.yaml (a generator
    for module fixtures: closes everything it started)."""
    s = Stack(root)
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
