"""One iteration per board configuration and data folder at a time, however it was started.

Two iterations of one config on one data folder share its work files (the CMA-ES work folder,
shards, the iteration markers): in issue 16 one died with "no such profile file" because the
other overwrote them. The iteration flow (flows/iteration.py) holds this lock for its whole run,
so `rift iterate`, a deployment's run (`prefect deployment run iteration/hex8`) and a trigger's
run are all covered. `rift iterate` takes it earlier, before it starts a Prefect server, so a
refusal costs nothing; the flow it then runs in-process finds the lock already held by its own
caller and goes on (re-entry is tracked per context, not per process: another thread of the
same process is refused like any other holder).

The lock is an flock on `<data>/locks/iterate-<config>.lock`. The holder writes who it is into
the file (pid, host, and its command line or flow run), and a second one is refused at once
naming the config, the data folder and that holder. The kernel releases the lock however the
holder ends (SIGKILL included), so the resume the stop message promises is never blocked; a
phase's forked workers drop their copy of it, so one that outlives a killed holder does not keep it.

Why not a Prefect global concurrency limit named per config: a slot does not say who holds it;
a slot of a killed run stays taken until its lease expires (minutes), blocking that resume; and
what is protected is a data folder, which a name on one server does not capture (two data
folders on one server are independent, and a data folder does not care which server a run
reports to).
"""
from __future__ import annotations

import fcntl
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

# the lock files this context (a thread, or a call chain that copied its context) holds
_held: ContextVar[frozenset[str]] = ContextVar("rift_iteration_locks", default=frozenset())
_fds: set[int] = set()  # descriptors of the locks this process holds


def _drop_in_child() -> None:
    """A forked child (a phase's worker pool) closes its copies of the lock descriptors: the lock then
    lives exactly as long as its holder, not as long as a worker that outlives a killed holder."""
    for fd in _fds:
        try:
            os.close(fd)
        except OSError:
            pass
    _fds.clear()


os.register_at_fork(after_in_child=_drop_in_child)


class ConfigLocked(Exception):
    """Another iteration of the same configuration on the same data folder holds the lock."""


def lock_path(data_dir: Path, config: str) -> Path:
    return Path(data_dir) / "locks" / f"iterate-{config}.lock"


@contextmanager
def config_lock(data_dir: Path, config: str, holder: str | None = None) -> Iterator[Path]:
    """Hold the iteration lock of `config` in `data_dir` for the duration; ConfigLocked naming the
    holder if another holds it. `holder` says who this is (default: this process's command line).
    Entering it again where it is already held (the CLI's lock, then its in-process flow) is a no-op."""
    data_dir = Path(data_dir).resolve()
    path = lock_path(data_dir, config)
    if str(path) in _held.get():
        yield path
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, owner = os.open(path, os.O_RDWR | os.O_CREAT, 0o644), os.getpid()
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "a process that has not said who it is"
            raise ConfigLocked(
                f"another iteration of {config} is running on the data folder {data_dir} ({who}; lock {path}): "
                "wait for it to finish, or stop it (Ctrl-C or `kill <pid>` for `rift iterate`, `prefect flow-run "
                "cancel <id>` for a deployment's run); a stopped iteration resumes when started again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}: {holder or shlex.join(sys.argv)}\n".encode(), 0)
        token = _held.set(_held.get() | {str(path)})
        _fds.add(fd)
        try:
            yield path
        finally:
            _fds.discard(fd)
            _held.reset(token)
    finally:
        if os.getpid() == owner:  # a forked child unwinding through here closed its copy at the fork
            os.close(fd)  # releases the flock (os.open's descriptors are not inherited across exec either)
