"""Must show 6: `rift iterate` stops cleanly on SIGTERM and on Ctrl-C, and the same command resumes.

The slow tests start `rift iterate` as a real process in its own session, with a temporary
PREFECT_HOME and data folder, so it starts its own temporary Prefect server (cli/prefect_server.py)
as a user's command does. They wait, by polling its output or its own process tree (never a fixed
sleep), until a phase is in progress, send the signal the way it arrives in real life, and check:
the exit status (128 + signal) within a bound, the one line saying how to resume, that every
process it had started (server, selfplay workers) is gone, and that no half-written `*.tmp` file is
left in the data folder. Ctrl-C is a SIGINT to the whole process group, as a terminal sends it: the
case that used to hang. Timeouts are generous: on a loaded 2-core machine the server alone has
taken minutes to come up.

The quick tests check `StopSignals` itself in a small child process (no Prefect).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_S = 900.0  # until a phase runs: imports and the temporary server, slow on a starved machine
STOP_S = 180.0  # the command's watchdog forces its exit 60 s after the signal; the rest is slack
RERUN_S = 900.0
COMMAND = ["iterate", "--board", "hex8", "--players", "2", "--profile", "tiny"]


def command_line(proc: psutil.Process) -> str:
    """Its command line, or "" when it ended between being listed and being read (a worker that finished)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


class Rift:
    """One `rift iterate` process, its output in a file, in a session of its own."""

    def __init__(self, root: Path, *args: str, **env: str) -> None:
        self.root, self.args = root, [str(BIN / "rift"), *COMMAND, "--data-dir", str(root / "data"), *args]
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RIFT_"))}
        self.env = {**keep, "PREFECT_HOME": str(root / "prefect"), "PYTHONPATH": str(REPO),
                    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(int(START_S)),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", **env}
        self.log = root / f"rift-{len(list(root.glob('rift-*.log')))}.log"
        self.seen: dict[int, psutil.Process] = {}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.args, cwd=root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def family(self) -> list[psutil.Process]:
        """Every process this command started, and theirs (only its own tree is looked at)."""
        try:
            found = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen.update({p.pid: p for p in found})
        return found

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = START_S) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, f"rift ended ({self.proc.returncode}) before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s:\n{self.output()}"
            time.sleep(0.5)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rift still running {timeout:.0f} s later:\n{self.output()}")

    def close(self) -> None:
        """Test clean-up: SIGKILL whatever of it is still there (nothing, when the test passed); psutil
        refuses to kill a pid that another process has taken since."""
        if self.proc.poll() is None:
            self.family()
            self.proc.kill()
            self.proc.wait(30)
        for p in self.seen.values():
            try:
                p.kill()
            except psutil.Error:
                pass


@pytest.fixture
def started(tmp_path: Path):
    runs: list[Rift] = []

    def start(*args: str, **env: str) -> Rift:
        runs.append(Rift(tmp_path, *args, **env))
        return runs[-1]
    yield start
    for run in runs:
        run.close()


def assert_stopped_cleanly(run: Rift, family: list[psutil.Process], sig: signal.Signals, code: int) -> None:
    """Exit status, the resume line, no process left of those it had started, no half-written file."""
    t0 = time.monotonic()
    assert run.wait(STOP_S) == code, run.output()
    out = run.output()
    assert f"stopped by {sig.name}" in out and "resume with the same command: rift iterate" in out, out
    _, alive = psutil.wait_procs(family, timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], \
        f"left running: {[(p.pid, command_line(p)[:80]) for p in alive]}"
    assert not list((run.root / "data").rglob("*.tmp")), list((run.root / "data").rglob("*.tmp"))
    print(f"{sig.name}: exited {code} {time.monotonic() - t0:.1f} s after the signal")


def table(out: str) -> dict[str, str]:
    """Phase -> state from the result table `rift iterate` prints."""
    rows = [[c.strip() for c in line.split("│")] for line in out.splitlines() if line.count("│") == 5]
    return {r[1]: r[3] for r in rows if r[1] != "phase"}


@pytest.mark.slow
def test_ctrl_c_during_a_phase_then_the_same_command_resumes(started):
    """Ctrl-C (SIGINT to the process group) while train runs: exit 130 with the resume line, server gone;
    the same command then completes iteration 1 with selfplay, sync and cmaes served from the cache."""
    run = started(RIFT_FAULTS="train=hang")  # train blocks until stopped: the signal lands inside a phase
    run.wait_for(lambda: "injected fault 'hang'" in run.output(), "train phase in progress")
    family = run.family()
    assert any("cli.prefect_server" in command_line(p) for p in family), "no temporary server of its own"
    os.killpg(run.proc.pid, signal.SIGINT)
    assert_stopped_cleanly(run, family, signal.SIGINT, 130)

    again = started()  # the same command line (without the drill's fault)
    assert again.wait(RERUN_S) == 0, again.output()
    out = again.output()
    assert "iteration 1 of hex8_2p" in out, out
    assert table(out) == {"selfplay": "Cached", "sync": "Cached", "cmaes": "Cached", **dict.fromkeys(
        ("train", "profile_sync", "evaluate", "gate", "monitor"), "Completed")}, out
    assert not list((again.root / "data").rglob("*.tmp"))


@pytest.mark.slow
def test_sigterm_during_selfplay_stops_its_worker_pool_and_server(started, tmp_path):
    """SIGTERM to the process alone (`kill PID`) while selfplay's process pool plays: exit 143 soon after,
    the pool's workers and the temporary server gone. The tiny profile plays in-process, so this copy
    of config/pipeline.yaml gives its selfplay two worker processes and games enough to be caught."""
    cfg = yaml.safe_load((REPO / "config" / "pipeline.yaml").read_text())
    cfg["profiles"]["tiny"]["selfplay"].update(games=3000, processes=2, progress_every=25)
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(cfg))
    run = started("--config", str(tmp_path / "pipeline.yaml"))

    def pool_playing() -> bool:  # the forkserver and both of its workers
        return sum("multiprocessing.forkserver" in command_line(p) for p in run.family()) >= 3
    run.wait_for(pool_playing, "selfplay workers")
    family = run.family()
    os.kill(run.proc.pid, signal.SIGTERM)
    assert_stopped_cleanly(run, family, signal.SIGTERM, 143)


STOPPER = textwrap.dedent("""
    import os, signal, sys, time
    from cli.stopping import StopSignals, Stopped
    with StopSignals(grace_s=float(sys.argv[1])) as stop:
        try:
            print("ready", flush=True)
            time.sleep(60)
        except Stopped as exc:
            print("stopped", exc.signum, stop.exit_code, flush=True)
            stop.leave()
            time.sleep(60)  # a clean-up that hangs: the watchdog or a second signal must end it
""")


def stopper(grace_s: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", STOPPER, str(grace_s)], cwd=REPO, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_first_signal_raises_stopped_and_a_second_forces_the_exit():
    proc = stopper(grace_s=120)
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout.readline().split() == ["stopped", str(int(signal.SIGTERM)), "143"]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "stopped by SIGTERM (second signal (SIGINT): forced exit)" in out, out


def test_a_hanging_clean_up_is_ended_by_the_watchdog():
    proc = stopper(grace_s=1)
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline().split() == ["stopped", str(int(signal.SIGINT)), "130"]
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "still stopping after 1 s: forced exit" in out, out


def test_an_interrupted_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    from cli.stopping import Stopped
    from engine.files import write_atomic

    def interrupted(self: Path, target: Path) -> None:
        raise Stopped(signal.SIGTERM)
    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(Stopped):
        write_atomic(tmp_path / "out.json", "{}")
    assert list(tmp_path.iterdir()) == []


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_abandoned_selfplay_pool_stops_its_running_workers_at_once():
    from concurrent.futures import ProcessPoolExecutor

    from infra.procpool import abandon_pool
    pool = ProcessPoolExecutor(2)
    futures = [pool.submit(time.sleep, 120) for _ in range(6)]
    deadline = time.monotonic() + 120
    while sum(f.running() for f in futures) < 2:
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.1)
    pids = [w.pid for w in pool._processes.values()]
    t0 = time.monotonic()
    abandon_pool(pool)
    assert time.monotonic() - t0 < 30
    # by pid, not Process.is_alive(): the executor's own thread may reap a worker first, and then
    # is_alive() reads a dead process as alive (waitpid fails and poll() returns None)
    assert not any(_running(pid) for pid in pids)
    assert any(f.cancelled() for f in futures)  # what was still queued (some are already handed to workers)
