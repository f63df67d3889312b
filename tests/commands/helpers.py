"""Helpers of the `rift` command tests: a loopback HTTP stand-in, clean shells, free ports."""
from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def health_server() -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    """Something that answers GET /api/health with 200 on a loopback port, as a Prefect server does;
    yields its API url and the server (shut it down to make it disappear)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", server
    finally:
        server.shutdown()
        server.server_close()


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A new login's environment: HOME and PATH only (plus `extra`)."""
    return {"HOME": str(home), "PATH": CLEAN_PATH, **extra}


def shell(command: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`command` in a new bash of `env` after the README's activation line."""
    return subprocess.run(["bash", "-c", f"source .venv/bin/activate && {command}"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def os_pids_named(parent: int, needle: str) -> list[int]:
    """Pids of `parent`'s descendants whose command line holds `needle` (only processes this test started)."""
    import psutil
    try:
        procs = psutil.Process(parent).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for proc in procs:
        try:
            if needle in " ".join(proc.cmdline()):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


