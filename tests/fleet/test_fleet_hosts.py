"""The hosts file: the shipped example loads; every mistake names the host and the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.hosts import HOSTS_ENV, HostsConfigError, Role, load_fleet, parse_fleet, resolve_hosts_path

from .conftest import REPO

GOOD = {
    "ssh_host": "127.0.0.1",
    "user": "rift",
    "key_path": "~/.ssh/id_ed25519",
    "project_path": "/srv/rift",
    "memory_gb": 64,
    "cpus": 16,
    "role": "selfplay",
    "work_pool": "vast-5090",
}


def fleet_error(hosts: dict, settings: dict | None = None) -> str:
    data = {"hosts": hosts, **({"settings": settings} if settings else {})}
    with pytest.raises(HostsConfigError) as info:
        parse_fleet(data, "hosts.yaml")
    return str(info.value)


def test_example_fleet_loads_with_the_four_pools_and_no_key_material() -> None:
    fleet = load_fleet(REPO / "config" / "hosts.yaml")
    assert {h.work_pool for h in fleet.hosts.values()} == {"lambda-h100", "vast-5090", "gh200", "mac-studio"}
    text = (REPO / "config" / "hosts.yaml").read_text()
    assert "PRIVATE KEY" not in text
    mac = next(h for h in fleet.hosts.values() if h.work_pool == "mac-studio")
    assert not mac.has_gpu
    assert fleet.settings.retry.tries == 3 and fleet.settings.breaker.failure_threshold == 5


def test_defaults_match_the_issue() -> None:
    fleet = parse_fleet({"hosts": {"a": GOOD}})
    s = fleet.settings
    assert (s.retry.tries, s.retry.base_s, s.retry.max_s, s.retry.factor) == (3, 2.0, 30.0, 2.0)
    assert (s.breaker.failure_threshold, s.breaker.recovery_timeout_s) == (5, 60.0)
    host = fleet.get("a")
    assert host.port == 22 and host.role is Role.SELFPLAY
    assert host.shell_prefix() == "cd /srv/rift && . /srv/rift/.venv/bin/activate"


@pytest.mark.parametrize("key", ["user", "key_path", "role", "work_pool", "memory_gb"])
def test_missing_key_names_host_and_key(key: str) -> None:
    entry = {k: v for k, v in GOOD.items() if k != key}
    message = fleet_error({"ok-host": GOOD, "vast-2": entry})
    assert f"host 'vast-2': missing key '{key}'" in message
    assert "ok-host" not in message


def test_unknown_role_names_host_key_and_value() -> None:
    message = fleet_error({"gh200-1": {**GOOD, "role": "gpu-box"}})
    assert "host 'gh200-1'" in message and "key 'role'" in message and "'gpu-box'" in message
    assert "selfplay" in message  # lists the allowed roles


def test_every_problem_is_listed_and_typos_are_caught() -> None:
    message = fleet_error(
        {"a": {**GOOD, "prot": 22}, "b": {**GOOD, "port": "not-a-port"}}, settings={"retry": {"tries": 0}}
    )
    assert "host 'a': unknown key 'prot'" in message
    assert "host 'b': key 'port'" in message
    assert "settings: key 'retry.tries'" in message


def test_a_key_itself_is_refused() -> None:
    message = fleet_error({"a": {**GOOD, "key_path": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"}})
    assert "host 'a': key 'key_path'" in message and "never the key itself" in message


@pytest.mark.parametrize(
    "text, expected",
    [("", "empty"), ("hosts: {}\n", "no hosts defined"), ("hosts: [a, b\n", "not valid YAML"), ("- a\n", "expected a mapping")],
)
def test_empty_or_broken_files_are_clear_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    with pytest.raises(HostsConfigError, match=expected) as info:
        load_fleet(path)
    assert str(path) in str(info.value)


def test_missing_file_and_where_the_file_comes_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HostsConfigError, match="hosts file not found"):
        load_fleet(tmp_path / "nope.yaml")
    env_file = tmp_path / "env.yaml"
    env_file.write_text(yaml.safe_dump({"hosts": {"from-env": GOOD}}))
    monkeypatch.setenv(HOSTS_ENV, str(env_file))
    assert list(load_fleet().hosts) == ["from-env"]
    assert resolve_hosts_path("explicit.yaml") == Path("explicit.yaml")  # --hosts wins over the env var
