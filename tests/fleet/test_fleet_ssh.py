"""The SSH runner against real OpenSSH servers on 127.0.0.1 (must-show 1 and 2)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

import pytest

from infra.breaker import BreakerBoard, BreakerState
from infra.hosts import load_fleet
from infra.ssh import SSHRunner

from .conftest import SilentServer, SshServer


def runner_for(path: Path) -> SSHRunner:
    return SSHRunner(load_fleet(path))


def test_commands_run_on_several_hosts_with_streams_and_exit_codes(sshd: Callable[..., SshServer], write_hosts) -> None:
    a, b = sshd(), sshd()
    runner = runner_for(write_hosts({"a": a.port, "b": b.port}))
    results = runner.run_many(None, lambda h: f"echo out-{h.name}; echo err-{h.name} >&2; exit 3")
    assert list(results) == ["a", "b"]
    for name, res in results.items():
        assert (res.exit_code, res.stdout, res.stderr) == (3, f"out-{name}\n", f"err-{name}\n")
        assert not res.ok and res.reached and res.attempts == 1  # a command that ran is not retried
        assert runner.breakers.state(name) is BreakerState.CLOSED  # the host answered
    assert runner.run("a", "echo $((6*7))").stdout == "42\n"


def test_failure_log_keeps_command_host_code_and_first_5000_chars(
    sshd: Callable[..., SshServer], write_hosts, caplog: pytest.LogCaptureFixture
) -> None:
    a = sshd()
    runner = runner_for(write_hosts({"a": a.port}))
    command = "python3 -c \"import sys; print('x' * 6000); print('y' * 7000, file=sys.stderr); sys.exit(4)\""
    with caplog.at_level(logging.WARNING, logger="infra.ssh"):
        res = runner.run("a", command)
    assert res.exit_code == 4 and len(res.stdout) == 6001  # the result itself keeps everything
    text = caplog.text
    assert "host a" in text and "exit code 4" in text and command in text
    assert "x" * 5000 in text and "x" * 5001 not in text
    assert "y" * 5000 in text and "y" * 5001 not in text
    record = json.loads((runner.fleet.state_path / "ssh-failures.jsonl").read_text().splitlines()[-1])
    assert (record["host"], record["exit_code"], record["command"]) == ("a", 4, command)
    assert len(record["stdout"]) == 5000 and len(record["stderr"]) == 5000


def test_transport_failures_are_retried_with_backoff(sshd: Callable[..., SshServer], write_hosts) -> None:
    a = sshd()
    a.stop()
    path = write_hosts({"a": a.port}, retry={"tries": 3, "base_s": 0.2, "max_s": 1, "factor": 2},
                       breaker={"failure_threshold": 10})
    runner = runner_for(path)
    start = time.monotonic()
    res = runner.run("a", "true")
    elapsed = time.monotonic() - start
    assert res.attempts == 3 and not res.reached and "connection refused" in res.error
    assert elapsed >= 0.1 + 0.2  # two jittered delays: at least half of 0.2 and of 0.4
    assert runner.breakers.record("a").failures == 3


@pytest.mark.slow
def test_stopped_server_trips_breaker_is_skipped_and_recovers_through_half_open(
    sshd: Callable[..., SshServer], write_hosts
) -> None:
    """Must-show 1: a dead host trips its breaker, is skipped at once, and comes back."""
    a, b = sshd(), sshd()
    # Recovery long enough that restarting sshd on a loaded CI machine fits inside it.
    recovery_s = 5.0
    path = write_hosts(
        {"a": a.port, "b": b.port},
        retry={"tries": 1, "base_s": 0.01, "max_s": 0.01, "factor": 2},
        breaker={"failure_threshold": 3, "recovery_timeout_s": recovery_s, "half_open_probes": 1},
    )
    runner = runner_for(path)
    assert all(r.ok for r in runner.run_many(None, "echo up").values())

    b.stop()
    for i in range(3):  # threshold 3 in the test settings
        results = runner.run_many(None, "echo up")
        assert results["a"].ok
        assert not results["b"].reached and not results["b"].skipped
        expected = BreakerState.OPEN if i == 2 else BreakerState.CLOSED
        assert runner.breakers.state("b") is expected

    results = runner.run_many(None, "echo up")
    assert results["a"].ok
    assert results["b"].skipped and results["b"].attempts == 0 and "circuit open" in results["b"].error
    assert results["b"].duration_s < 0.05  # skipped at once, not waited on
    # A later `rift` invocation sees the same state from the state file.
    later = BreakerBoard.in_dir(load_fleet(path).state_path)
    assert later.state("b") is BreakerState.OPEN and later.record("b").failures == 3

    opened_at = time.monotonic()
    b.start()  # the server returns, but the breaker keeps the host out until recovery
    assert time.monotonic() - opened_at < recovery_s, "sshd restart outlasted the recovery window"
    assert runner.run("b", "echo up").skipped
    time.sleep(max(0.0, recovery_s + 0.05 - (time.monotonic() - opened_at)))
    assert runner.breakers.state("b") is BreakerState.HALF_OPEN
    probe = runner.run("b", "echo back")
    assert probe.ok and probe.stdout == "back\n"
    assert runner.breakers.state("b") is BreakerState.CLOSED
    assert BreakerBoard.in_dir(load_fleet(path).state_path).state("b") is BreakerState.CLOSED


def test_half_open_probe_that_fails_reopens(sshd: Callable[..., SshServer], write_hosts) -> None:
    a = sshd()
    a.stop()
    runner = runner_for(write_hosts({"a": a.port}, retry={"tries": 1, "base_s": 0.01, "max_s": 0.01, "factor": 2}))
    for _ in range(3):
        runner.run("a", "true")
    assert runner.breakers.state("a") is BreakerState.OPEN
    time.sleep(1.05)
    res = runner.run("a", "true")  # the probe goes out, fails
    assert res.attempts == 1 and not res.skipped
    assert runner.breakers.state("a") is BreakerState.OPEN
    assert runner.run("a", "true").skipped


def test_hung_hosts_are_cut_off_by_the_timeout_while_the_others_report(
    sshd: Callable[..., SshServer], silent_server: SilentServer, write_hosts, ssh_keys, tmp_path: Path
) -> None:
    """Must-show 2: one host accepts TCP and never speaks, one runs a command that never ends."""
    from .conftest import host_entry

    a, b = sshd(), sshd()
    stuck = sshd("ForceCommand sleep 600\n")
    hosts = {
        "a": a.port,
        "b": b.port,
        "silent": host_entry(silent_server.port, ssh_keys, tmp_path / "silent"),
        "stuck": host_entry(stuck.port, ssh_keys, tmp_path / "stuck"),
    }
    # the deadline (6 s) is what the silent host's banner wait gets too (connect_timeout_s above it), is
    # generous for the healthy hosts on a loaded machine, and is far below the hung command's 600 s:
    # the fleet comes back long before the hung hosts would have let it
    runner = runner_for(write_hosts(hosts, retry={"tries": 3, "base_s": 0.05, "max_s": 0.1, "factor": 2},
                                    connect_timeout_s=60))
    start = time.monotonic()
    results = runner.run_many(None, "echo alive", timeout=6)
    elapsed = time.monotonic() - start
    assert elapsed < 60, f"the hung hosts held the fleet for {elapsed:.1f}s"
    assert results["a"].ok and results["b"].ok and results["a"].stdout == "alive\n"
    for name in ("silent", "stuck"):
        assert results[name].timed_out and not results[name].ok, results[name]
        assert results[name].duration_s < 60
    assert "command timed out" in results["stuck"].error
    assert "timed out" in results["silent"].error and "no answer" in results["silent"].error
    assert runner.breakers.record("silent").failures >= 1 and runner.breakers.record("stuck").failures >= 1


def test_missing_key_file_is_a_local_error_not_a_host_failure(sshd: Callable[..., SshServer], write_hosts,
                                                               ssh_keys, tmp_path: Path) -> None:
    from .conftest import host_entry

    a = sshd()
    entry = host_entry(a.port, ssh_keys, tmp_path / "a", key_path=str(tmp_path / "no-such-key"))
    runner = runner_for(write_hosts({"a": entry}))
    res = runner.run("a", "true")
    assert "ssh key file not found" in res.error and res.attempts == 0
    assert runner.breakers.record("a").failures == 0
