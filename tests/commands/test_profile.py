"""The project's Prefect profile and home (issue 17, must-show 1): what `rift up` writes, and what a `rift`
command in a new shell then uses."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from cli.prefect_home import PROJECT_HOME, profile_settings, write_profile

from .helpers import REPO, clean_env

SHOW = ("from cli.prefect_home import use_project_home; use_project_home()\n"
        "import json; from prefect.settings import get_current_settings as g; s = g()\n"
        "print(json.dumps({'home': str(s.home), 'api': s.api.url, 'profiles': str(s.profiles_path),"
        " 'analytics': s.server.analytics_enabled, 'timeout': s.server.ephemeral.startup_timeout_seconds}))")


def settings_seen(home: Path) -> dict:
    """The Prefect settings a `rift` command sees in a new shell with only HOME and PATH."""
    out = subprocess.run([sys.executable, "-c", SHOW], cwd=REPO, env=clean_env(home), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_write_profile_keeps_the_others_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / ".prefect" / "profiles.toml"
    path.parent.mkdir()
    path.write_text('active = "mine"\n[profiles.mine]\nPREFECT_API_URL = "http://elsewhere:1/api"\n')
    settings = profile_settings("http://127.0.0.1:4321/api", "rift:secret", path)
    write_profile("ringrift", settings, path)
    write_profile("ringrift", profile_settings("http://127.0.0.1:4322/api", None, path), path)  # an update
    data = tomllib.loads(path.read_text())
    assert data["active"] == "mine" and data["profiles"]["mine"] == {"PREFECT_API_URL": "http://elsewhere:1/api"}
    ours = data["profiles"]["ringrift"]
    assert ours["PREFECT_API_URL"] == "http://127.0.0.1:4322/api" and "PREFECT_API_AUTH_STRING" not in ours
    assert ours["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and ours["PREFECT_PROFILES_PATH"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_shell_uses_the_project_home_and_the_active_profile(tmp_path: Path) -> None:
    plain = settings_seen(tmp_path)  # no profile yet: the project's home and settings, no server
    assert plain["home"] == str(PROJECT_HOME) and plain["api"] is None
    assert plain["analytics"] is False and plain["timeout"] == 120
    path = tmp_path / ".prefect" / "profiles.toml"
    write_profile("ringrift", profile_settings("http://127.0.0.1:4321/api", None, path), path)
    path.write_text('active = "ringrift"\n' + path.read_text())  # what `prefect profile use ringrift` does
    seen = settings_seen(tmp_path)
    assert seen == {**plain, "api": "http://127.0.0.1:4321/api", "profiles": str(path)}
