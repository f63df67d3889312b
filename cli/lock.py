"""The locked install: `requirements.lock` pins every package the project and its tests need.

`python -m cli.lock check` compares what this Python has installed with the lock and exits 1
naming each package that differs (the Makefile runs it after installing, `.ci/run` before the
tests). `python -m cli.lock write` rewrites the lock from this environment: the dependency
closure of the installed project with its `test` extra, each at the version installed here.
`make lock` runs it in a scratch virtualenv freshly resolved from pyproject.toml's ranges,
which is how the lock is refreshed (README, "Locked install").

No third-party imports beyond `packaging` (installed with pip's own dependencies everywhere):
this runs before anything else is known to work.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK = PROJECT_ROOT / "requirements.lock"
PROJECT = "ringrift-pipeline"
EXTRAS = ("test",)
# The ones a wrong version breaks first: always named in `check`'s summary.
KEY_PACKAGES = ("prefect", "torch", "fastapi")
HEADER = """\
# The locked install of ringrift-pipeline: every package and its tests need, at the versions tested.
# Installed by `make install` (pip install -r requirements.lock, then the project with --no-deps) and .ci/run.
# Refresh: `make lock` (a scratch venv resolved from pyproject.toml's ranges, then `python -m cli.lock write`);
# check an environment against it: `python -m cli.lock check`. Do not edit by hand.
# torch is the CPU build (+cpu): a local wheel in pip's find-links, or PyTorch's CPU index given as
# `make install TORCH_INDEX=<its URL>` (README, "Locked install").
"""
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


class LockError(Exception):
    """The lock file is missing or unreadable."""


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """{canonical name: pinned version} from a lock file."""
    if not path.exists():
        raise LockError(f"{path}: no lock file; create it with `make lock`")
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _PIN.match(line)
        if not match:
            raise LockError(f"{path}:{number}: {line!r} is not `name==version`; regenerate with `make lock`")
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def installed_version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def closure(root: str = PROJECT, extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """{canonical name: installed version} of `root`'s requirements (with `extras`), transitively,
    as installed in this environment. Raises LockError naming a requirement that is not installed."""
    found: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...], str]] = [(root, extras, "")]
    seen: set[tuple[str, str]] = set()
    while todo:
        name, wanted, parent = todo.pop()
        key = canonicalize_name(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            raise LockError(f"{name} (needed by {parent or 'the lock'}) is not installed; "
                            "install the project first (`make install`)") from None
        if key != canonicalize_name(root):
            found[key] = dist.version
        for extra in ("", *wanted):
            if (key, extra) in seen:
                continue
            seen.add((key, extra))
            for spec in dist.requires or []:
                req = Requirement(spec)
                env = {"extra": extra}
                if req.marker is not None and not req.marker.evaluate(env):
                    continue
                if req.marker is None and extra:
                    continue  # unconditional requirements were taken with extra ""
                todo.append((req.name, tuple(sorted(req.extras)), dist.metadata["Name"]))
    return found


def write_lock(path: Path = LOCK) -> int:
    pins = closure()
    body = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    path.write_text(HEADER + body)
    print(f"{path}: {len(pins)} packages locked "
          f"({', '.join(f'{k} {pins[k]}' for k in KEY_PACKAGES if k in pins)})")
    return 0


def differences(pins: dict[str, str]) -> list[str]:
    """One line per locked package whose installed version differs from the lock (or is missing)."""
    lines = []
    for name, version in sorted(pins.items()):
        have = installed_version(name)
        if have != version:
            lines.append(f"{name}: locked {version}, installed {have or 'nothing'}")
    return lines


def check(path: Path = LOCK) -> int:
    try:
        pins = read_lock(path)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = [k for k in KEY_PACKAGES if k not in pins]
    problems = differences(pins) + [f"{k}: not in the lock" for k in missing]
    if problems:
        print(f"error: this environment ({sys.prefix}) does not match {path}:\n  " + "\n  ".join(problems)
              + "\nreinstall from the lock: `rm -r .venv && make install` (or refresh the lock: `make lock`)",
              file=sys.stderr)
        return 1
    print(f"installed packages match {path.name} ({len(pins)} packages; "
          + ", ".join(f"{k} {pins[k]}" for k in KEY_PACKAGES) + ")")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.lock", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["check", "write"])
    parser.add_argument("--lock", type=Path, default=LOCK, help="lock file (default requirements.lock)")
    args = parser.parse_args(argv)
    if args.action == "write":
        try:
            return write_lock(args.lock)
        except LockError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return check(args.lock)


if __name__ == "__main__":
    sys.exit(main())
