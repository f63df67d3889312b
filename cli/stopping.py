"""Stopping a long `rift` command cleanly on SIGTERM, SIGINT (Ctrl-C) or SIGHUP.

Why: `rift iterate` used to hang on a signal sent to its process group (Ctrl-C in a
terminal, `timeout`, a service manager stopping a unit): Prefect's temporary server,
in the same group, died first, and Prefect's crash report and its exit-time flush of
logs and events then waited forever on the dead server, until SIGKILL. A SIGTERM to
the process alone killed it at once (Prefect re-raises it with the default action)
and left that server running, orphaned.

`StopSignals` turns the first signal into a `Stopped` exception in the main thread,
so the phase in progress is abandoned where it stands: phase outputs are written
atomically and cached, and games are journaled, so nothing is half-written and a
re-run of the same command resumes. The command then cleans up (its server, its
worker processes) and exits with 128 + the signal's number (130 for Ctrl-C, 143 for
SIGTERM). A watchdog forces the exit if the cleanup takes longer than `grace_s`, and
a second signal forces it at once: everything this process started is killed.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# multiprocessing's resource tracker ignores SIGINT and SIGTERM and leaves by itself when this process ends
_SELF_ENDING = ("multiprocessing.resource_tracker",)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by the first stop signal. A KeyboardInterrupt, so that code catching
    `Exception` (phase errors, retries) lets it through and Prefect records the run as Crashed."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def stop_children(exclude: set[int] | None = None, timeout_s: float = 5.0) -> list[int]:
    """Terminate every descendant of this process except `exclude` (and what runs under them); returns
    the pids stopped. SIGTERM first, SIGKILL for those still there after `timeout_s`. Only this
    process's own children are looked at, never the rest of the machine."""
    try:
        family = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    skip = set(exclude or ())
    for proc in family:
        if proc.pid in skip:
            try:
                skip.update(p.pid for p in proc.children(recursive=True))
            except psutil.Error:
                pass
    targets = []
    for proc in family:
        try:
            if proc.pid in skip or any(s in " ".join(proc.cmdline()) for s in _SELF_ENDING):
                continue
            proc.terminate()
            targets.append(proc)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(targets, timeout=timeout_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return [p.pid for p in targets]


def kill_children() -> None:
    """SIGKILL every descendant of this process at once (the forced exit)."""
    try:
        family = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.Error:
            pass


class StopSignals:
    """While entered, SIGINT, SIGTERM and SIGHUP stop the command: the first raises `Stopped` in the
    main thread and starts the watchdog, the second (or the watchdog after `grace_s`) calls every
    `on_force` callback, kills this process's children and exits at once with `exit_code`.

    Prefect's flow engine puts its own SIGTERM handler in place while a flow runs; it records the
    run as Crashed and sends the signal again, to the handler it found (this one), so the first
    SIGTERM reaches `_handle` either way."""

    def __init__(self, grace_s: float = 60.0) -> None:
        self.grace_s = grace_s
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._on_force: list[Callable[[], None]] = []
        self._watchdog: threading.Timer | None = None
        self._leaving = False

    @property
    def requested(self) -> bool:
        """A stop signal has arrived."""
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: what a shell reports for a process that a signal ended."""
        return 128 + (self.signum or 0)

    def on_force(self, callback: Callable[[], None]) -> None:
        """Run `callback` (quick, e.g. SIGKILL a server) before a forced exit."""
        self._on_force.append(callback)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        if self._watchdog is not None and not self._leaving:
            self._watchdog.cancel()

    def leave(self) -> int:
        """The command is exiting because of the stop: the watchdog keeps bounding the rest of the
        exit (interpreter shutdown included). Returns the exit status."""
        self._leaving = True
        return self.exit_code

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self._watchdog = threading.Timer(self.grace_s, self.force, (f"still stopping after {self.grace_s:.0f} s",))
            self._watchdog.daemon = True
            self._watchdog.start()
            raise Stopped(signum)
        self.force(f"second signal ({signal_name(signum)})")

    def force(self, why: str) -> None:
        """Exit now: callbacks, children killed, one line on stderr, `os._exit` (no cleanup can hang)."""
        for callback in self._on_force:
            try:
                callback()
            except Exception:  # noqa: BLE001 - exiting regardless
                pass
        kill_children()
        try:
            os.write(2, f"\nstopped by {signal_name(self.signum or signal.SIGTERM)} ({why}: forced exit); "
                        f"resume with the same command\n".encode())
        except OSError:  # no terminal left (SIGHUP)
            pass
        os._exit(self.exit_code)
