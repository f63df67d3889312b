"""A fleet on one machine for tests/pipeline/test_fleet.py: one `prefect server start`, moto's S3 server
on loopback, and hosts that share nothing but the API URL and the bucket.

Each host has its own HOME, PREFECT_HOME and data folder, and runs in a private mount namespace in
which every other host's folder (and the server's) is an empty tmpfs: a host that reached into another's
data folder would find nothing, so everything that reaches the coordinator had to travel through the
bucket and Prefect's results. (Separate Unix users would be the other way, but this machine's Python
lives under /root, which other users cannot enter.) The hosts are set up the way a
researcher does it (docs/fleet.md): `rift storage s3`, `rift deploy`, `rift worker --pool NAME`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from .stack import BIN, REPO, Stack

HOSTS = ("coord", "vast", "lambda", "lambda2", "gh200")  # all made up front: each hides all the others
PLACEMENT = {"selfplay": "vast-5090", "train": "lambda-h100", "evaluate": "gh200"}


class Fleet(Stack):
    """The server (root, like the coordinator's admin) and hosts, each a uid with its own folders."""

    def __init__(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="rift-fleet-", dir="/tmp"))
        root.chmod(0o711)  # hosts may enter their own folder, never list or read another's
        super().__init__(root)
        self.config = root / "config"
        self.config.mkdir()
        self._write_configs()
        for name in HOSTS:
            for sub in ("home", "prefect", "data"):
                (root / name / sub).mkdir(parents=True)
        self.env.update({"PREFECT_HOME": str(root / "server"),
                         "RIFT_PIPELINE_CONFIG": str(self.config / "pipeline.yaml"),
                         "RIFT_POOLS_CONFIG": str(self.config / "pools.yaml")})
        self.env.pop("RIFT_DATA_DIR", None)

    def _write_configs(self) -> None:
        """pools.yaml with the fleet's placement; pipeline.yaml without the CMA-ES phases (time) and a
        lenient tiny gate (the test is about lineage across hosts, not about strength)."""
        pools = yaml.safe_load((REPO / "config" / "pools.yaml").read_text())
        pools["placement"] = dict(PLACEMENT)
        pipeline = yaml.safe_load((REPO / "config" / "pipeline.yaml").read_text())
        pipeline["phases"] = ["selfplay", "sync", "train", "evaluate", "gate", "monitor"]
        pipeline["profiles"]["tiny"]["gate"] = {"min_games": 1, "win_rate": 0.01,
                                               "sprt": {"alpha": 0.001, "beta": 0.001}}
        for name, data in (("pools.yaml", pools), ("pipeline.yaml", pipeline)):
            (self.config / name).write_text(yaml.safe_dump(data))
            (self.config / name).chmod(0o644)

    def wait_healthy(self, timeout: float = 1800) -> None:  # three hosts' worth of start-up on 2 cores
        super().wait_healthy(timeout)

    def cli(self, *args: str, timeout: float = 1800) -> str:
        return super().cli(*args, timeout=timeout)

    def folder(self, name: str) -> Path:
        assert name in HOSTS, f"add {name} to HOSTS"
        return self.root / name

    def isolated(self, name: str, args: list[str]) -> list[str]:
        """`args` run as host `name`: in a mount namespace where the other hosts and the server are empty."""
        hidden = [str(self.folder(h)) for h in HOSTS if h != name] + [str(self.root / "server")]
        script = 'for d in ' + " ".join(hidden) + '; do mount -t tmpfs -o size=64k none "$d" || exit 1; done; exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", *args]

    def host_env(self, name: str, **extra: str) -> dict[str, str]:
        """Only what a host shares with the others: the API URL (and the settings files in the test)."""
        folder = self.folder(name)
        keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
        return {**keep, "HOME": str(folder / "home"), "PREFECT_HOME": str(folder / "prefect"),
                "PREFECT_API_URL": self.api, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_WORKER_QUERY_SECONDS": "2",
                "RIFT_CODE_VERSION": "fleet-test", "RIFT_PIPELINE_CONFIG": self.env["RIFT_PIPELINE_CONFIG"],
                "RIFT_POOLS_CONFIG": self.env["RIFT_POOLS_CONFIG"], **extra}

    def rift_worker(self, name: str, pool: str, **extra: str) -> subprocess.Popen:
        """`rift worker --pool POOL` as host `name`'s user, with the S3 blocks `rift storage s3` saved."""
        folder = self.folder(name)
        args = self.isolated(name, [str(BIN / "python"), "-m", "cli.main", "worker", "--pool", pool, "--name", name,
                "--data-dir", str(folder / "data"), "--storage-block", "s3-bucket/rift-artifacts",
                "--results-block", "s3-bucket/rift-results"])
        log = open(self.root / f"worker-{name}.log", "ab")
        proc = subprocess.Popen(args, cwd=REPO, env=self.host_env(name, **extra), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        super().close()
        logs = Path(tempfile.gettempdir()) / "rift-fleet-logs"  # the last run's logs, for whoever reads a failure
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir()
        for log in self.root.glob("*.log"):
            shutil.copy(log, logs / log.name)
        shutil.rmtree(self.root, ignore_errors=True)
