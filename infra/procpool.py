"""Process pools that stop when the run stops: workers that leave Ctrl-C to their parent, and a
pool abandoned at once (queued work cancelled, running workers terminated) instead of drained."""
from __future__ import annotations

import signal
import time
from concurrent.futures import ProcessPoolExecutor


def leave_sigint() -> None:
    """Pool workers ignore SIGINT: Ctrl-C reaches a terminal's whole process group, and the phase, not
    each worker, decides what stops (it terminates its pool), so no worker dies mid-chunk with a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def abandon_pool(pool: ProcessPoolExecutor, timeout_s: float = 5.0) -> None:
    """Stop a pool now: queued chunks cancelled, running workers terminated. Their games were not stored
    (the writer journals only what it receives), and a re-run plays them again with the same seeds.
    A plain `shutdown()` (what `with pool:` does on an error) would first play every queued chunk."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # Python < 3.14 has no public way
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in workers:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1)
