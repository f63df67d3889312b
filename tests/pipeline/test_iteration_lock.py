"""Issue 16, must show 5: two iterations of one config on one data folder never run at once, however they
were started. These start them through the iteration flow itself, as a deployment's worker or a trigger's
run does, not through `rift iterate` (tests/commands/test_guards.py covers the command).

The first iteration is held inside its run (between taking the lock and its first phase) until the test
lets it go, so "at the same time" is a fact of the test, not a timing hope on a busy machine."""
from __future__ import annotations

import contextvars
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import flows.iteration
from flows.iteration import iteration
from infra.iteration_lock import config_lock

from . import api

REPO = Path(__file__).resolve().parents[2]


def monitor_only(board: str, data: Path) -> Any:
    """One short iteration (the monitor phase alone) of `board` 2p on `data`; its final state."""
    return iteration(board, 2, "tiny", data_dir=str(data), phases=["monitor"], return_state=True)


def test_a_second_iteration_of_a_config_is_refused_while_other_configs_and_folders_run(prefect_api, tmp_path,
                                                                                      monkeypatch):
    data = tmp_path / "data"
    inside, release = threading.Event(), threading.Event()
    real_execute = flows.iteration.execute

    def held(*args: Any, **kwargs: Any) -> Any:  # the first run waits here, holding its lock
        if threading.current_thread().name == "first":
            inside.set()
            assert release.wait(600), "the test never released the first iteration"
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(flows.iteration, "execute", held)
    states: list[Any] = []
    # the copied context carries the test server's settings into the thread (Prefect keeps them there)
    first = threading.Thread(target=contextvars.copy_context().run, name="first",
                             args=(lambda: states.append(monitor_only("hex8", data)),))
    first.start()
    try:
        assert inside.wait(600), "the first iteration never started"
        second = monitor_only("hex8", data)  # same config, same folder: refused at once
        other_config = monitor_only("square8", data)  # runs beside it
        other_folder = monitor_only("hex8", tmp_path / "elsewhere")  # so does the same config on another folder
        assert first.is_alive() and not states  # all of that while the first one was still running
    finally:
        release.set()
        first.join(600)
    assert states and states[0].is_completed(), states
    holder = api.flow_run(api.current_api(), states[0].state_details.flow_run_id)
    assert second.is_failed()
    for part in ("another iteration of hex8_2p is running on the data folder", str(data.resolve()),
                 f"flow run {holder['name']} ({holder['id']})", str(data / "locks" / "iterate-hex8_2p.lock")):
        assert part in second.message, second.message
    assert api.task_runs(api.current_api(), second.state_details.flow_run_id) == {}  # no phase of it ran
    assert other_config.is_completed(), other_config.message
    assert other_folder.is_completed(), other_folder.message
    again = monitor_only("hex8", data)  # the first one has finished: its lock went with it
    assert again.is_completed(), again.message


def test_an_iteration_is_refused_while_another_process_holds_the_config(prefect_api, tmp_path):
    """The holder is another process (another worker's flow run, or `rift iterate` in a terminal)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from infra.iteration_lock import config_lock\n"
         f"with config_lock(Path({str(tmp_path)!r}), 'hex8_2p', holder='rift iterate --board hex8'):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        state = monitor_only("hex8", tmp_path)
        assert state.is_failed()
        assert f"(pid {holder.pid} on " in state.message and "rift iterate --board hex8" in state.message
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()


def test_the_flow_goes_on_under_a_lock_its_own_caller_holds(prefect_api, tmp_path):
    """`rift iterate` takes the lock before starting a server, then runs the flow in-process: the flow
    re-enters it (another thread is refused: tests/commands/test_guards.py)."""
    with config_lock(tmp_path, "hex8_2p", holder="rift iterate"):
        state = monitor_only("hex8", tmp_path)
        assert state.is_completed(), state.message
