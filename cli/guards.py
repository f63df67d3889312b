"""What keeps `rift iterate` from colliding or hanging.

- One iteration per board configuration and data folder at a time: infra/iteration_lock.py (the
  iteration flow holds it however it was started; `rift iterate` takes it before starting a server).
- `ServerWatch`: the Prefect server an iteration reports to must stay up. Prefect's client retries a
  dead server for minutes (seen: 7 min 24 s, then a ConnectError traceback); the watch polls the
  server's /health and, once connections have been refused for DEAD_AFTER_S (nothing listens: the
  server is gone), ends the command with a message naming the server, well within a minute. A server
  that accepts connections but answers slowly (a busy machine) gets SLOW_AFTER_S before it is given up.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEAD_AFTER_S = 30.0  # connections refused for this long: the server is gone
SLOW_AFTER_S = 300.0  # no answer at all (connections time out) for this long: given up as hung
POLL_S = 3.0


def probe(url: str, timeout: float = 5.0) -> str:
    """"ok" when the API at `url` answers its health check, "refused" when nothing accepts the connection
    (or it answers an error), "slow" when it does not answer within `timeout`."""
    import socket
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return "ok" if resp.status == 200 else "refused"
    except (TimeoutError, socket.timeout):
        return "slow"
    except urllib.error.URLError as exc:
        return "slow" if isinstance(exc.reason, (TimeoutError, socket.timeout)) else "refused"
    except OSError:
        return "refused"


class ServerWatch:
    """A daemon thread that calls `on_dead(message)` once the Prefect API at `url` has refused connections for
    `dead_after_s` seconds, not answered at all for `slow_after_s`, or at once when `alive()` says its
    process is gone."""

    def __init__(self, url: str, on_dead: Callable[[str], None], dead_after_s: float = DEAD_AFTER_S,
                 poll_s: float = POLL_S, alive: Callable[[], bool] | None = None, what: str = "Prefect server",
                 slow_after_s: float = SLOW_AFTER_S) -> None:
        self.url, self.on_dead, self.dead_after_s, self.poll_s = url, on_dead, dead_after_s, poll_s
        self.slow_after_s = slow_after_s
        self.alive, self.what = alive, what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="prefect-server-watch")

    def __enter__(self) -> ServerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _watch(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.poll_s):
            gone = self.alive is not None and not self.alive()
            state = "refused" if gone else probe(self.url)
            if state == "ok":
                last_ok = time.monotonic()
                continue
            failing = time.monotonic() - last_ok
            if self._stop.is_set():
                return
            if gone or (state == "refused" and failing >= self.dead_after_s) or failing >= self.slow_after_s:
                self._dead("its process exited" if gone else f"connections refused, no answer for {failing:.0f} s"
                           if state == "refused" else f"no answer from {self.url}/health for {failing:.0f} s")
                return

    def check_now(self) -> None:
        """After the run failed: if the server's process is gone or it refuses connections, report it
        dead now (the run's own error, a client traceback, would otherwise come first)."""
        gone = self.alive is not None and not self.alive()
        if gone or probe(self.url, timeout=5) == "refused":
            self._dead("its process exited" if gone else "connections refused")

    def _dead(self, why: str) -> None:
        self.on_dead(f"the {self.what} at {self.url} stopped answering ({why}); the iteration was "
                     "abandoned, finished phases are kept: start the server again (`rift up`, or unset "
                     "PREFECT_API_URL for a temporary one) and rerun the same command to resume")
