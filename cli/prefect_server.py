"""The temporary Prefect server of `rift iterate`, in a session of its own.

Why not Prefect's own temporary server: Prefect starts it in the caller's process
group, so Ctrl-C, or a SIGTERM sent to the group (by `timeout`, a service manager,
a closing terminal), stopped the server before the command had recorded anything,
and the client then hung at exit flushing logs and events to it (cli/stopping.py).
This one runs the same app the same way (uvicorn,
`prefect.server.api.server:create_app`, the ephemeral server's services, no UI, the
SQLite database in PREFECT_HOME) but in its own session, so only `rift iterate`
stops it: after the run ended and Prefect's log and event workers were drained into
it, as `prefect_test_harness` does. If the command dies without cleaning up
(SIGKILL), the server notices that its parent is gone and stops itself.

`python -m cli.prefect_server PARENT_PID PORT` is the server process itself.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_FAILURE = 3  # uvicorn's exit status when it cannot bind its port
# what Prefect's own temporary server sets (prefect.server.api.server.SubprocessASGIServer)
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when the Prefect API at `url` answers its health check (unauthenticated in Prefect)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


class TemporaryServer:
    """A Prefect API server on a free loopback port, started and stopped by this process."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout_s: float) -> str:
        """Start the server and wait until it answers; returns its API url. Stops what it started
        if anything (a signal included) interrupts the wait."""
        from prefect.settings import get_current_settings
        env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True), **SERVER_ENV}
        env.pop("PREFECT_API_URL", None)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                port = _free_port()
                self.url = f"http://127.0.0.1:{port}/api"
                with open(self.log, "ab") as out:
                    self.proc = subprocess.Popen(
                        [sys.executable, "-m", "cli.prefect_server", str(os.getpid()), str(port)],
                        cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True)
                while not healthy(self.url):
                    code = self.proc.poll()
                    if code is not None or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                else:
                    return self.url
                if self.proc.poll() == STARTUP_FAILURE and time.monotonic() < deadline:
                    continue  # the port was taken meanwhile: another one
                raise RuntimeError(f"the temporary Prefect server did not start within {timeout_s:.0f} s "
                                   f"(exit status {self.proc.poll()}); see {self.log}")
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to the server's session (uvicorn shuts down), SIGKILL if it is still there after `timeout_s`."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the server's session now (a forced exit)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def drain_prefect(timeout_s: float = 10.0) -> None:
    """Send what Prefect's log and event workers still hold to the API, at most `timeout_s` each, while
    the server is up; at interpreter exit they would otherwise wait on a server that is gone."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - nothing left to flush, or the service never started
            pass


@contextmanager
def prefect_api(timeout_s: float, log: Path) -> Iterator[TemporaryServer | None]:
    """Where this command's flows report: PREFECT_API_URL when it is set (yields None), else a
    temporary server in its own session (yields it), stopped on the way out, whatever the way."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings
    if PREFECT_API_URL.value():
        yield None
        return
    server = TemporaryServer(log)
    url = server.start(timeout_s)
    try:
        # no UI url: the server serves no UI and is gone when the command ends, so no "View at" links
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_UI_URL: ""}):
            try:
                yield server
            finally:
                drain_prefect()
    finally:
        server.stop()


def _watch_parent(parent: int) -> None:
    """Stop this server when the process that started it is gone (it died without stopping it)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(15.0)
    os._exit(1)


def main(argv: list[str]) -> None:
    """The server process: uvicorn serving Prefect's API app until SIGTERM."""
    parent, port = int(argv[0]), int(argv[1])
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()
    import uvicorn
    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1", port=port,
                log_level="error", lifespan="on")


if __name__ == "__main__":
    main(sys.argv[1:])
