"""A stand-in selfplay process for the kill test: journals games as fast as it can.

Usage: python selfplay_writer_proc.py DATA_DIR RUN BATCH_SIZE INTERVAL_S
After each `append` returns (the game is fsynced to the journal) it prints
`JOURNALED <id>`; the test kills it with SIGKILL at a random moment and checks
that every id printed is in the database after a restart.
"""
from __future__ import annotations

import sys

from infra.data_config import DataConfig
from infra.gamewriter import GameWriter
from infra.synthetic import synthetic_game


def main() -> None:
    data_dir, run, batch, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    cfg = DataConfig(data_dir=data_dir, flush_batch_size=batch, flush_interval_s=interval,
                     journal_rotate_bytes=64 << 10, source_host=f"run-{run}")
    writer = GameWriter(cfg, "square8", 2)
    print(f"STARTED replayed={writer.replayed.inserted}", flush=True)
    i = 0
    while True:
        game = synthetic_game(run * 1_000_000 + i, moves=20, game_id=f"run{run}-game{i}")
        writer.append(game)
        print(f"JOURNALED {game['id']}", flush=True)
        i += 1


if __name__ == "__main__":
    main()
