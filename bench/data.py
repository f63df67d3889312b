"""Data-layer benchmark: durable game writes per second, and how long uploads block the caller.

    python bench/data.py                      # 2000 games, a 1 GB artifact, local block
    python bench/data.py --size-mb 64         # quick run
    python bench/data.py --target moto        # artifact upload to an S3 API on 127.0.0.1 (moto)

Games go through GameWriter with its defaults (journal fsync per game, database
flush every 100 games); the time includes the final flush. The artifact is timed
three ways in the same run: the call to `save_and_upload` (what training waits
for), the background work it started until `wait()` returns, and the same save +
upload done synchronously by the caller.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from infra.data_config import DataConfig  # noqa: E402
from infra.gamewriter import GameWriter  # noqa: E402
from infra.storage import ArtifactStore  # noqa: E402
from infra.synthetic import synthetic_game  # noqa: E402


def bench_games(cfg: DataConfig, n: int, group: int) -> tuple[float, float, int]:
    games = [synthetic_game(i) for i in range(n)]
    size = sum(len(str(g)) for g in games)
    start = time.perf_counter()
    with GameWriter(cfg, "square8", 2) as w:
        for g in games:
            w.append(g)
    one_by_one = n / (time.perf_counter() - start)
    games = [synthetic_game(n + i) for i in range(n)]
    start = time.perf_counter()
    with GameWriter(cfg, "square8", 2) as w:
        for i in range(0, n, group):
            w.append_many(games[i:i + group])
    grouped = n / (time.perf_counter() - start)
    return one_by_one, grouped, size // n


def make_block(target: str, cfg: DataConfig):
    if target == "local":
        return None, None
    from moto.server import ThreadedMotoServer
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters
    for noisy in ("werkzeug", "prefect.S3Bucket"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    creds = AwsCredentials(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1",
                           aws_client_parameters=AwsClientParameters(
                               endpoint_url=f"http://{host}:{port}", config={"s3": {"addressing_style": "path"}}))
    creds.get_s3_client().create_bucket(Bucket="rift-bench")
    return S3Bucket(bucket_name="rift-bench", credentials=creds), server


def bench_upload(cfg: DataConfig, size_mb: int, target: str) -> dict[str, float]:
    data = np.random.default_rng(0).bytes(size_mb << 20)
    block, server = make_block(target, cfg)
    store = ArtifactStore.from_config(cfg, block=block)
    try:
        store.save_and_upload(b"warm-up", "bench/warmup.bin")  # start the worker threads
        store.wait()
        start = time.perf_counter()
        store.save_and_upload(data, "bench/async.bin")
        blocked = time.perf_counter() - start
        counts = store.wait()
        background = time.perf_counter() - start
        assert counts["failed"] == 0, counts
        start = time.perf_counter()
        path = cfg.data_dir / "sync.bin"
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        store.put_file(path, "bench/sync.bin")
        synchronous = time.perf_counter() - start
    finally:
        store.close()
        if server is not None:
            server.stop()
    return {"blocked_ms": blocked * 1e3, "background_s": background, "sync_s": synchronous}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=2000)
    parser.add_argument("--group", type=int, default=16, help="games per append_many call (group commit)")
    parser.add_argument("--size-mb", type=int, default=1024, help="artifact size (default 1 GB)")
    parser.add_argument("--target", choices=["local", "moto"], default="local")
    parser.add_argument("--data-dir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    scratch = Path(tempfile.mkdtemp(prefix="rift-bench-", dir=args.data_dir))
    cfg = DataConfig(data_dir=scratch / "data", source_host="bench")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}")
    try:
        per_game, grouped, size = bench_games(cfg, args.games, args.group)
        print(f"games: {per_game:,.0f} games/s with an fsync per game; {grouped:,.0f} games/s with "
              f"append_many({args.group}) (one fsync per call); {args.games} games of ~{size / 1024:.0f} KB, "
              f"flushed every {cfg.flush_batch_size}")
        up = bench_upload(cfg, args.size_mb, args.target)
        print(f"artifact {args.size_mb} MB to {args.target} block: caller blocked {up['blocked_ms']:.3f} ms by "
              f"save_and_upload (goal < 10 ms); background save+upload done in {up['background_s']:.2f} s; "
              f"synchronous save+upload {up['sync_s']:.2f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
