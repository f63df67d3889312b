"""Cluster control over real sshd: workers, code updates and selfplay placement."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Callable

import psutil
import pytest
from typer.testing import CliRunner

from cli.main import app
from infra.cluster import Cluster
from infra.health import worker_pid_file
from infra.hosts import load_fleet, parse_fleet

from .conftest import SshServer, host_entry, unique_pool

runner = CliRunner()
FAKE_WORKER = "sh -c 'echo \"worker pool=$0 host=$1\"; exec sleep 300' {pool} {host}"


def rift(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.slow
def test_start_and_stop_workers_per_pool(sshd: Callable[..., SshServer], write_hosts, ssh_keys, tmp_path: Path) -> None:
    a, b = sshd(), sshd()
    gh200, vast = unique_pool("gh200"), unique_pool("vast-5090")
    hosts = {
        "alpha": host_entry(a.port, ssh_keys, tmp_path / "alpha", work_pool=gh200),
        "beta": host_entry(b.port, ssh_keys, tmp_path / "beta", work_pool=vast),
    }
    path = write_hosts(hosts, worker_command=FAKE_WORKER, health={"require_worker": True})
    result = rift("cluster", "start-workers", "--hosts", str(path))
    assert result.exit_code == 0, result.output
    pids = {}
    for name, pool in (("alpha", gh200), ("beta", vast)):
        pid_file = Path(worker_pid_file(tmp_path / name, pool))
        pids[name] = int(pid_file.read_text())
        assert alive(pids[name])
        assert (pid_file.with_suffix(".log")).read_text().strip() == f"worker pool={pool} host={name}"
    assert rift("cluster", "start-workers", "--hosts", str(path)).output.count("already running") == 2

    rows = {r.host.name: r for r in Cluster(load_fleet(path)).status()}
    assert rows["alpha"].snapshot.worker.running and rows["alpha"].snapshot.worker.pid == pids["alpha"]
    assert rows["alpha"].health.status.value == "healthy"

    result = rift("cluster", "stop-workers", "--hosts", str(path), "--host", "beta")
    assert result.exit_code == 0 and "stopped: pid" in result.output
    assert not alive(pids["beta"]) and alive(pids["alpha"])
    rows = {r.host.name: r for r in Cluster(load_fleet(path)).status()}
    assert not rows["beta"].snapshot.worker.running and rows["beta"].health.status.value == "degraded"
    assert "worker not running" in rows["beta"].health.reason
    assert "stopped: pid" in rift("cluster", "stop-workers", "--hosts", str(path)).output
    assert not alive(pids["alpha"])


def test_a_worker_that_dies_at_once_is_reported_with_its_log(sshd: Callable[..., SshServer], write_hosts) -> None:
    a = sshd()
    path = write_hosts({"alpha": a.port}, worker_command="sh -c 'echo no such pool >&2; exit 1'")
    result = rift("cluster", "start-workers", "--hosts", str(path))
    assert result.exit_code == 1
    assert "failed" in result.output and "no such pool" in result.output


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """An origin repository and two clones, one per host."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    git(origin, "config", "user.email", "t@example.invalid")
    git(origin, "config", "user.name", "t")
    (origin / "rules.txt").write_text("v1\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "v1")
    clones = {}
    for name in ("alpha", "beta"):
        clones[name] = tmp_path / f"clone-{name}"
        git(tmp_path, "clone", "-q", str(origin), str(clones[name]))
    (origin / "rules.txt").write_text("v2\n")
    git(origin, "commit", "-qam", "v2")
    return origin, clones


def test_update_code_reports_per_host_and_stashes_when_asked(
    sshd: Callable[..., SshServer], write_hosts, ssh_keys, repos, tmp_path: Path
) -> None:
    origin, clones = repos
    a, b = sshd(), sshd()
    hosts = {n: host_entry(s.port, ssh_keys, tmp_path / n, project_path=str(clones[n]), venv=None)
             for n, s in (("alpha", a), ("beta", b))}
    path = write_hosts(hosts)
    (clones["beta"] / "rules.txt").write_text("local edit\n")  # conflicts with v2

    result = rift("cluster", "update-code", "--hosts", str(path))
    assert result.exit_code == 1
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert "ok" in lines["alpha"] and "updated" in lines["alpha"]
    assert "failed" in lines["beta"]
    assert (clones["alpha"] / "rules.txt").read_text() == "v2\n"
    assert (clones["beta"] / "rules.txt").read_text() == "local edit\n"

    result = rift("cluster", "update-code", "--hosts", str(path), "--stash")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output and "updated" in result.output
    assert (clones["beta"] / "rules.txt").read_text() == "v2\n"
    assert "rift cluster update-code" in git(clones["beta"], "stash", "list")
    assert git(clones["beta"], "rev-parse", "HEAD") == git(origin, "rev-parse", "HEAD")


def test_selfplay_command_is_the_documented_one() -> None:
    fleet = parse_fleet({"hosts": {
        "box": {"ssh_host": "127.0.0.1", "user": "u", "key_path": "k", "project_path": "/p", "memory_gb": 8,
                "cpus": 2, "role": "selfplay", "work_pool": "local"},
    }})
    (job,) = Cluster(fleet).plan_selfplay("hex8", 10, players=3, engine="mcts", seed=5, out="runs/x")
    assert job.command == "rift selfplay --board hex8 --players 3 --games 10 --engine mcts --seed 5 --out runs/x/box"


@pytest.mark.slow
def test_selfplay_starts_on_eligible_hosts_only(
    sshd: Callable[..., SshServer], write_hosts, ssh_keys, tmp_path: Path
) -> None:
    a, b, c = sshd(), sshd(), sshd()
    hosts = {
        "small": host_entry(a.port, ssh_keys, tmp_path / "small", memory_gb=8),
        "big": host_entry(b.port, ssh_keys, tmp_path / "big", memory_gb=128, gpu="RTX 5090", vram_gb=32),
        "trainer": host_entry(c.port, ssh_keys, tmp_path / "trainer", role="training", memory_gb=256),
        "mixed": host_entry(c.port, ssh_keys, tmp_path / "mixed", role="mixed", memory_gb=64, status="draining"),
    }
    recorder = "sh -c 'mkdir -p \"$0\" && echo \"$@\" > \"$0/args.txt\" && exec sleep 300' {out} " + \
        "--board {board} --players {players} --games {games} --engine {engine} --seed {seed}"
    path = write_hosts(hosts, selfplay_command=recorder)
    out = tmp_path / "runs"

    result = rift("cluster", "selfplay", "start", "--hosts", str(path), "--board", "square8", "--games", "7",
                  "--seed", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    args = {n: shlex.split((out / n / "args.txt").read_text()) for n in ("small", "big")}
    assert not (out / "trainer").exists() and not (out / "mixed").exists()  # wrong role / draining
    assert args["small"][:6] == ["--board", "square8", "--players", "2", "--games", "4"]
    assert args["big"][5] == "3" and sum(int(a[5]) for a in args.values()) == 7
    assert args["small"][9] != args["big"][9]  # distinct seeds

    again = rift("cluster", "selfplay", "start", "--hosts", str(path), "--board", "square8", "--games", "7",
                 "--out", str(out))
    assert again.output.count("already running") == 2

    gpu_only = rift("cluster", "selfplay", "start", "--hosts", str(path), "--board", "hex8", "--games", "5",
                    "--gpu", "--min-memory-gb", "64", "--dry-run")
    assert gpu_only.exit_code == 0 and gpu_only.output.startswith("big: ") and "small" not in gpu_only.output
    none = rift("cluster", "selfplay", "start", "--hosts", str(path), "--board", "hex8", "--games", "5",
                "--min-memory-gb", "1000")
    assert none.exit_code == 1 and "no eligible host" in none.stderr

    stopped = rift("cluster", "selfplay", "stop", "--hosts", str(path), "--board", "square8")
    assert stopped.exit_code == 0 and stopped.output.count("stopped: pid") == 2


def test_selfplay_start_checks_board_and_engine_before_contacting_any_host(
    sshd: Callable[..., SshServer], write_hosts, ssh_keys, tmp_path: Path
) -> None:
    """An engine or board no host could run is an error here (exit 2), not `ok started`."""
    a = sshd()
    recorder = "sh -c 'mkdir -p \"$0\" && echo \"$@\" > \"$0/args.txt\" && exec sleep 300' {out} --engine {engine}"
    path = write_hosts({"small": host_entry(a.port, ssh_keys, tmp_path / "small")}, selfplay_command=recorder,
                       connect_timeout_s=60, command_timeout_s=120)  # a loaded machine: ceilings, not asserted
    out = tmp_path / "runs"
    state = load_fleet(path).state_path
    cases = [
        (["--board", "square8", "--engine", "bogus"], "unknown engine 'bogus'"),
        (["--board", "square8", "--engine", "mcts:no_such_knob=3"], "--engine 'mcts:no_such_knob=3'"),
        (["--board", "square8", "--engine", "neural"], "needs model=PATH"),
        (["--board", "octagon"], "unknown board 'octagon'"),
    ]
    for args, message in cases:
        result = rift("cluster", "selfplay", "start", "--hosts", str(path), "--games", "2", "--out", str(out), *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "started" not in result.output
    assert not out.exists()  # nothing started anywhere
    assert not (state / "ssh-failures.jsonl").exists() and not (state / "breakers.json").exists()
    with pytest.raises(ValueError, match="unknown engine"):
        Cluster(load_fleet(path)).plan_selfplay("square8", 2, engine="bogus")

    ok = rift("cluster", "selfplay", "start", "--hosts", str(path), "--board", "hex8", "--games", "2",
              "--engine", "mcts:simulations=8", "--out", str(out), "--timeout", "120")
    assert ok.exit_code == 0, ok.output
    assert shlex.split((out / "small" / "args.txt").read_text()) == ["--engine", "mcts:simulations=8"]
    assert rift("cluster", "selfplay", "stop", "--hosts", str(path), "--board", "hex8", "--timeout", "120").exit_code == 0
