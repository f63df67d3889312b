"""`python -m infra.probe`: print this machine's resource snapshot as JSON.

`rift cluster status` runs this on each host over SSH (inside the project's
virtualenv), so remote hosts are measured by exactly the code that measures the
local one. It imports neither Prefect nor the engine, to stay quick.
"""
from __future__ import annotations

import argparse
import sys

from infra.health import local_snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.probe", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="the host's data folder (game stores, pid files)")
    parser.add_argument("--pool", default=None, help="work pool whose worker should be running here")
    parser.add_argument("--prefect-url", default=None, help="Prefect API to check (default: $PREFECT_API_URL)")
    parser.add_argument("--cpu-interval", type=float, default=0.2, help="seconds to sample CPU use over")
    args = parser.parse_args(argv)
    snap = local_snapshot(args.data_dir, args.pool, args.prefect_url, args.cpu_interval)
    sys.stdout.write(snap.model_dump_json() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
