"""Where this checkout's Prefect state lives, and the Prefect profile that `rift up` writes.

Every `rift` command that talks to Prefect uses the project-local Prefect home `.prefect/` of this
checkout (its SQLite database, result storage and logs), not the user's global `~/.prefect`,
unless PREFECT_HOME is exported. The profiles file stays the user's (PREFECT_PROFILES_PATH, else
`~/.prefect/profiles.toml`), so a profile made active with `prefect profile use` reaches every
`prefect` and `rift` command of every new shell.

`rift up` writes the profile (default name `ringrift`): the API URL of the server it started, this
home, the settings the project needs (analytics off, the start-up timeout of a temporary server)
and, when the server requires authentication, the client's auth string. The file is created
readable by its owner only (0600) and is never part of the repository.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_HOME = PROJECT_ROOT / ".prefect"
PROFILE_NAME = "ringrift"
PREFECT_DEFAULTS = {  # shared/PREFECT.md: the temporary server needs ~25 s here, more than Prefect's 20 s
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def user_profiles_path(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """The profiles file a `prefect` command typed in this shell reads (Prefect's own rule, less the
    .env / prefect.toml overrides, which this project does not use)."""
    if environ.get("PREFECT_PROFILES_PATH"):
        return Path(environ["PREFECT_PROFILES_PATH"]).expanduser()
    if environ.get("PREFECT_HOME"):
        return Path(environ["PREFECT_HOME"]).expanduser() / "profiles.toml"
    return Path("~/.prefect/profiles.toml").expanduser()


def use_project_home() -> None:
    """Before Prefect is imported: the project-local home unless PREFECT_HOME is exported, the user's
    profiles file all the same, and the project's settings where neither the environment nor the
    active profile set them (the profile's values win over these defaults, the environment's over both)."""
    os.environ.setdefault("PREFECT_PROFILES_PATH", str(user_profiles_path()))
    os.environ.setdefault("PREFECT_HOME", str(PROJECT_HOME))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    active = active_profile_settings()
    for key, value in PREFECT_DEFAULTS.items():
        if key not in active:
            os.environ.setdefault(key, value)


def configured_api() -> str | None:
    """The Prefect API this process talks to: PREFECT_API_URL, or the active profile's (`prefect profile
    use ringrift` after `rift up`); None: a flow here would start a temporary local server."""
    from prefect.settings import PREFECT_API_URL
    return PREFECT_API_URL.value() or None


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text()) if path.exists() else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileFileError(f"{path}: cannot read the Prefect profiles file ({exc}); fix or remove it") from exc


class ProfileFileError(Exception):
    """The user's Prefect profiles file is unreadable."""


def active_profile_settings(path: Path | None = None) -> dict[str, str]:
    """The settings of the active profile (PREFECT_PROFILE, else the file's `active`), {} if none."""
    try:
        data = _read(path or user_profiles_path())
    except ProfileFileError:
        return {}
    name = os.environ.get("PREFECT_PROFILE") or data.get("active")
    return {k: str(v) for k, v in data.get("profiles", {}).get(name, {}).items()} if name else {}


def profile_settings(api_url: str, auth_string: str | None, profiles_path: Path) -> dict[str, str]:
    """What the project's profile holds."""
    settings = {"PREFECT_API_URL": api_url, "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(PROJECT_HOME)),
                "PREFECT_PROFILES_PATH": str(profiles_path), **PREFECT_DEFAULTS}
    if auth_string:
        settings["PREFECT_API_AUTH_STRING"] = auth_string
    return settings


def write_profile(name: str, settings: dict[str, str], path: Path | None = None) -> Path:
    """Create or replace profile `name` in the user's profiles file (other profiles and the active one
    are kept); the file is readable by its owner only. Returns the file's path."""
    import toml  # Prefect's own dependency, the writer Prefect uses for this file
    path = path or user_profiles_path()
    data = _read(path)
    data.setdefault("profiles", {}).setdefault("default", {})
    data["profiles"][name] = dict(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(toml.dumps(data))
    os.chmod(path, 0o600)
    return path


def is_active(name: str, path: Path | None = None) -> bool:
    try:
        data = _read(path or user_profiles_path())
    except ProfileFileError:
        return False
    return (os.environ.get("PREFECT_PROFILE") or data.get("active")) == name
