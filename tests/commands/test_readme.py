"""Issue 17, must-show 1: after the README's set-up and `rift up`, every `prefect ...` and `rift ...` line of
the README's command blocks works as written, each in a new shell with only HOME and PATH set.

The checkout is copied to a temporary folder (its tracked and untracked files, as a fresh clone of this
working tree would be), so what the commands write (`.prefect/`, `data/`, `runs/`) stays there. Its
`.venv` stands in for `make install` (172 packages, about 9 minutes here; `make install` itself is what
.ci/run and tests/test_lock.py check): a virtualenv of this test run's packages, with the copy first on
its path and `rift` and `prefect` in its bin/. `source .venv/bin/activate` is the README's own line.
Deviation from "as written": `rift up` gets `--port` with a free port, so that it can run beside any other
checkout's server.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest

from .helpers import REPO, clean_env, free_port, shell

pytestmark = pytest.mark.slow
SCRIPT = "#!{python}\nimport sys\nfrom {module} import app\nsys.exit(app())\n"


def readme_commands(readme: Path = REPO / "README.md") -> list[str]:
    """The `rift ...` and `prefect ...` lines of the README's bash blocks, comments stripped."""
    commands, inside = [], False
    for line in readme.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        command = re.sub(r"\s+#.*$", "", line).strip()
        if inside and command.split(" ", 1)[0] in ("rift", "prefect"):
            commands.append(command)
    return commands


def fresh_copy(tmp: Path) -> Path:
    clone = tmp / "ringrift"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    if (REPO.parent / "shared").is_dir():  # RingRift's conformance data beside the checkout (`../shared/vectors`)
        (tmp / "shared").symlink_to(REPO.parent / "shared")
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip())
    (site / "_rift_overlay.pth").write_text(
        f"{clone}\nimport site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    for name, module in (("rift", "cli.main"), ("prefect", "prefect.cli")):
        script = venv / "bin" / name
        script.write_text(SCRIPT.format(python=venv / "bin" / "python", module=module))
        script.chmod(0o755)
    return clone


class Background:
    """`rift up` in its own shell, its output collected as it comes."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["bash", "-c", f"source .venv/bin/activate && exec {command}"], cwd=cwd,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.output = ""
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output += line
            if "Ctrl-C stops the worker" in line:
                self.ready.set()
        self.ready.set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # rift up stops its worker and server, as on Ctrl-C
            try:
                self.proc.wait(300)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def test_readme_commands_work_from_new_shells_after_rift_up(tmp_path: Path) -> None:
    commands = readme_commands()
    assert "rift up" in commands and "prefect profile use ringrift" in commands
    assert any(c.startswith("prefect deployment run iteration/hex8") for c in commands)
    clone = fresh_copy(tmp_path)
    env = clean_env(tmp_path / "home")
    port = free_port()
    up = Background(f"rift up --port {port}", clone, env)
    try:
        assert up.ready.wait(1800) and up.proc.poll() is None, f"rift up did not come up:\n{up.output}"
        assert "prefect profile use ringrift" in up.output, up.output
        again = shell(f"rift up --port {port}", clone, env)  # a server it did not start: refused
        assert again.returncode == 2 and "already answers" in again.stderr + again.stdout, again
        ran = ["prefect profile use ringrift"]
        assert shell(ran[0], clone, env).returncode == 0
        for command in commands:
            if command.startswith("rift up") or command in ran:
                continue
            out = shell(command, clone, env, timeout=1800)
            said = out.stdout + out.stderr
            assert out.returncode == 0, f"`{command}` failed ({out.returncode}) in a new shell:\n{said[-4000:]}"
            assert "Failed to send telemetry" not in said and "Timed out while attempting" not in said, said[-4000:]
            if command.startswith("rift iterate") and "--dry-run" not in command:
                assert f"127.0.0.1:{port}" in said and "temporary Prefect server" not in said, said[-4000:]
            if command.startswith("prefect flow-run ls"):
                assert "hex8_2p-i" in said, said
            ran.append(command)
        assert any(c.startswith("prefect deployment run") for c in ran)
        assert (clone / ".prefect" / "prefect.db").exists()  # the project-local home, not ~/.prefect
        assert not (tmp_path / "home" / ".prefect" / "prefect.db").exists()
    finally:
        up.stop()
    assert up.proc.returncode is not None
