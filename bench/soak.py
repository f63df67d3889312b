"""Soak: continuous mode for a chosen duration on a fresh stack, and what it cost the server.

Starts `rift up --database <db>` (server, pools, deployments, a worker for the local pool) in a
throwaway folder, turns continuous mode on with `--loops` selfplay loops for one board, samples
memory of the server and the worker (each with its children) every `--sample` seconds, then
`rift continuous off --wait` and reports:

  games/hour, trainings (runs, models registered), evaluations, flow runs created per useful run
  (useful: a selfplay loop, a training that registered a model, an evaluation that rated one),
  server errors (log lines: `database is locked`, tracebacks, ERROR), runs failed/crashed, runs
  left non-final after the drain, memory at the first and last quarter (growth in %).

    .venv/bin/python bench/soak.py --minutes 60 --database sqlite --markdown
    .venv/bin/python bench/soak.py --minutes 60 --database postgres --markdown
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_mb(proc: psutil.Process) -> float:
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in family:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def find(up: psutil.Process, needle: str) -> psutil.Process | None:
    for p in up.children(recursive=False):
        try:
            if needle in " ".join(p.cmdline()):
                return p
        except psutil.NoSuchProcess:
            pass
    return None


def all_runs(api: str) -> list[dict]:
    out: list[dict] = []
    while page := httpx.post(f"{api}/flow_runs/filter", json={"limit": 200, "offset": len(out)}, timeout=60).json():
        out += page
    return out


def flow_names(api: str) -> dict[str, str]:
    return {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}, timeout=60).json()}


def log_errors(log: Path) -> dict[str, int]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return {"database_locked": len(re.findall(r"database is locked", text)),
            "tracebacks": text.count("Traceback (most recent call last)"),
            "error_lines": len(re.findall(r"\|\s*ERROR\s*\||\bERROR\b", text))}


def soak(minutes: float, database: str, loops: int, board: str, profile: str, train_every: int | None,
         sample_s: float, keep: bool) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"rift-soak-{database}-", dir="/tmp"))
    os.chmod(root, 0o755)  # PostgreSQL's account must reach its cluster folder when run as root
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    keep_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RIFT_"))}
    env = {**keep_env, "PREFECT_HOME": str(root / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "RIFT_DATA_DIR": str(root / "data"), "RIFT_POSTGRES_PORT": str(free_port()),
           "PREFECT_WORKER_QUERY_SECONDS": "2", "PYTHONPATH": str(REPO),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    logs = root / "data" / "logs"
    up = subprocess.Popen([str(BIN / "python"), "-m", "cli.main", "up", "--database", database, "--port", str(port),
                           "--logs", str(logs)], cwd=REPO, env=env, stdout=open(root / "up.log", "wb"),
                          stderr=subprocess.STDOUT, start_new_session=True)

    def rift(*args: str, timeout: float = 3600) -> str:
        out = subprocess.run([str(BIN / "python"), "-m", "cli.main", *args], cwd=REPO,
                             env={**env, "PREFECT_API_URL": api}, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"rift {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    samples: list[dict] = []
    try:
        deadline = time.monotonic() + 1200
        while "worker for pool" not in (root / "up.log").read_text(errors="replace"):
            if up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rift up did not come up:\n" + (root / "up.log").read_text(errors="replace"))
            time.sleep(1)
        parent = psutil.Process(up.pid)
        server, worker = find(parent, "server start"), find(parent, "worker start")
        on = ["continuous", "on", "--board", board, "--profile", profile]
        on += ["--train-every", str(train_every)] if train_every is not None else []
        for _ in range(loops):
            rift(*on)
        started = time.monotonic()
        end = started + minutes * 60
        while time.monotonic() < end:
            samples.append({"t_s": round(time.monotonic() - started), "server_mb": round(tree_rss_mb(server), 1),
                            "worker_mb": round(tree_rss_mb(worker), 1)})
            time.sleep(min(sample_s, max(0.0, end - time.monotonic())))
        off_t0 = time.monotonic()
        off = rift("continuous", "off", "--board", board, "--wait")
        off_s = time.monotonic() - off_t0
        wall_h = (time.monotonic() - started) / 3600
        runs, names = all_runs(api), flow_names(api)
        by_flow: dict[str, dict[str, int]] = {}
        for r in runs:
            state = (r.get("state") or {}).get("type") or "NONE"
            by_flow.setdefault(names.get(r["flow_id"], "?"), {}).setdefault(state, 0)
            by_flow[names.get(r["flow_id"], "?")][state] += 1
        from infra.data_config import config_key
        from infra.gamestore import GameStore
        from infra.registry import ModelRegistry
        db = root / "data" / "games" / f"{config_key(board, 2)}.db"
        with GameStore(db, "soak", read_only=True) as store:
            games, ids = store.count(), store.ids()
        with ModelRegistry(root / "data" / "registry.db") as reg:
            models = reg.models_frame(board, 2)
        rated = int(models["rating"].notna().sum()) if len(models) else 0
        useful = loops + len(models) + rated
        quarter = max(1, len(samples) // 4)
        first = [s["server_mb"] + s["worker_mb"] for s in samples[:quarter]]
        last = [s["server_mb"] + s["worker_mb"] for s in samples[-quarter:]]
        growth = 100.0 * (statistics.mean(last) / statistics.mean(first) - 1) if first and first[0] else None
        return {
            "database": database, "minutes": minutes, "loops": loops, "board": board, "profile": profile,
            "games": games, "duplicate_ids": len(ids) - len(set(ids)), "games_per_hour": round(games / wall_h),
            "trainings": by_flow.get("continuous-train", {}), "models": len(models), "models_rated": rated,
            "evaluations": by_flow.get("continuous-evaluate", {}), "runs_by_flow": by_flow,
            "flow_runs": len(runs), "flow_runs_per_useful_run": round(len(runs) / max(1, useful), 2),
            "failed_or_crashed": sum(c for f in by_flow.values() for s, c in f.items() if s in ("FAILED", "CRASHED")),
            "left_non_final": sum(c for n, f in by_flow.items() for s, c in f.items()  # backup's cron runs wait
                                  if n.startswith("continuous-") and s not in FINAL),
            "server_errors": log_errors(logs / "server.log"), "worker_errors": log_errors(logs / "worker-local.log"),
            "memory_first_quarter_mb": round(statistics.mean(first), 1) if first else None,
            "memory_last_quarter_mb": round(statistics.mean(last), 1) if last else None,
            "memory_growth_pct": round(growth, 1) if growth is not None else None,
            "off_wait_s": round(off_s, 1), "off_output": off.strip().splitlines()[-1:], "samples": samples,
            "folder": str(root) if keep else None,
        }
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGTERM)  # rift up stops the worker, the server and PostgreSQL
            try:
                up.wait(300)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def markdown(r: dict) -> str:
    e = r["server_errors"]
    return (f"| {r['database']} | {r['minutes']:g} min, {r['loops']} loops | {r['games']} ({r['games_per_hour']}/h) | "
            f"{sum(r['trainings'].values())} runs, {r['models']} models | {r['models_rated']} rated | "
            f"{r['flow_runs']} ({r['flow_runs_per_useful_run']}/useful) | {r['failed_or_crashed']} | "
            f"{r['left_non_final']} | {e['database_locked']} locked, {e['tracebacks']} tracebacks | "
            f"{r['memory_first_quarter_mb']} → {r['memory_last_quarter_mb']} MB ({r['memory_growth_pct']}%) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--loops", type=int, default=2, help="selfplay loops (one `rift continuous on` each)")
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--train-every", type=int, default=None)
    ap.add_argument("--sample", type=float, default=30, help="seconds between memory samples")
    ap.add_argument("--keep", action="store_true", help="keep the folder (logs, data) for inspection")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path, help="write the full result here")
    args = ap.parse_args()
    result = soak(args.minutes, args.database, args.loops, args.board, args.profile, args.train_every, args.sample,
                  args.keep)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    if args.markdown:
        print("| database | run | games | trainings | evaluated | flow runs | failed | non-final | server errors "
              "| memory (server+worker) |\n|---|---|---|---|---|---|---|---|---|---|\n" + markdown(result))


if __name__ == "__main__":
    main()
