"""`rift iterate` never runs twice for one config, notices a dead server, and `rift up` never deploys into
a server it did not start (issue 16, must-show 5); `--dry-run` starts no server (issue 17)."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.guards import ServerWatch, probe
from cli.main import app
from cli.prefect_server import TemporaryServer
from infra.iteration_lock import ConfigLocked, config_lock

from .helpers import REPO, health_server

runner = CliRunner()


def take_in_another_thread(data: Path, config: str) -> BaseException | None:
    """Take and release the lock in a new thread (a fresh context: not this one's caller); what it raised."""
    raised: list[BaseException] = []

    def take() -> None:
        try:
            with config_lock(data, config):
                pass
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)
    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return raised[0] if raised else None


def test_a_second_holder_of_a_config_lock_is_refused_naming_the_first(tmp_path: Path) -> None:
    with config_lock(tmp_path, "hex8_2p", holder="rift iterate --board hex8") as path:
        refused = take_in_another_thread(tmp_path, "hex8_2p")
        assert isinstance(refused, ConfigLocked)
        assert re.search(r"another iteration of hex8_2p is running on the data folder .* \(pid \d+ on \S+: "
                         r"rift iterate --board hex8; lock .*iterate-hex8_2p.lock\)", str(refused)), refused
        assert take_in_another_thread(tmp_path, "square8_2p") is None  # another config is independent
        with config_lock(tmp_path, "hex8_2p"):  # the holder's own call chain (its in-process flow) re-enters
            pass
        assert isinstance(take_in_another_thread(tmp_path, "hex8_2p"), ConfigLocked)  # re-entry released nothing
    assert path == tmp_path / "locks" / "iterate-hex8_2p.lock"
    assert take_in_another_thread(tmp_path, "hex8_2p") is None  # released on the way out


def test_a_forked_worker_that_outlives_a_killed_holder_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A phase's worker pool is forked while the iteration holds the lock; when the holder is SIGKILLed
    and a worker lives on, the lock must go with the holder (or the resume would be refused)."""
    script = ("import os, sys, time; from pathlib import Path; from infra.iteration_lock import config_lock\n"
              f"with config_lock(Path({str(tmp_path)!r}), 'hex8_2p'):\n"
              "    child = os.fork()\n"
              "    if child == 0:\n"
              "        sys.stdin.read(); os._exit(0)\n"  # the worker: lives until the test closes its stdin
              "    print(child, flush=True); time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None
        worker = int(holder.stdout.readline())
        assert isinstance(take_in_another_thread(tmp_path, "hex8_2p"), ConfigLocked)
        holder.kill()
        holder.wait()
        os.kill(worker, 0)  # the worker is still alive (raises if not)
        assert take_in_another_thread(tmp_path, "hex8_2p") is None
    finally:
        holder.kill()
        assert holder.stdin is not None
        holder.stdin.close()  # the worker reads end of file and exits


def test_rift_iterate_is_refused_while_another_holds_the_config(tmp_path: Path, monkeypatch) -> None:
    """The holder is another process (as a second terminal would be); the refusal comes before any
    Prefect server is started."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from infra.iteration_lock import config_lock\n"
         f"with config_lock(Path({str(tmp_path)!r}), 'hex8_2p'):\n    print('held', flush=True); sys.stdin.read()"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(TemporaryServer, "start", lambda *a, **k: pytest.fail("started a Prefect server"))
        args = ["iterate", "--board", "hex8", "--players", "2", "--profile", "tiny", "--data-dir", str(tmp_path)]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "another iteration of hex8_2p is running" in result.output
        assert f"pid {holder.pid}" in result.output
        plan = runner.invoke(app, [*args, "--dry-run"])  # a dry run takes no lock and starts no server
        assert plan.exit_code == 0, plan.output
        # with no server configured the plan says none will start until the run; after an earlier test's
        # session server (Prefect's settings context lives on in this process) it names that server
        assert "iteration 1 of hex8_2p" in plan.output
        assert "not by --dry-run" in plan.output or "Prefect: server http" in plan.output
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()


def test_server_watch_reports_a_server_that_stops_answering() -> None:
    gone = threading.Event()
    messages: list[str] = []

    def on_dead(message: str) -> None:
        messages.append(message)
        gone.set()

    with health_server() as (url, server):
        with ServerWatch(url, on_dead, dead_after_s=1.0, poll_s=0.1):
            assert not gone.wait(1.5), messages  # answering: nothing to report
            server.shutdown()
            server.server_close()
            assert gone.wait(60), "the watch never noticed the server had gone"
    assert url in messages[0] and "stopped answering" in messages[0] and "rerun the same command" in messages[0]


def test_server_watch_reports_at_once_when_the_server_process_is_gone() -> None:
    gone = threading.Event()
    messages: list[str] = []
    with health_server() as (url, _):
        with ServerWatch(url, lambda m: (messages.append(m), gone.set()), dead_after_s=3600, poll_s=0.1,
                         alive=lambda: False, what="temporary Prefect server"):
            assert gone.wait(60)
    assert messages[0].startswith(f"the temporary Prefect server at {url} stopped answering (its process exited)")


def test_rift_up_refuses_a_server_it_did_not_start(tmp_path: Path) -> None:
    with health_server() as (url, _):
        port = url.split(":")[2].split("/")[0]
        result = runner.invoke(app, ["up", "--port", port, "--no-deploy", "--logs", str(tmp_path / "logs")])
    assert result.exit_code == 2, result.output
    assert f"a Prefect server already answers at {url}, and this `rift up` did not start it" in result.output
    assert f"--api-url {url}" in result.output
    assert not (tmp_path / "logs").exists()  # nothing started


def test_rift_up_with_an_api_url_that_does_not_answer_names_it(tmp_path: Path) -> None:
    with health_server() as (url, server):
        server.shutdown()
        server.server_close()
    result = runner.invoke(app, ["up", "--api-url", url, "--no-deploy"])
    assert result.exit_code == 2 and f"--api-url {url} does not answer" in result.output


def test_tables_stay_readable_outside_a_terminal(tmp_path: Path) -> None:
    """Rich squeezed piped tables into 80 columns ("con...", "ite..."); COLUMNS is what a CI may set."""
    result = runner.invoke(app, ["models", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "id" in line and "config" in line)
    for column in ("config", "iteration", "status_reason", "parent_id", "created_at"):
        assert f" {column} " in header, header
    assert "…" not in result.output


def test_rift_iterate_names_a_configured_server_that_does_not_answer(tmp_path: Path, monkeypatch) -> None:
    """The active profile (or PREFECT_API_URL) names a server that is down: say so at once, before any
    phase, rather than retrying it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    with health_server() as (url, server):
        server.shutdown()
        server.server_close()
    monkeypatch.setattr(TemporaryServer, "start", lambda *a, **k: pytest.fail("started a Prefect server"))
    with temporary_settings(updates={PREFECT_API_URL: url}):
        result = runner.invoke(app, ["iterate", "--profile", "tiny", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert f"the Prefect server {url} (from the active Prefect profile) does not answer" in result.output
    assert "rift up" in result.output


def test_a_busy_server_is_not_taken_for_a_dead_one() -> None:
    """Connections accepted but not answered (a starved server on a loaded machine): not dead after
    dead_after_s, only after slow_after_s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel accepts connections; nobody ever answers them
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    messages: list[str] = []
    fired = threading.Event()
    try:
        assert probe(url, timeout=0.5) == "slow"
        with ServerWatch(url, lambda m: (messages.append(m), fired.set()), dead_after_s=0.1, poll_s=0.1,
                         slow_after_s=3600):
            assert not fired.wait(3), messages
        with ServerWatch(url, lambda m: (messages.append(m), fired.set()), dead_after_s=0.1, poll_s=0.1,
                         slow_after_s=0.5):
            assert fired.wait(120)
        assert f"no answer from {url}/health" in messages[0]
    finally:
        listener.close()


def test_rift_up_warns_before_continuous_mode_on_its_own_sqlite_server() -> None:
    """Issue 18's soak: SQLite crashed 9 runs in an hour of continuous mode, PostgreSQL none."""
    from cli.up import database_advice
    warning = database_advice("sqlite", True, None)
    assert warning and "--database postgres" in warning
    assert database_advice("postgres", True, None) is None
    assert database_advice("sqlite", False, None) is None  # an iteration now and then: SQLite is fine
    assert database_advice("sqlite", True, "http://10.0.0.5:4200/api") is None  # not the server it starts
