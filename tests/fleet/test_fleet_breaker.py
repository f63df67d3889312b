"""Circuit breaker state machine, its persistence across processes, and the backoff."""
from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from infra.breaker import BreakerBoard, BreakerState
from infra.hosts import BreakerSettings, RetrySettings
from infra.ssh import backoff_delay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def board(tmp_path: Path | None = None, clock: Clock | None = None, **kw) -> BreakerBoard:
    settings = BreakerSettings(**{"failure_threshold": 3, "recovery_timeout_s": 60, "half_open_probes": 2, **kw})
    return BreakerBoard(settings, tmp_path / "breakers.json" if tmp_path else None, clock or Clock())


def tripped(clock: Clock, **kw) -> BreakerBoard:
    """A board whose host "h" has just failed three times (the threshold): open."""
    b = board(clock=clock, **kw)
    for _ in range(3):
        b.failure("h")
    assert b.state("h") is BreakerState.OPEN
    return b


def test_opens_after_threshold_consecutive_failures_and_success_resets_count() -> None:
    b = board()
    b.failure("h")
    b.failure("h")
    b.success("h")  # not consecutive any more
    b.failure("h")
    b.failure("h")
    assert b.state("h") is BreakerState.CLOSED and b.allow("h")
    b.failure("h", "connection refused")
    assert b.state("h") is BreakerState.OPEN
    assert not b.allow("h")
    assert b.record("h").last_error == "connection refused"


def test_half_open_after_recovery_allows_a_few_probes_then_closes_on_success() -> None:
    clock = Clock()
    b = tripped(clock)
    clock.now += 59
    assert not b.allow("h")
    clock.now += 1
    assert b.state("h") is BreakerState.HALF_OPEN
    assert b.allow("h") and b.allow("h")  # two probes
    assert not b.allow("h")  # a third waits for their outcome
    b.success("h")
    assert b.state("h") is BreakerState.CLOSED and b.record("h").failures == 0


def test_failure_while_half_open_opens_again_for_a_full_recovery_period() -> None:
    clock = Clock()
    b = tripped(clock)
    clock.now += 60
    assert b.allow("h")
    b.failure("h")
    assert b.state("h") is BreakerState.OPEN
    clock.now += 30
    assert not b.allow("h")
    clock.now += 30
    assert b.allow("h")


def test_probes_lost_with_their_process_are_given_back_after_recovery_time() -> None:
    clock = Clock()
    b = tripped(clock, half_open_probes=1)
    clock.now += 60
    assert b.allow("h") and not b.allow("h")
    clock.now += 60  # the probe never reported
    assert b.allow("h")


def test_state_survives_a_new_process_and_file_is_valid_json(tmp_path: Path) -> None:
    clock = Clock()
    first = board(tmp_path, clock)
    for _ in range(3):
        first.failure("dead", "refused")
    first.failure("flaky")
    second = board(tmp_path, clock)  # as a later `rift` invocation would
    assert second.state("dead") is BreakerState.OPEN and not second.allow("dead")
    assert second.record("flaky").failures == 1
    data = json.loads((tmp_path / "breakers.json").read_text())
    assert data["hosts"]["dead"]["state"] == "open"
    assert not list(tmp_path.glob(".breakers-*"))  # no temp files left behind
    second.reset("dead")
    assert board(tmp_path, clock).state("dead") is BreakerState.CLOSED


def test_concurrent_updates_from_two_boards_are_all_kept(tmp_path: Path) -> None:
    a, b = board(tmp_path), board(tmp_path)

    def hammer(bb: BreakerBoard, prefix: str) -> None:
        for i in range(20):
            bb.failure(f"{prefix}{i}")

    threads = [threading.Thread(target=hammer, args=(bb, p)) for bb, p in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hosts = json.loads((tmp_path / "breakers.json").read_text())["hosts"]
    assert len(hosts) == 40 and all(rec["failures"] == 1 for rec in hosts.values())


def test_corrupt_state_file_is_treated_as_all_closed(tmp_path: Path) -> None:
    (tmp_path / "breakers.json").write_text("{not json")
    b = board(tmp_path)
    assert b.state("h") is BreakerState.CLOSED
    b.failure("h")
    assert json.loads((tmp_path / "breakers.json").read_text())["hosts"]["h"]["failures"] == 1


def test_backoff_grows_by_factor_is_capped_and_jittered() -> None:
    retry = RetrySettings()  # 2 s base, factor 2, 30 s max
    rng = random.Random(7)
    caps = [2, 4, 8, 16, 30, 30]
    for attempt, cap in enumerate(caps):
        delays = [backoff_delay(attempt, retry, rng) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert max(delays) - min(delays) > cap / 4  # jitter spreads retries out


@pytest.mark.parametrize("tries", [0, -1])
def test_retry_settings_refuse_nonsense(tries: int) -> None:
    with pytest.raises(ValueError):
        RetrySettings(tries=tries)
