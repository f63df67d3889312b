"""`rift up --database postgres`: the Prefect server on a real PostgreSQL (Debian's postgresql package)
that the project starts and stops (infra/postgres.py); a flow runs against it and its run is in
PostgreSQL's tables. Skipped where PostgreSQL is not installed."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from .conftest import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FLOW = """
from prefect import flow
@flow(name="pg-check")
def check() -> int:
    return 42
assert check() == 42
"""


def _postgres_installed() -> bool:
    from infra.postgres import PostgresError, bin_dir
    try:
        return (bin_dir() / "initdb").exists()
    except PostgresError:
        return False


@pytest.mark.skipif(not _postgres_installed(), reason="PostgreSQL is not installed (apt-get install postgresql)")
def test_rift_up_runs_the_server_on_postgres_started_by_the_project():
    from infra.postgres import PostgresCluster
    root = Path(tempfile.mkdtemp(prefix="rift-pg-test-", dir="/tmp"))  # reachable by the postgres account
    os.chmod(root, 0o755)
    port, pg_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}/api"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RIFT_"))}
    env = {**keep, "PREFECT_HOME": str(root / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "RIFT_DATA_DIR": str(root / "data"), "RIFT_POSTGRES_PORT": str(pg_port),
           "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(root / "up.log", "wb")
    up = subprocess.Popen([str(BIN / "python"), "-m", "cli.main", "up", "--database", "postgres", "--port", str(port),
                           "--no-deploy", "--logs", str(root / "data" / "logs")], cwd=REPO, env=env, stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True)
    cluster = PostgresCluster(root / "data" / "postgres", port=pg_port)
    try:
        deadline = time.monotonic() + 900  # initdb, then the server creates its tables: minutes when loaded
        while "worker for pool local running" not in (root / "up.log").read_text():
            assert up.poll() is None, (root / "up.log").read_text()
            assert time.monotonic() < deadline, (root / "up.log").read_text()
            time.sleep(1)
        assert "PostgreSQL for the Prefect server" in (root / "up.log").read_text()
        assert httpx.get(f"{api}/health", timeout=30).status_code == 200

        run = subprocess.run([str(BIN / "python"), "-c", FLOW], env={**env, "PREFECT_API_URL": api}, cwd=root,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        runs = httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": ["pg-check"]}}},
                          timeout=30).json()
        assert [r["state"]["type"] for r in runs] == ["COMPLETED"]
        stored = cluster.sql("SELECT fr.state_type FROM flow_run fr JOIN flow f ON f.id = fr.flow_id "
                             "WHERE f.name = 'pg-check'")
        assert stored.split() == ["COMPLETED"]  # the server's data is in PostgreSQL, not in a SQLite file
        assert not (root / "prefect" / "prefect.db").exists()
        assert oct((root / "data" / "postgres" / "password").stat().st_mode & 0o777) == "0o600"
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGTERM)  # `rift up` stops worker, server and PostgreSQL
            try:
                up.wait(180)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
        stopped = not cluster.running()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert stopped, "rift up left PostgreSQL running"
