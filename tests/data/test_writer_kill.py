"""Must show 1: a selfplay writer SIGKILLed at random moments loses no game it reported as journaled."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infra.data_config import DataConfig
from infra.gamestore import GameStore
from infra.gamewriter import GameWriter

SCRIPT = Path(__file__).with_name("selfplay_writer_proc.py")
REPO = Path(__file__).resolve().parents[2]
KILLS = 24


def _kill_after(proc: subprocess.Popen[bytes], games: int | None) -> list[bytes]:
    """SIGKILL `proc` once it has reported `games` journaled games (None: at once, during start-up or the
    journal replay); returns the complete lines it printed. Kills land by progress, not by clock: on a
    loaded machine a fixed delay killed children that were still importing, and journaled nothing."""
    out = b""
    journaled = 0
    assert proc.stdout is not None
    while games is not None and journaled < games:
        line = proc.stdout.readline()
        if not line:  # it died by itself: the test fails below on what it reported
            break
        out += line
        journaled += line.startswith(b"JOURNALED ")
    proc.send_signal(signal.SIGKILL)
    out += proc.stdout.read()  # what it printed before the kill landed
    proc.wait()
    return out.split(b"\n")[:-1]  # a line cut by the kill is not a report


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_journaled(tmp_path):
    rng = random.Random(20261123)
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reported: list[str] = []
    replayed_by_restarts = 0
    for run in range(KILLS):
        # Small batches make kills land inside flushes and rotations too; some runs use the defaults' batch
        # size so games pile up in journals for the next start to replay. One run in six is killed at once.
        batch = rng.choice([1, 3, 7, 100])
        games = None if rng.random() < 1 / 6 else rng.randint(1, 40)
        proc = subprocess.Popen([sys.executable, str(SCRIPT), str(data_dir), str(run), str(batch), "0.05"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        lines = _kill_after(proc, games)
        ids = [ln.split(b" ", 1)[1].decode() for ln in lines if ln.startswith(b"JOURNALED ")]
        replayed_by_restarts += sum(int(ln.split(b"=")[1]) for ln in lines if ln.startswith(b"STARTED"))
        reported.extend(ids)

    cfg = DataConfig(data_dir=data_dir, source_host="final")
    with GameWriter(cfg, "square8", 2):  # a clean restart replays whatever the last kill left
        pass
    with GameStore(cfg.game_db_path("square8", 2), "check", read_only=True) as store:
        stored_ids = store.ids()
        duplicates = store.counter("duplicates_refused")
    missing = set(reported) - set(stored_ids)
    assert len(reported) > 200, "the writer should have journaled many games across the runs"
    assert replayed_by_restarts > 0, "some kills should leave unflushed games for the next start to replay"
    print("reported", len(reported), "stored", len(stored_ids), "replayed", replayed_by_restarts)
    assert not missing, f"{len(missing)} journaled games lost, e.g. {sorted(missing)[:5]}"
    assert len(stored_ids) == len(set(stored_ids)), "a game was stored twice"
    assert duplicates == 0, "replay must never re-insert what a flush already committed"
    assert not list(cfg.journal_dir("square8", 2).glob("*.jsonl")), "every journal is drained"
