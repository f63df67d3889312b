"""Commands over SSH with fabric: one host or many in parallel, bounded in time.

Nodes vanish and SSH hangs, so every call here has a deadline that covers the
connect, the banner, the authentication, the command and the retries; a host
whose breaker is open is skipped without a connection attempt; transport
failures are retried with exponential backoff and jitter. A command that ran
and exited non-zero is *not* retried by default (it may not be idempotent) and
does not count against the host's breaker: the host answered.

Host keys are checked against the fleet's known_hosts file (`settings.known_hosts`,
default `~/.ssh/known_hosts`): an unknown or changed key is refused before
authentication, not retried, and reported with the fix (`rift cluster trust HOST`);
see `infra/known_hosts.py`.

Failures are logged with the command, host, exit code and the first 5,000
characters of each stream, and appended as JSON lines to
`<state_dir>/ssh-failures.jsonl` so they can be read after the process is gone.
"""
from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import paramiko
from fabric import Config, Connection
from invoke.exceptions import CommandTimedOut

from infra.breaker import BreakerBoard
from infra.hosts import Fleet, Host, RetrySettings
from infra.known_hosts import HostKeyError, describe_bad_key, secure_client

log = logging.getLogger(__name__)

STREAM_LOG_CHARS = 5000
FAILURE_LOG = "ssh-failures.jsonl"
_FAILURE_LOG_MAX_BYTES = 5 * 1024 * 1024
# Errors that mean "could not talk to the host", as opposed to "the command failed".
TRANSPORT_ERRORS = (OSError, socket.timeout, EOFError, paramiko.SSHException, CommandTimedOut)


def backoff_delay(attempt: int, retry: RetrySettings, rng: random.Random | None = None) -> float:
    """Delay before try `attempt + 1`: base·factor^attempt capped at max, with equal jitter.

    Half the delay is fixed and half random, so hosts retried together spread out
    but none retries immediately.
    """
    cap = min(retry.max_s, retry.base_s * retry.factor**attempt)
    return cap / 2 + (rng or random).uniform(0, cap / 2)


@dataclass
class CommandResult:
    """What happened when a command was sent to one host."""

    host: str
    command: str
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    attempts: int = 0
    duration_s: float = 0.0
    skipped: bool = False
    timed_out: bool = False
    host_key_refused: bool = False  # unknown or changed host key: nothing was sent

    @property
    def reached(self) -> bool:
        """The command ran on the host (whatever its exit code)."""
        return self.exit_code is not None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.error

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.error}"
        if self.error:
            return self.error
        return "ok" if self.ok else f"exit {self.exit_code}: {self.stderr.strip()[-200:]}"

    def failure_record(self) -> dict:
        """The failure as logged: streams cut to their first 5,000 characters."""
        data = asdict(self)
        data["stdout"] = self.stdout[:STREAM_LOG_CHARS]
        data["stderr"] = self.stderr[:STREAM_LOG_CHARS]
        data["at"] = time.time()
        return data


class SSHRunner:
    """Runs shell commands on fleet hosts, through their circuit breakers."""

    def __init__(
        self,
        fleet: Fleet,
        breakers: BreakerBoard | None = None,
        *,
        failure_log: Path | None | bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fleet = fleet
        self.settings = fleet.settings
        self.breakers = breakers if breakers is not None else BreakerBoard.in_dir(fleet.state_path, fleet.settings.breaker)
        if failure_log is True:
            failure_log = fleet.state_path / FAILURE_LOG
        self.failure_log: Path | None = failure_log or None
        self._sleep = sleep
        self._active: dict[str, Connection] = {}
        self._active_lock = threading.Lock()
        self._log_lock = threading.Lock()

    # -- one host ----------------------------------------------------------
    def run(
        self,
        host: Host | str,
        command: str,
        *,
        timeout: float | None = None,
        tries: int | None = None,
        retry_on_exit: bool = False,
    ) -> CommandResult:
        """Run `command` on `host` within `timeout` seconds in all (connect, run, retries)."""
        host = self.fleet.get(host) if isinstance(host, str) else host
        retry = self.settings.retry
        tries = tries or retry.tries
        start = time.monotonic()
        deadline = start + (timeout or self.settings.command_timeout_s)
        result = CommandResult(host=host.name, command=command)
        if not Path(host.key_file).is_file():  # a local mistake, not the host's fault: no breaker, no retry
            result.error = f"ssh key file not found for host {host.name}: {host.key_file}"
            self._log_failure(result)
            return result
        for attempt in range(tries):
            if not self.breakers.allow(host.name):
                result.skipped = result.attempts == 0
                result.error = result.error or f"circuit open for {host.name}: skipped"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            result.attempts += 1
            try:
                out = self._attempt(host, command, remaining)
            except (HostKeyError, paramiko.BadHostKeyException) as exc:
                # Unknown or changed host key: refused before authentication. Not retried (it
                # will not change by itself) and not the host's health: the breaker is left alone.
                result.error = (describe_bad_key(exc, host, self.fleet.known_hosts_path)
                                if isinstance(exc, paramiko.BadHostKeyException) else str(exc))
                result.host_key_refused = True
                break
            except TRANSPORT_ERRORS as exc:
                result.timed_out = isinstance(exc, (CommandTimedOut, socket.timeout, TimeoutError)) or (
                    time.monotonic() >= deadline - 0.05  # a silent host: paramiko gives up on banner or session
                )
                result.error = _describe_error(exc, host, time.monotonic() - start if result.timed_out else None)
                if isinstance(exc, CommandTimedOut):
                    result.stdout, result.stderr = exc.result.stdout, exc.result.stderr
                self.breakers.failure(host.name, result.error)
            else:
                result.exit_code, result.stdout, result.stderr = out.exited, out.stdout, out.stderr
                result.error, result.timed_out = "", False
                self.breakers.success(host.name)
                if result.ok or not retry_on_exit:
                    break
            if attempt + 1 < tries:
                delay = backoff_delay(attempt, retry)
                if time.monotonic() + delay >= deadline:
                    break
                self._sleep(delay)
        if not result.reached and not result.error:
            result.timed_out, result.error = True, f"timed out after {timeout or self.settings.command_timeout_s:g}s"
        result.duration_s = time.monotonic() - start
        if not result.ok and not result.skipped:
            self._log_failure(result)
        return result

    def _connection(self, host: Host, connect_timeout: float) -> Connection:
        # Float timeouts go in connect_kwargs: fabric's own connect_timeout is cast to int.
        conn = Connection(
            host.ssh_host,
            user=host.user,
            port=host.port,
            config=Config(overrides={"load_ssh_configs": False}),
            connect_kwargs={
                "key_filename": host.key_file,
                "look_for_keys": False,
                "allow_agent": False,
                "timeout": connect_timeout,
                "banner_timeout": connect_timeout,
                "auth_timeout": connect_timeout,
                "channel_timeout": connect_timeout,
            },
        )
        secure_client(conn.client, host, self.fleet.known_hosts_path)  # instead of fabric's AutoAddPolicy
        return conn

    def _attempt(self, host: Host, command: str, budget: float):
        connect_timeout = min(self.settings.connect_timeout_s, budget)
        started = time.monotonic()
        conn = self._connection(host, connect_timeout)
        with self._active_lock:
            self._active[host.name] = conn
        try:
            conn.open()
            left = budget - (time.monotonic() - started)
            if left <= 0:
                raise TimeoutError(f"no time left to run the command after connecting to {host.name}")
            out = conn.run(command, hide=True, warn=True, timeout=left, in_stream=False)
            if out.exited == -1 and time.monotonic() >= started + budget - 0.05:
                # invoke killed the command at its timeout but, its timer thread still finishing (a
                # loaded machine), returned the closed channel's -1 instead of raising: a timeout
                raise CommandTimedOut(out, timeout=left)
            return out
        finally:
            with self._active_lock:
                self._active.pop(host.name, None)
            conn.close()

    # -- many hosts ----------------------------------------------------------
    def run_many(
        self,
        hosts: list[Host] | None,
        command: str | Callable[[Host], str],
        *,
        timeout: float | None = None,
        tries: int | None = None,
        retry_on_exit: bool = False,
    ) -> dict[str, CommandResult]:
        """Run on every host at once; each gets `timeout`; a hung host is cut off, the rest report.

        `command` may be a function of the host (paths differ per host). Results
        keep the hosts' order.
        """
        hosts = self.fleet.select() if hosts is None else hosts
        if not hosts:
            return {}
        budget = timeout or self.settings.command_timeout_s
        commands = {h.name: command(h) if callable(command) else command for h in hosts}
        results: dict[str, CommandResult] = {}
        pool = ThreadPoolExecutor(max_workers=min(len(hosts), self.settings.parallelism), thread_name_prefix="ssh")
        futures = {
            pool.submit(self.run, h, commands[h.name], timeout=budget, tries=tries, retry_on_exit=retry_on_exit): h
            for h in hosts
        }
        # Watchdog: every layer below has its own timeout; this is the guarantee on top.
        hard_deadline = time.monotonic() + budget + 2.0
        pending = set(futures)
        while pending and time.monotonic() < hard_deadline:
            done, pending = wait(pending, timeout=hard_deadline - time.monotonic(), return_when=FIRST_COMPLETED)
            for fut in done:
                results[futures[fut].name] = fut.result()
        for fut in pending:
            name = futures[fut].name
            with self._active_lock:
                conn = self._active.get(name)
            if conn is not None:
                conn.close()
            results[name] = CommandResult(
                host=name, command=commands[name], error=f"timed out after {budget:g}s", timed_out=True, attempts=1
            )
            self.breakers.failure(name, results[name].error)
            self._log_failure(results[name])
        pool.shutdown(wait=False, cancel_futures=True)
        return {h.name: results[h.name] for h in hosts}

    # -- failure log -------------------------------------------------------
    def _log_failure(self, result: CommandResult) -> None:
        record = result.failure_record()
        log.warning(
            "ssh command failed on host %s (exit code %s, %d attempt(s)): %s\n  command: %s\n"
            "  --- stdout (first %d chars) ---\n%s\n  --- stderr (first %d chars) ---\n%s",
            result.host, result.exit_code, result.attempts, result.error or "non-zero exit",
            result.command, STREAM_LOG_CHARS, record["stdout"], STREAM_LOG_CHARS, record["stderr"],
        )
        if self.failure_log is None:
            return
        try:
            with self._log_lock:
                self.failure_log.parent.mkdir(parents=True, exist_ok=True)
                if self.failure_log.exists() and self.failure_log.stat().st_size > _FAILURE_LOG_MAX_BYTES:
                    self.failure_log.replace(self.failure_log.with_suffix(".jsonl.1"))
                with open(self.failure_log, "a") as fh:
                    fh.write(json.dumps(record) + "\n")
        except OSError as exc:  # the log must never break the command path
            log.error("cannot write ssh failure log %s: %s", self.failure_log, exc)


def _describe_error(exc: BaseException, host: Host, timed_out_after: float | None = None) -> str:
    where = f"{host.user}@{host.ssh_host}:{host.port}"
    if isinstance(exc, CommandTimedOut):
        return f"command timed out after {exc.timeout:.3g}s on {where}"
    if timed_out_after is not None:
        return f"timed out after {timed_out_after:.3g}s: no answer from {where} ({exc or type(exc).__name__})"
    if isinstance(exc, paramiko.AuthenticationException):
        return f"authentication failed for {where}: {exc}"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return f"cannot connect to {where}: connection refused"
    text = str(exc) or type(exc).__name__
    return f"cannot reach {where}: {text}"
