"""The fleet as typed data: `config/hosts.yaml` loaded and validated once.

Everything that touches a remote machine (SSH runner, breakers, health, cluster
control) takes a `Fleet` built here, so a typo in the hosts file is caught at
load time with a message that names the host and the key, instead of surfacing
as an SSH error halfway through a command on twenty machines.
"""
from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

HOSTS_ENV = "RIFT_HOSTS"
STATE_DIR_ENV = "RIFT_CLUSTER_STATE_DIR"
DEFAULT_HOSTS_PATH = Path("config") / "hosts.yaml"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent

# `rift worker` sets heartbeats, the host's name and data folder, and stops the worker on SIGTERM
DEFAULT_WORKER_COMMAND = "rift worker --pool {pool} --name {host} --data-dir {data}"
DEFAULT_SELFPLAY_COMMAND = (
    "rift selfplay --board {board} --players {players} --games {games}"
    " --engine {engine} --seed {seed} --out {out}"
)


class HostsConfigError(ValueError):
    """The hosts file is missing, unreadable or invalid; the message says where."""


class Role(str, Enum):
    """What a host is for; selfplay placement and the status table use it."""

    TRAINING = "training"
    SELFPLAY = "selfplay"
    EVALUATION = "evaluation"
    MIXED = "mixed"
    COORDINATOR = "coordinator"


class HostState(str, Enum):
    """Operator's intent for a host: `disabled` hosts are never contacted,
    `draining` hosts are monitored but get no new selfplay."""

    ACTIVE = "active"
    DRAINING = "draining"
    DISABLED = "disabled"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Host(_Strict):
    """One machine of the fleet and how to reach it (a key *path*, never a key)."""

    name: str
    ssh_host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(min_length=1)
    key_path: str = Field(min_length=1)
    project_path: str = Field(min_length=1)
    venv: str | None = ".venv/bin/activate"
    data_dir: str = "data"
    memory_gb: float = Field(gt=0)
    cpus: int = Field(gt=0)
    gpu: str | None = None
    vram_gb: float = Field(default=0, ge=0)
    role: Role
    work_pool: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    status: HostState = HostState.ACTIVE

    @field_validator("key_path")
    @classmethod
    def _a_path_not_a_key(cls, value: str) -> str:
        if "\n" in value or "PRIVATE KEY" in value or len(value) > 1024:
            raise ValueError("must be the path to a key file, never the key itself")
        return value

    @property
    def key_file(self) -> str:
        return os.path.expanduser(self.key_path)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpu) and self.vram_gb > 0

    def _in_project(self, path: str) -> str:
        return path if path.startswith(("/", "~")) else f"{self.project_path}/{path}"

    @property
    def data_path(self) -> str:
        """Data folder on the host (absolute, or relative to the project)."""
        return self._in_project(self.data_dir)

    def shell_prefix(self) -> str:
        """`cd` into the project and activate its virtualenv, ready for `&& cmd`."""
        parts = [f"cd {_quote(self.project_path)}"]
        if self.venv:
            parts.append(f". {_quote(self._in_project(self.venv))}")
        return " && ".join(parts)


class RetrySettings(_Strict):
    """Exponential backoff with jitter between tries of one SSH command."""

    tries: int = Field(default=3, ge=1)
    base_s: float = Field(default=2.0, ge=0)
    max_s: float = Field(default=30.0, ge=0)
    factor: float = Field(default=2.0, ge=1)


class BreakerSettings(_Strict):
    """Per-host circuit breaker thresholds."""

    failure_threshold: int = Field(default=5, ge=1)
    recovery_timeout_s: float = Field(default=60.0, ge=0)
    half_open_probes: int = Field(default=2, ge=1)


class HealthSettings(_Strict):
    """Thresholds that turn a resource snapshot into healthy/degraded/unhealthy."""

    disk_free_warn_pct: float = Field(default=15.0, ge=0, le=100)
    disk_free_min_pct: float = Field(default=5.0, ge=0, le=100)
    gpu_mem_free_min_pct: float = Field(default=10.0, ge=0, le=100)
    require_worker: bool = True


class FleetSettings(_Strict):
    """Fleet-wide knobs; every one has a sensible default."""

    connect_timeout_s: float = Field(default=10.0, gt=0)
    command_timeout_s: float = Field(default=120.0, gt=0)
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    health: HealthSettings = HealthSettings()
    state_dir: str = "data/cluster"
    # Host keys every connection is checked against (OpenSSH format; `rift cluster trust` adds).
    known_hosts: str = Field(default="~/.ssh/known_hosts", min_length=1)
    prefect_api_url: str | None = None  # the API every host's worker should reach (else each host's env)
    worker_command: str = DEFAULT_WORKER_COMMAND
    selfplay_command: str = DEFAULT_SELFPLAY_COMMAND
    parallelism: int = Field(default=16, ge=1)


class Fleet(_Strict):
    """The validated hosts file: settings plus hosts keyed by name (file order kept)."""

    source: str
    settings: FleetSettings
    hosts: dict[str, Host]

    def get(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            known = ", ".join(self.hosts) or "none"
            raise HostsConfigError(f"unknown host {name!r} (known: {known})") from None

    def select(self, names: list[str] | None = None, *, include_disabled: bool = False) -> list[Host]:
        """Hosts named (all when none), without disabled ones unless asked."""
        hosts = [self.get(n) for n in names] if names else list(self.hosts.values())
        return [h for h in hosts if include_disabled or h.status is not HostState.DISABLED]

    @property
    def state_path(self) -> Path:
        return Path(os.environ.get(STATE_DIR_ENV) or self.settings.state_dir).expanduser()

    @property
    def known_hosts_path(self) -> Path:
        return Path(self.settings.known_hosts).expanduser()


def _quote(path: str) -> str:
    """Shell-quote a path but keep a leading `~/` expandable by the remote shell."""
    import shlex

    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def resolve_hosts_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`--hosts PATH`, else `$RIFT_HOSTS`, else `config/hosts.yaml` here or in the project."""
    if path:
        return Path(path).expanduser()
    if os.environ.get(HOSTS_ENV):
        return Path(os.environ[HOSTS_ENV]).expanduser()
    if DEFAULT_HOSTS_PATH.exists():
        return DEFAULT_HOSTS_PATH
    return _PROJECT_ROOT / DEFAULT_HOSTS_PATH


def _describe(error: dict[str, Any]) -> str:
    """One pydantic error as `key 'x': what is wrong`."""
    loc = ".".join(str(p) for p in error["loc"]) or "(entry)"
    kind = error["type"]
    if kind == "missing":
        return f"missing key '{loc}'"
    if kind == "extra_forbidden":
        return f"unknown key '{loc}'"
    if kind == "enum" and loc == "role":
        allowed = ", ".join(r.value for r in Role)
        return f"key 'role': unknown role {error['input']!r} (expected one of: {allowed})"
    return f"key '{loc}': {error['msg']} (got {error.get('input')!r})"


def parse_fleet(data: Any, source: str = "<hosts>") -> Fleet:
    """Validate already-parsed YAML; every problem is listed, each naming host and key."""
    if data is None:
        raise HostsConfigError(f"{source}: the hosts file is empty (no hosts defined)")
    if not isinstance(data, dict):
        raise HostsConfigError(f"{source}: expected a mapping with a 'hosts' key, got {type(data).__name__}")
    unknown = set(data) - {"settings", "hosts"}
    if unknown:
        raise HostsConfigError(f"{source}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    raw_hosts = data.get("hosts")
    if not raw_hosts:
        raise HostsConfigError(f"{source}: no hosts defined under 'hosts'")
    if not isinstance(raw_hosts, dict):
        raise HostsConfigError(f"{source}: 'hosts' must map host names to their settings")
    problems: list[str] = []
    try:
        settings = FleetSettings.model_validate(data.get("settings") or {})
    except ValidationError as exc:
        problems += [f"settings: {_describe(e)}" for e in exc.errors()]
        settings = FleetSettings()
    hosts: dict[str, Host] = {}
    for name, entry in raw_hosts.items():
        if not isinstance(entry, dict):
            problems.append(f"host '{name}': expected a mapping of keys, got {type(entry).__name__}")
            continue
        if "name" in entry:
            problems.append(f"host '{name}': unknown key 'name' (the mapping key is the name)")
            continue
        try:
            hosts[str(name)] = Host.model_validate({"name": str(name), **entry})
        except ValidationError as exc:
            problems += [f"host '{name}': {_describe(e)}" for e in exc.errors()]
    if problems:
        raise HostsConfigError(f"{source}: invalid hosts file:\n  " + "\n  ".join(problems))
    return Fleet(source=source, settings=settings, hosts=hosts)


def load_fleet(path: str | os.PathLike[str] | None = None) -> Fleet:
    """Read and validate the hosts file (see `resolve_hosts_path` for which one)."""
    resolved = resolve_hosts_path(path)
    try:
        text = resolved.read_text()
    except FileNotFoundError:
        raise HostsConfigError(f"hosts file not found: {resolved}") from None
    except OSError as exc:
        raise HostsConfigError(f"cannot read hosts file {resolved}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HostsConfigError(f"{resolved}: not valid YAML: {exc}") from None
    return parse_fleet(data, str(resolved))
