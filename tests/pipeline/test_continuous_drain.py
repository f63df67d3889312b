"""Continuous mode's control (tasks/continuous_control.py), on the session's Prefect server:

- a selfplay batch killed mid-way keeps every game it finished (journaled as each ends, stored by
  the next writer or by `rift continuous off`'s recovery);
- training is queued by the amount of new data: one run per `train_every` new games at most, none
  while one is alive, none when the switch is off, and the run queued finds its games to train on.

The end-to-end drain (`rift continuous off --wait` with work in flight) is in
test_continuous_end_to_end.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.data_config import load_data_config
from infra.gamestore import GameStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prefect_api():
    """The temporary Prefect server of tests/conftest.py, with a longer start-up allowance: on this
    shared, loaded machine it has taken more than conftest's 120 s."""
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=900):
        yield

KILLED_BATCH = """
import sys
from tasks.common import PhaseContext
from tasks.selfplay import play_and_store
ctx = PhaseContext.model_validate_json(open(sys.argv[1]).read())
play_and_store(ctx, on_game=lambda n: print(n, flush=True))
"""


def test_a_killed_selfplay_batch_keeps_every_game_it_finished(make_ctx, tmp_path):
    """SIGKILL to the batch's whole process group (the harshest stop: nothing of Python's cleanup runs)
    once it has reported games as finished; every one of them is stored afterwards, none twice."""
    from tasks.continuous_control import recover_games
    ctx = make_ctx(selfplay={"games": 400, "processes": 2}).model_copy(update={"mode": "continuous", "batch": 1})
    (tmp_path / "ctx.json").write_text(ctx.model_dump_json())
    out = tmp_path / "reported.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-c", KILLED_BATCH, str(tmp_path / "ctx.json")], stdout=sink,
                                env=env, cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(out.read_text().split()) < 3:  # three games finished and journaled
        assert proc.poll() is None, f"the batch ended before it was killed: {proc.returncode}"
        assert time.monotonic() < deadline, "no game finished in 600 s"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(60)
    reported = int(out.read_text().split()[-1])
    assert proc.returncode == -signal.SIGKILL and 3 <= reported < 400

    data = load_data_config(data_dir=tmp_path / "data")
    recovered = recover_games(data, ["hex8"])
    with GameStore(data.game_db_path("hex8", 2), "t", read_only=True) as store:
        stored = store.count()
        ids = store.ids()
    assert stored >= reported, f"{reported} games were reported finished, {stored} stored"
    assert stored < 400 and len(set(ids)) == len(ids) == stored
    assert all(i.startswith("sp-hex8_2p-i1-b1-") for i in ids)
    assert recover_games(data, ["hex8"]) == 0 and recovered <= stored  # nothing left to replay


def _train_deployment() -> None:
    """continuous-train/hex8 as `prefect deploy` makes it (no worker: its runs stay Scheduled)."""
    from flows.continuous import train_on_games
    train_on_games.to_deployment(name="hex8", parameters={"board": "hex8"}).apply()


def test_training_is_queued_by_new_data_one_at_a_time(prefect_api, make_ctx, tmp_path):
    """Batches of 6 games, `train_every` 12: a training is queued when 12 new games are stored and none
    is alive; while one is queued nothing more is (however many batches arrive); when it has trained,
    the next one waits for 12 newer games; the switch off queues nothing."""
    from prefect.client.orchestration import get_client
    from prefect.states import Completed

    from flows.continuous import train_on_games
    from tasks.continuous_control import continuous_runs, request_training, set_switch
    from tasks.ledger import read_ledger
    from tasks.selfplay import play_and_store
    _train_deployment()
    data = load_data_config(data_dir=tmp_path / "data")
    queued = []
    for batch in range(1, 7):  # batches arrive faster than anything trains
        play_and_store(make_ctx().model_copy(update={"mode": "continuous", "batch": batch}))
        queued.append(request_training(data, "hex8", 2, "tiny", train_every=12))
    assert [q is not None for q in queued] == [False, True, False, False, False, False]
    runs = continuous_runs(["hex8"], ("continuous-train",))
    assert len(runs) == 1 and runs[0].parameters == {"board": "hex8", "players": 2, "profile": "tiny", "min_games": 12}
    assert read_ledger(data, "hex8_2p")["requested"]["games"] == 12

    # the queued run, run here: it finds every game stored since (36), and trains on them
    trained = train_on_games("hex8", 2, "tiny", min_games=12, data_dir=str(tmp_path / "data"))
    assert trained["trained"] and trained["new_games"] == 36
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(runs[0].id, Completed(), force=True)
    assert "requested" not in read_ledger(data, "hex8_2p") and read_ledger(data, "hex8_2p")["profile"] == "tiny"
    assert request_training(data, "hex8", 2, "tiny", train_every=12) is None  # 0 new games
    play_and_store(make_ctx().model_copy(update={"mode": "continuous", "batch": 7}))
    assert request_training(data, "hex8", 2, "tiny", train_every=12) is None  # 6 < 12
    play_and_store(make_ctx().model_copy(update={"mode": "continuous", "batch": 8}))
    set_switch("hex8", False)
    try:
        assert request_training(data, "hex8", 2, "tiny", train_every=12) is None  # off: nothing queued
    finally:
        set_switch("hex8", True)
    assert request_training(data, "hex8", 2, "tiny", train_every=12) is not None
    assert len(continuous_runs(["hex8"], ("continuous-train",), states=None)) == 2


def test_drain_calls_are_tried_again_while_the_server_answers_503():
    """SQLite locked under load made the server answer 503 to `off` (bench/soak.py): the drain's calls try
    again; a 4xx is raised at once, a 5xx past the allowance is an error that says what failed and what to do."""
    import httpx
    import pytest as _pytest
    from prefect.exceptions import PrefectHTTPStatusError

    from tasks.continuous_control import persist

    def error(code: int) -> PrefectHTTPStatusError:
        request = httpx.Request("PATCH", "http://127.0.0.1/api/automations/x")
        return PrefectHTTPStatusError.from_httpx_error(
            httpx.HTTPStatusError("e", request=request, response=httpx.Response(code, request=request)))
    answers = [error(503), error(503), "paused"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert persist(call, "pausing", pause_s=0) == "paused" and not answers
    answers[:] = [error(404)]
    with _pytest.raises(PrefectHTTPStatusError):  # not the server's load: no second try
        persist(call, "pausing", pause_s=0)
    answers[:] = [error(503)] * 3
    with _pytest.raises(RuntimeError, match="pausing: the Prefect server kept failing .503."):
        persist(call, "pausing", timeout_s=0, pause_s=0)


def test_the_one_at_a_time_limit_is_asked_again_while_the_server_answers_503(monkeypatch):
    """2 runs of the 60-minute SQLite soak failed with ConcurrencySlotAcquisitionError(503). A locked
    SQLite server cannot be produced on demand in a test, so Prefect's `concurrency` is replaced here by
    one that fails as it did there (the error wrapping the HTTP 503) twice, then holds the slot."""
    from contextlib import contextmanager

    import httpx
    import prefect.concurrency.sync as sync
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    import flows.continuous as continuous
    from tasks.continuous_control import server_error

    def refused(code: int) -> ConcurrencySlotAcquisitionError:
        request = httpx.Request("POST", "http://127.0.0.1/api/v2/concurrency_limits/increment")
        cause = httpx.HTTPStatusError("e", request=request, response=httpx.Response(code, request=request))
        try:
            raise ConcurrencySlotAcquisitionError("Unable to acquire concurrency slots") from cause
        except ConcurrencySlotAcquisitionError as exc:
            return exc
    answers: list = [refused(503), refused(503), "slot"]
    held: list[str] = []

    @contextmanager
    def concurrency(name, occupy, strict):  # noqa: ANN001, ANN202
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        held.append(name)
        yield
        held.remove(name)
    monkeypatch.setattr(sync, "concurrency", concurrency)
    monkeypatch.setattr("tasks.limits.ensure_limit", lambda *a: None)
    monkeypatch.setattr("tasks.continuous_control.time.sleep", lambda s: None)
    with continuous.one_at_a_time("train-hex8_2p"):
        assert held == ["train-hex8_2p"] and not answers
    assert held == []  # released on the way out
    answers[:] = [refused(409)]  # not the server's load: raised at once
    with pytest.raises(ConcurrencySlotAcquisitionError):
        with continuous.one_at_a_time("train-hex8_2p"):
            pass
    assert server_error(refused(502)) == 502 and server_error(ValueError("x")) is None
