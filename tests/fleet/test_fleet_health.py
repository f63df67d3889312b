"""Resource snapshots and health verdicts. The only fake here is the GPU (none on this machine)."""
from __future__ import annotations

import http.server
import json
import os
import sqlite3
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Iterator

import pytest

from infra import health
from infra.health import (
    CheckResult, Health, Snapshot, count_games, evaluate, local_snapshot, prefect_api_check, worker_info,
    worker_pid_file,
)
from infra.hosts import HealthSettings

from .conftest import LOOPBACK, REPO, free_port, unique_pool


def make_store(data_dir: Path, name: str, games: int) -> None:
    (data_dir / "games").mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(data_dir / "games" / f"{name}.db") as conn:
        conn.execute("CREATE TABLE games (id INTEGER PRIMARY KEY, hash TEXT UNIQUE)")
        conn.executemany("INSERT INTO games (hash) VALUES (?)", [(f"h{i}",) for i in range(games)])
    conn.close()


def snap(**over) -> Snapshot:
    base = dict(hostname="h", taken_at=0, cpu_pct=10, cpus=2, mem_pct=20, mem_total_gb=8, disk_path="/", disk_pct=50,
                disk_free_gb=100, database=CheckResult(ok=True, detail="ok"), prefect_api=CheckResult(ok=None))
    return Snapshot(**{**base, **over})


def test_local_snapshot_measures_this_machine(tmp_path: Path) -> None:
    make_store(tmp_path, "square8_2p", 3)
    s = local_snapshot(tmp_path, pool=unique_pool("local"), cpu_interval=0.05)
    assert 0 <= s.cpu_pct <= 100 and 0 < s.mem_pct < 100 and 0 < s.disk_pct < 100 and s.disk_free_gb > 0
    assert s.games == {"square8_2p": 3} and s.games_total == 3 and s.database.ok
    if not s.gpus:  # this machine: no NVIDIA GPU is a normal state, not an error
        assert s.gpu_note.startswith("no GPU")
    report = evaluate(s, HealthSettings(require_worker=False, disk_free_warn_pct=0, disk_free_min_pct=0))
    assert report.status is Health.HEALTHY and report.reason == "all checks passed"


def test_probe_prints_a_snapshot_as_json(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "infra.probe", "--data-dir", str(tmp_path), "--cpu-interval", "0.01"],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=60)
    parsed = Snapshot.model_validate_json(out.stdout)
    assert parsed.disk_path == str(tmp_path.resolve()) and parsed.games == {}


def fake_nvml(used_mb: float, total_mb: float = 81920, fail_init: bool = False) -> types.ModuleType:
    """Stand-in for pynvml: there is no GPU here to measure."""
    mod = types.ModuleType("pynvml")

    def init() -> None:
        if fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    mod.nvmlInit = init
    mod.nvmlShutdown = lambda: None
    mod.nvmlDeviceGetCount = lambda: 1
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=used_mb * 2**20, total=total_mb * 2**20)
    mod.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=87, memory=40)
    return mod


def test_gpu_stats_through_nvml_and_low_gpu_memory_degrades(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(used_mb=78000))
    gpus, note = health.gpu_stats()
    assert note == "" and len(gpus) == 1
    assert gpus[0].name == "NVIDIA H100 80GB HBM3" and gpus[0].util_pct == 87
    assert gpus[0].mem_free_pct == pytest.approx(100 * (1 - 78000 / 81920))
    report = evaluate(snap(gpus=gpus), HealthSettings(require_worker=False))
    assert report.status is Health.DEGRADED and "GPU 0" in report.reason and "below 10%" in report.reason


def test_no_gpu_is_reported_as_no_gpu_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(0, fail_init=True))
    gpus, note = health.gpu_stats()
    assert gpus == [] and note.startswith("no GPU") and "Library Not Found" in note
    monkeypatch.setitem(sys.modules, "pynvml", None)  # nvidia-ml-py not installed at all
    assert health.gpu_stats() == ([], "no GPU (nvidia-ml-py not installed)")
    report = evaluate(snap(gpu_note=note), HealthSettings(require_worker=False))
    assert report.status is Health.HEALTHY


@pytest.mark.parametrize("disk_pct, expected", [(50, Health.HEALTHY), (90, Health.DEGRADED), (97, Health.UNHEALTHY)])
def test_disk_thresholds(disk_pct: float, expected: Health) -> None:
    report = evaluate(snap(disk_pct=disk_pct), HealthSettings(require_worker=False))
    assert report.status is expected
    assert (expected is Health.HEALTHY) == (report.reason == "all checks passed")


def test_unreadable_game_store_is_unhealthy(tmp_path: Path) -> None:
    make_store(tmp_path, "hex8_3p", 2)
    (tmp_path / "games" / "square19_2p.db").write_bytes(b"this is not a database" * 100)
    counts, check = count_games(tmp_path)
    assert counts["hex8_3p"] == 2 and counts["square19_2p"] is None and check.ok is False
    report = evaluate(snap(database=check), HealthSettings(require_worker=False))
    assert report.status is Health.UNHEALTHY and "square19_2p.db" in report.reason


def test_worker_alive_from_pid_file(tmp_path: Path) -> None:
    pool = unique_pool("gh200")  # no other checkout's worker or probe has it in its command line
    assert not worker_info(tmp_path, pool).running
    proc = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = Path(worker_pid_file(tmp_path, pool))
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{proc.pid}\n")
        info = worker_info(tmp_path, pool)
        assert info.running and info.pid == proc.pid
        report = evaluate(snap(worker=info), HealthSettings())
        assert report.status is Health.HEALTHY
    finally:
        proc.kill()
        proc.wait()
    info = worker_info(tmp_path, pool)
    assert not info.running
    report = evaluate(snap(worker=info), HealthSettings(require_worker=True))
    assert report.status is Health.DEGRADED and "worker not running" in report.reason


@pytest.fixture
def health_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(True).encode()
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_prefect_api_reachable_or_not(health_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prefect_api_check(health_server).ok is True
    down = prefect_api_check(f"http://{LOOPBACK}:{free_port()}/api", timeout=1)
    assert down.ok is False and "unreachable" in down.detail
    report = evaluate(snap(prefect_api=down), HealthSettings(require_worker=False))
    assert report.status is Health.DEGRADED and "unreachable" in report.reason
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert prefect_api_check(None).ok is None  # embedded server: nothing to reach


def test_process_scan_counts_only_this_projects_worker_on_this_data_folder(tmp_path: Path) -> None:
    """A `prefect worker start --pool gh200` of another checkout (another data folder) or of another
    pool whose name contains ours is not this host's worker; one on our data folder is."""
    def start(pool: str, data: Path) -> subprocess.Popen:  # a process whose command line looks like a worker's
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "prefect", "worker", "start",
                                 "--pool", pool], env={**os.environ, "RIFT_DATA_DIR": str(data)}, cwd=tmp_path)

    other, ours_elsewhere = start("gh200", tmp_path / "other-data"), start("gh200-big", tmp_path / "data")
    try:
        assert not worker_info(tmp_path / "data", "gh200").running
        ours = start("gh200", tmp_path / "data")
        try:
            info = worker_info(tmp_path / "data", "gh200")
            assert info.running and info.pid == ours.pid
        finally:
            ours.kill()
            ours.wait()
    finally:
        for p in (other, ours_elsewhere):
            p.kill()
            p.wait()
