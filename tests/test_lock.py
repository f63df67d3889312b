"""The locked install (issue 17, must-show 4): requirements.lock pins what runs here, prefect.yaml agrees,
and `python -m cli.lock check` names every package that differs from the lock."""
from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli.lock import KEY_PACKAGES, LOCK, LockError, closure, read_lock

REPO = Path(__file__).resolve().parents[1]


def test_the_key_packages_installed_here_are_the_locked_ones() -> None:
    pins = read_lock()
    for name in KEY_PACKAGES:
        assert md.version(name) == pins[name], f"{name} {md.version(name)} is installed, the lock says {pins[name]}"
    assert pins["torch"] == "2.13.0+cpu"


def test_every_locked_package_is_installed_at_its_version() -> None:
    out = subprocess.run([sys.executable, "-m", "cli.lock", "check"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "prefect " + read_lock()["prefect"] in out.stdout


def test_the_lock_holds_exactly_what_the_project_needs() -> None:
    """pyproject.toml's dependencies (with the test extra), transitively: a dependency added without
    `make lock` would be missing from the lock, one removed would linger in it."""
    assert set(closure()) == set(read_lock())


def test_prefect_yaml_names_the_locked_prefect() -> None:
    declared = yaml.safe_load((REPO / "prefect.yaml").read_text())["prefect-version"]
    assert str(declared) == read_lock()["prefect"]


def test_check_names_each_package_that_differs(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK.read_text().replace(f"prefect=={read_lock()['prefect']}\n", "prefect==0.0.1\n")
                    + "no-such-package-rift==1.0\n")
    out = subprocess.run([sys.executable, "-m", "cli.lock", "check", "--lock", str(lock)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert f"prefect: locked 0.0.1, installed {md.version('prefect')}" in out.stderr
    assert "no-such-package-rift: locked 1.0, installed nothing" in out.stderr
    assert "make install" in out.stderr


def test_a_malformed_or_missing_lock_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "requirements.lock"
    bad.write_text("prefect>=3\n")
    with pytest.raises(LockError, match=r"requirements.lock:1: 'prefect>=3' is not `name==version`"):
        read_lock(bad)
    with pytest.raises(LockError, match="no lock file; create it with `make lock`"):
        read_lock(tmp_path / "absent.lock")
