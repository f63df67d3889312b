"""Prefect's overhead on an iteration: wall time minus the time spent inside the phase functions.

Runs the iteration flow in this process (a temporary local server unless
PREFECT_API_URL is set; its start-up is reported apart, it is paid once per
process) on a throwaway data folder, a few times, each time a new iteration so
nothing is served from cache, and splits the wall time into:

  inside      the phase functions themselves (the library: playing games, ingesting, probing)
  per task    each task's wall time around the call minus its inside time (Prefect's task engine,
              result persistence, state API calls)
  in flow     the flow body outside the tasks: loading config, planning, publishing artifacts
  flow call   starting and finishing the flow run (Prefect's flow engine)

    .venv/bin/python bench/pipeline.py                      # tiny profile (6 games)
    .venv/bin/python bench/pipeline.py --games 3000 --markdown
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for key, value in {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", "PREFECT_SERVER_ANALYTICS_ENABLED":
                   "false", "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}.items():
    os.environ.setdefault(key, value)


def one(board: str, players: int, profile: str, data: Path, config: Path | None) -> dict:
    from flows.iteration import iteration
    t0 = time.perf_counter()
    summary = iteration(board, players, profile, data_dir=str(data),
                        pipeline_config=str(config) if config else None, local=True)
    call = time.perf_counter() - t0
    ran = {p: i for p, i in summary["phases"].items() if i["state"] not in ("Skipped",)}
    return {"call": call, "execute": summary["wall_s"] + summary["publish_s"], "inside": summary["inside_s"],
            "tasks": {p: (i["wall_s"], i["inside_s"]) for p, i in ran.items()},
            "states": {p: i["state"] for p, i in ran.items()}}


def with_games(games: int | None, processes: int) -> Path | None:
    """A copy of config/pipeline.yaml whose tiny profile plays `games` games."""
    if games is None:
        return None
    import yaml
    from infra.pipeline_config import PROJECT_ROOT
    data = yaml.safe_load((PROJECT_ROOT / "config" / "pipeline.yaml").read_text())
    data["profiles"]["tiny"]["selfplay"].update(games=games, processes=processes,
                                                progress_every=max(1, games // 10))
    path = Path(tempfile.mkdtemp(prefix="rift-bench-")) / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="hex8")
    ap.add_argument("--players", type=int, default=2)
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--games", type=int, default=None, help="Selfplay games (default: the profile's).")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    config = with_games(args.games, args.processes)
    data = Path(tempfile.mkdtemp(prefix="rift-bench-data-"))
    os.environ.setdefault("PREFECT_HOME", str(data / "prefect"))
    t0 = time.perf_counter()
    import prefect  # noqa: F401
    from prefect import flow

    @flow
    def warm() -> None:  # starts the temporary server once, outside the measurement
        return None
    warm()
    startup = time.perf_counter() - t0
    runs = [one(args.board, args.players, args.profile, data, config) for _ in range(args.repeat)]
    med = lambda xs: statistics.median(xs)  # noqa: E731
    call, execute, inside = (med([r[k] for r in runs]) for k in ("call", "execute", "inside"))
    phases = list(runs[0]["tasks"])
    rows = []
    for p in phases:
        wall = med([r["tasks"][p][0] for r in runs])
        ins = med([r["tasks"][p][1] for r in runs])
        rows.append((p, wall, ins, wall - ins))
    task_wall = sum(r[1] for r in rows)
    per_task = sum(r[3] for r in rows)
    parts = [("phases (inside)", inside), ("per-task overhead", per_task), ("flow body outside tasks", execute
             - task_wall), ("flow call start/finish", call - execute), ("total overhead", call - inside)]
    games = args.games or "profile's"
    head = (f"{args.board} {args.players}p, profile {args.profile}, {games} games, median of {args.repeat} "
            f"iterations (states {runs[-1]['states']}); temporary server + first flow: {startup:.1f} s, once")
    if args.markdown:
        print(f"{head}\n\n| phase | wall s | inside s | overhead s |\n|---|---|---|---|")
        for p, wall, ins, over in rows:
            print(f"| {p} | {wall:.3f} | {ins:.3f} | {over:.3f} |")
        print(f"\n| iteration | seconds | % of wall |\n|---|---|---|")
        for name, value in parts:
            print(f"| {name} | {value:.3f} | {100 * value / call:.1f}% |")
        print(f"| wall | {call:.3f} | 100% |")
    else:
        print(head)
        for p, wall, ins, over in rows:
            print(f"  {p:10s} wall {wall:7.3f} s  inside {ins:7.3f} s  overhead {over * 1000:7.1f} ms")
        for name, value in parts:
            print(f"  {name:26s} {value:7.3f} s  {100 * value / call:5.1f}%")
        print(f"  {'wall':26s} {call:7.3f} s")


if __name__ == "__main__":
    main()
