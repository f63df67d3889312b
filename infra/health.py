"""Resource snapshots and health verdicts for one machine.

`local_snapshot()` gathers the raw facts on the machine it runs on (psutil for
CPU, memory and disk; nvidia-ml-py for GPUs; the game stores; the Prefect worker
and API). The same function runs on a remote host as `python -m infra.probe`,
whose JSON comes back over SSH as a `Snapshot`. `evaluate()` then turns facts
into healthy / degraded / unhealthy with a reason, using the fleet's thresholds,
so the judgement is made in one place with one set of settings.

No GPU (no driver, no nvidia-ml-py, a Mac) is a normal state reported as
"no GPU", never as an error.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from contextlib import closing
from enum import Enum
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict

from infra.hosts import HealthSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # worker scans count only this checkout's workers

GAMES_SUBDIR = "games"
WORKER_PID_DIR = "cluster"


def worker_pid_file(data_dir: str | Path, pool: str) -> str:
    """Where `start-workers` records the worker's pid, relative to a host's data dir."""
    return f"{data_dir}/{WORKER_PID_DIR}/worker-{pool}.pid"


class GpuStat(BaseModel):
    index: int
    name: str
    util_pct: float
    mem_used_mb: float
    mem_total_mb: float

    @property
    def mem_free_pct(self) -> float:
        return 100.0 * (1 - self.mem_used_mb / self.mem_total_mb) if self.mem_total_mb else 0.0


class CheckResult(BaseModel):
    ok: bool | None  # None: not applicable / not configured
    detail: str = ""


class WorkerInfo(BaseModel):
    running: bool = False
    pid: int | None = None
    detail: str = ""


class Snapshot(BaseModel):
    """Raw facts about one machine at one moment (what `infra.probe` prints)."""

    model_config = ConfigDict(extra="ignore")

    hostname: str
    taken_at: float
    cpu_pct: float
    cpus: int
    mem_pct: float
    mem_total_gb: float
    disk_path: str
    disk_pct: float
    disk_free_gb: float
    gpus: list[GpuStat] = []
    gpu_note: str = ""
    worker: WorkerInfo = WorkerInfo()
    games: dict[str, int | None] = {}
    database: CheckResult = CheckResult(ok=None)
    prefect_api: CheckResult = CheckResult(ok=None)

    @property
    def games_total(self) -> int:
        return sum(n for n in self.games.values() if n)


# -- gathering facts ---------------------------------------------------------
def gpu_stats() -> tuple[list[GpuStat], str]:
    """NVIDIA GPUs through NVML, or ([], "no GPU (why)") when there are none."""
    try:
        import pynvml
    except ImportError:
        return [], "no GPU (nvidia-ml-py not installed)"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return [], f"no GPU (NVML unavailable: {exc})"
    try:
        stats = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            stats.append(GpuStat(
                index=i,
                name=name.decode() if isinstance(name, bytes) else str(name),
                util_pct=float(util.gpu),
                mem_used_mb=mem.used / 2**20,
                mem_total_mb=mem.total / 2**20,
            ))
    except Exception as exc:
        return [], f"no GPU (NVML error: {exc})"
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return stats, "" if stats else "no GPU (NVML found no devices)"


def count_games(data_dir: str | Path) -> tuple[dict[str, int | None], CheckResult]:
    """Games per store (`<data>/games/*.db`), read-only; also whether every store opens."""
    stores = sorted(Path(data_dir, GAMES_SUBDIR).glob("*.db"))
    if not stores:
        return {}, CheckResult(ok=True, detail="no game stores yet")
    counts: dict[str, int | None] = {}
    broken = []
    for db in stores:
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                counts[db.stem] = conn.execute("SELECT COUNT(*) FROM games").fetchone()[0] if "games" in tables else None
        except sqlite3.Error as exc:
            counts[db.stem] = None
            broken.append(f"{db.name}: {exc}")
    if broken:
        return counts, CheckResult(ok=False, detail="game store unreadable: " + "; ".join(broken))
    return counts, CheckResult(ok=True, detail=f"{len(stores)} store(s) readable")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _names_pool(args: list[str], pool: str) -> bool:
    """`--pool NAME`, `-p NAME` or `--pool=NAME` with exactly this pool (not a pool containing it)."""
    for i, a in enumerate(args):
        if a in ("--pool", "-p") and i + 1 < len(args) and args[i + 1] == pool:
            return True
        if a == f"--pool={pool}":
            return True
    return False


def _ours(proc: psutil.Process, data_dir: str | Path) -> bool:
    """A worker of this project on this data folder: its RIFT_DATA_DIR is ours, or it runs in this checkout
    with no data folder of its own (another checkout's workers, or another data folder's, are not ours)."""
    try:
        env = proc.environ()
        cwd = Path(proc.cwd()).resolve()
    except (psutil.Error, OSError):
        return False
    if env.get("RIFT_DATA_DIR"):
        return Path(env["RIFT_DATA_DIR"]).resolve() == Path(data_dir).expanduser().resolve()
    return cwd == PROJECT_ROOT


def worker_info(data_dir: str | Path, pool: str | None) -> WorkerInfo:
    """Is this machine's Prefect worker alive? Pid file from start-workers, else a process scan."""
    if not pool:
        return WorkerInfo(detail="no pool given")
    pid_file = Path(worker_pid_file(data_dir, pool))
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().split()[0])
        except (ValueError, IndexError, OSError):
            pid = 0
        if pid and _running(pid):
            return WorkerInfo(running=True, pid=pid, detail=f"pid {pid} (pid file)")
    for proc in psutil.process_iter(["pid", "cmdline"]):
        args = proc.info.get("cmdline") or []
        cmd = " ".join(args)
        if ("prefect" in cmd and "worker" in cmd and _names_pool(args, pool) and proc.pid != os.getpid()
                and _ours(proc, data_dir)):
            return WorkerInfo(running=True, pid=proc.pid, detail=f"pid {proc.pid} (process scan)")
    return WorkerInfo(detail=f"no worker for pool {pool}")


def prefect_api_check(url: str | None, timeout: float = 3.0) -> CheckResult:
    """GET <PREFECT_API_URL>/health; not configured means the embedded local server."""
    url = url or os.environ.get("PREFECT_API_URL")
    if not url:
        return CheckResult(ok=None, detail="not configured (embedded local server)")
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as resp:
            return CheckResult(ok=resp.status == 200, detail=f"{url}: HTTP {resp.status}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return CheckResult(ok=False, detail=f"{url} unreachable: {getattr(exc, 'reason', exc)}")


def local_snapshot(
    data_dir: str | Path = "data",
    pool: str | None = None,
    prefect_url: str | None = None,
    cpu_interval: float = 0.2,
) -> Snapshot:
    """Everything `evaluate` and the status table need, measured here and now."""
    data_dir = Path(data_dir).expanduser()
    disk_path = data_dir if data_dir.exists() else Path.cwd()
    disk = psutil.disk_usage(str(disk_path))
    mem = psutil.virtual_memory()
    gpus, gpu_note = gpu_stats()
    games, database = count_games(data_dir)
    return Snapshot(
        hostname=socket.gethostname(),
        taken_at=time.time(),
        cpu_pct=psutil.cpu_percent(interval=cpu_interval),
        cpus=psutil.cpu_count() or 1,
        mem_pct=mem.percent,
        mem_total_gb=mem.total / 2**30,
        disk_path=str(disk_path.resolve()),
        disk_pct=disk.percent,
        disk_free_gb=disk.free / 2**30,
        gpus=gpus,
        gpu_note=gpu_note,
        worker=worker_info(data_dir, pool),
        games=games,
        database=database,
        prefect_api=prefect_api_check(prefect_url),
    )


# -- judging them ------------------------------------------------------------
class Health(str, Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


_RANK = {Health.HEALTHY: 0, Health.DEGRADED: 1, Health.UNHEALTHY: 2}


class Check(BaseModel):
    name: str
    status: Health
    detail: str


class HealthReport(BaseModel):
    status: Health
    reason: str
    checks: list[Check] = []

    @classmethod
    def unreachable(cls, reason: str) -> "HealthReport":
        return cls(status=Health.UNHEALTHY, reason=reason, checks=[Check(name="reachable", status=Health.UNHEALTHY, detail=reason)])


def evaluate(snap: Snapshot, settings: HealthSettings | None = None) -> HealthReport:
    """Healthy, degraded or unhealthy, with the failing checks as the reason."""
    settings = settings or HealthSettings()
    checks: list[Check] = []

    def add(name: str, status: Health, detail: str) -> None:
        checks.append(Check(name=name, status=status, detail=detail))

    add("database", Health.UNHEALTHY if snap.database.ok is False else Health.HEALTHY, snap.database.detail)

    free_pct = 100.0 - snap.disk_pct
    disk_detail = f"disk {free_pct:.1f}% free ({snap.disk_free_gb:.1f} GB) at {snap.disk_path}"
    if free_pct < settings.disk_free_min_pct:
        add("disk", Health.UNHEALTHY, f"{disk_detail}, below {settings.disk_free_min_pct:g}%")
    elif free_pct < settings.disk_free_warn_pct:
        add("disk", Health.DEGRADED, f"{disk_detail}, below {settings.disk_free_warn_pct:g}%")
    else:
        add("disk", Health.HEALTHY, disk_detail)

    if not snap.gpus:
        add("gpu_memory", Health.HEALTHY, snap.gpu_note or "no GPU")
    for gpu in snap.gpus:
        detail = f"GPU {gpu.index} ({gpu.name}) memory {gpu.mem_free_pct:.1f}% free"
        low = gpu.mem_free_pct < settings.gpu_mem_free_min_pct
        add(f"gpu{gpu.index}_memory", Health.DEGRADED if low else Health.HEALTHY,
            f"{detail}, below {settings.gpu_mem_free_min_pct:g}%" if low else detail)

    add("prefect_api", Health.DEGRADED if snap.prefect_api.ok is False else Health.HEALTHY, snap.prefect_api.detail)

    if snap.worker.running or not settings.require_worker:
        add("worker", Health.HEALTHY, snap.worker.detail)
    else:
        add("worker", Health.DEGRADED, f"worker not running ({snap.worker.detail})")

    status = max((c.status for c in checks), key=_RANK.__getitem__)
    bad = [c.detail for c in checks if c.status is not Health.HEALTHY]
    return HealthReport(status=status, reason="; ".join(bad) or "all checks passed", checks=checks)
