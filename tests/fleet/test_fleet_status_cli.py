"""`rift cluster status` against real sshd hosts, and against bad hosts files (must-show 3)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from cli.main import app

from .conftest import REPO, SshServer
from .test_fleet_health import make_store

runner = CliRunner()


def rift(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def fleet3(sshd: Callable[..., SshServer], write_hosts, tmp_path: Path):
    """Two live hosts (one with a game store) and one whose server is down."""
    a, b, down = sshd(), sshd(), sshd()
    down.stop()
    make_store(tmp_path / "hostdata" / "alpha", "square8_2p", 5)
    path = write_hosts({"alpha": a.port, "beta": b.port, "down": down.port},
                       retry={"tries": 1, "base_s": 0.01, "max_s": 0.01, "factor": 2},
                       breaker={"failure_threshold": 3, "recovery_timeout_s": 60})
    return path, down


def test_status_prints_one_table_row_per_host(fleet3) -> None:
    path, _ = fleet3
    result = rift("cluster", "status", "--hosts", str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    for header in ("host", "pool", "reach", "breaker", "health", "cpu", "mem", "disk", "gpu", "worker", "games"):
        assert header in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert "yes" in lines["alpha"] and "closed" in lines["alpha"] and "healthy" in lines["alpha"]
    assert "5" in lines["alpha"].split("│")[11]  # games column
    assert "no GPU" in lines["beta"]
    assert " no " in lines["down"] and "unhealthy" in lines["down"] and "(1)" in lines["down"]


@pytest.mark.slow
def test_status_json_and_breaker_visible_across_invocations(fleet3) -> None:
    path, down = fleet3
    rows = {r["host"]: r for r in json.loads(rift("cluster", "status", "--hosts", str(path), "--json").stdout)}
    assert rows["alpha"]["reachable"] is True and rows["alpha"]["games"] == {"square8_2p": 5}
    assert 0 <= rows["beta"]["cpu_pct"] <= 100 and rows["beta"]["gpus"] == []
    assert rows["down"]["reachable"] is False and rows["down"]["health"] == "unhealthy"
    assert "connection refused" in rows["down"]["reason"]
    for _ in range(2):  # threshold 3: each status call is one failure for the dead host
        rift("cluster", "status", "--hosts", str(path), "--json")
    rows = {r["host"]: r for r in json.loads(rift("cluster", "status", "--hosts", str(path), "--json").stdout)}
    assert rows["down"]["breaker"] == "open" and rows["down"]["reachable"] is None
    assert "skipped: breaker open" in rows["down"]["reason"]
    assert rows["alpha"]["breaker"] == "closed"
    # the operator fixes the node and closes the breaker by hand
    down.start()
    assert rift("cluster", "reset-breaker", "down", "--hosts", str(path)).exit_code == 0
    rows = {r["host"]: r for r in json.loads(rift("cluster", "status", "--hosts", str(path), "--json").stdout)}
    assert rows["down"]["breaker"] == "closed" and rows["down"]["reachable"] is True


def test_status_watch_refreshes(fleet3) -> None:
    path, _ = fleet3
    result = rift("cluster", "status", "--hosts", str(path), "--host", "alpha", "--json", "--watch",
                  "--interval", "0.1", "--count", "2")
    assert result.exit_code == 0, result.output
    refreshes = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(refreshes) == 2 and all([r["host"] for r in rows] == ["alpha"] for rows in refreshes)


def test_status_through_the_installed_command_and_env_var(fleet3, tmp_path: Path) -> None:
    path, _ = fleet3
    rift_bin = Path(__import__("sys").executable).parent / "rift"
    if not rift_bin.exists():
        pytest.skip("the rift entry point is not installed in this environment")
    env = {"RIFT_HOSTS": str(path), "COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(rift_bin), "cluster", "status", "--host", "beta"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "beta" in out.stdout and "alpha" not in out.stdout and "healthy" in out.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "the hosts file is empty"),
        ("hosts:\n", "no hosts defined"),
        ("hosts: [oops\n", "not valid YAML"),
        ("hosts:\n  vast-1:\n    ssh_host: 127.0.0.1\n    role: selfplay\n", "host 'vast-1': missing key 'user'"),
        ("hosts:\n  gh-1:\n    role: wizard\n", "unknown role 'wizard'"),
    ],
)
def test_status_with_an_empty_or_broken_hosts_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(content)
    result = rift("cluster", "status", "--hosts", str(path))
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.output


def test_missing_hosts_file_and_unknown_host(tmp_path: Path, fleet3) -> None:
    result = rift("cluster", "status", "--hosts", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "hosts file not found" in result.stderr
    path, _ = fleet3
    result = rift("cluster", "status", "--hosts", str(path), "--host", "gamma")
    assert result.exit_code == 2 and "unknown host 'gamma'" in result.stderr


def test_example_hosts_file_is_what_rift_reads_by_default() -> None:
    from infra.hosts import load_fleet, resolve_hosts_path

    assert load_fleet(REPO / "config" / "hosts.yaml").hosts
    assert resolve_hosts_path().name == "hosts.yaml"
