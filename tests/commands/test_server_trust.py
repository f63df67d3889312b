"""Issue 16, must-show 5, against real Prefect servers: `rift up` beyond loopback serves the API with
authentication, and a Prefect server that dies mid-iteration ends `rift iterate` within 60 s, naming it."""
from __future__ import annotations

import base64
import os
import signal
import stat
import subprocess
import sys
import threading
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .helpers import REPO, free_port, os_pids_named

pytestmark = pytest.mark.slow


def isolated_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_PROFILES_PATH": str(tmp_path / "profiles.toml"),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "900"}  # a loaded machine: minutes, not a failure
    for key in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING", "PREFECT_PROFILE"):
        env.pop(key, None)
    return env


class Output:
    """A process's merged output, read as it comes; `wait_for(text)` blocks until it appears or the process ends."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.text, self._changed = proc, "", threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.text += line
                self._changed.notify_all()
        with self._changed:
            self.text += "\n<eof>"
            self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float = 1800) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: needle in self.text or "<eof>" in self.text, timeout) and \
                needle in self.text


def request(url: str, auth: str | None = None) -> int:
    req = urllib.request.Request(url, data=b"{}" if not url.endswith("/health") else None,
                                 headers={"Content-Type": "application/json"})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_rift_up_beyond_loopback_requires_authentication(tmp_path: Path) -> None:
    env, port = isolated_env(tmp_path), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "up", "--host", "0.0.0.0", "--port", str(port),
                             "--no-deploy", "--logs", str(tmp_path / "logs")], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = Output(proc)
    try:
        assert out.wait_for("Ctrl-C stops the worker"), out.text
        secret_file = tmp_path / "prefect" / "api-auth"
        auth = secret_file.read_text().strip()
        assert auth.startswith("rift:") and stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        api = f"http://127.0.0.1:{port}/api"
        assert request(f"{api}/health") == 200  # health stays open, as Prefect means it to
        assert request(f"{api}/flows/filter") == 401
        assert request(f"{api}/block_documents/filter") == 401  # block secrets are behind it too
        assert request(f"{api}/flows/filter", auth) == 200
        assert request(f"{api}/flows/filter", "rift:wrong") == 401
        profile = tomllib.loads((tmp_path / "profiles.toml").read_text())["profiles"]["ringrift"]
        assert profile["PREFECT_API_AUTH_STRING"] == auth and profile["PREFECT_API_URL"] == api
        assert auth.split(":", 1)[1] not in out.text  # the secret is never printed
        assert proc.poll() is None, out.text  # the worker authenticated and runs
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)


def test_a_dead_prefect_server_ends_the_iteration_within_60_s_naming_it(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "iterate", "--board", "hex8", "--profile", "tiny",
                             "--data-dir", str(tmp_path / "data")], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = Output(proc)
    try:
        assert out.wait_for("temporary Prefect server on http://127.0.0.1:"), out.text
        url = out.text.split("temporary Prefect server on ", 1)[1].split()[0]
        (server,) = os_pids_named(proc.pid, "cli.prefect_server")
        os.kill(server, signal.SIGKILL)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rift iterate still running 60 s after its Prefect server died:\n{out.text}")
        assert out.wait_for("<eof>", 60)
        assert code == 1, out.text
        assert f"Prefect server at {url}/api stopped answering" in out.text, out.text
        assert "Traceback" not in out.text, out.text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
