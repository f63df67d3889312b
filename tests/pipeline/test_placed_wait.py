"""A placed phase's run may wait for a worker as long as it takes, but may not *run* past its limit
(flows/placed_wait.py; issue 15: placed phases have timeouts). Against a real Prefect server
(prefect_test_harness). What a worker does with a run is played here by setting its states through
the API: the limit is the iteration's side of the contract; a process worker stopping a Cancelling
run is Prefect's (tests/pipeline/test_fleet.py runs real workers)."""
from __future__ import annotations

import threading
import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Completed, Running, Scheduled

from flows.placed_wait import running_seconds, wait_placed


@flow(name="placed-wait-probe")
def probe() -> None:
    """Never run: its flow runs only carry the states this test gives them."""


def new_run(state=None):  # noqa: ANN001, ANN201 - Prefect's state and run types
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, state=state or Scheduled())
        return run


def set_state(run_id, state) -> None:  # noqa: ANN001
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, state, force=True)


def read(run_id):  # noqa: ANN001, ANN201
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def test_a_run_past_its_limit_is_cancelled_and_reported(prefect_api) -> None:
    run = new_run()
    set_state(run.id, Running())
    assert running_seconds(read(run.id)) is not None
    t0 = time.monotonic()
    after, late = wait_placed(run.id, timeout_s=1.0, poll_s=0.2, cancel_wait_s=0.5)
    assert late and time.monotonic() - t0 >= 1.0
    assert after.state.type.value in ("CANCELLING", "CANCELLED")
    assert "past the phase's limit of 1 s" in after.state.message and "phase_timeout_s" in after.state.message


def test_queue_time_does_not_count_and_a_finished_run_is_returned(prefect_api) -> None:
    run = new_run()  # no worker yet: Scheduled for longer than the limit, never cancelled
    result: dict = {}
    waiter = threading.Thread(target=lambda: result.update(
        zip(("run", "late"), wait_placed(run.id, timeout_s=0.5, poll_s=0.2))), daemon=True)
    waiter.start()
    time.sleep(2.0)
    assert waiter.is_alive() and read(run.id).state.is_scheduled()
    set_state(run.id, Running())  # a worker of the pool took it, and it finishes within its limit
    set_state(run.id, Completed())
    waiter.join(60)
    assert not waiter.is_alive() and result["late"] is False and result["run"].state.is_completed()


def test_no_limit_waits_for_the_end(prefect_api) -> None:
    run = new_run(Running())
    done = threading.Timer(1.0, set_state, (run.id, Completed()))
    done.start()
    after, late = wait_placed(run.id, timeout_s=None, poll_s=0.2)
    assert not late and after.state.is_completed()


@pytest.mark.parametrize("state", [Scheduled(), Completed()])
def test_running_seconds_is_none_unless_running(prefect_api, state) -> None:
    assert running_seconds(read(new_run(state).id)) is None
