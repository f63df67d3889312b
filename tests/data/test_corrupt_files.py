"""Damaged databases, journals and shards: a clear error naming the file and the fix, no data lost."""
from __future__ import annotations

import logging
import sqlite3
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from infra.errors import CorruptDataError
from infra.game_stats import game_stats
from infra.gamestore import GameStore
from infra.gamewriter import GameWriter
from infra.journal import Journal, journals_in
from infra.records import content_hash
from infra.registry import ModelRegistry
from infra.shards import Samples, list_shards, load_shard, replay_window, write_shard
from infra.synthetic import synthetic_game


def fill(cfg, n=20, board="square8", players=2):
    with GameWriter(cfg, board, players) as w:
        w.append_many([synthetic_game(i, board_type=board, num_players=players) for i in range(n)])
    with GameStore(cfg.game_db_path(board, players), "h") as s:  # fold the WAL into the main file
        s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return cfg.game_db_path(board, players)


def test_garbage_database_names_the_file_and_keeps_the_journal(cfg):
    db = fill(cfg)
    j = Journal(cfg.journal_dir("square8", 2))  # games a killed writer journaled but never flushed
    late = [synthetic_game(1000 + i) for i in range(5)]
    j.append([(content_hash(g), g) for g in late])
    j.close(delete=False)
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CorruptDataError) as err:
        GameWriter(cfg, "square8", 2)
    msg = str(err.value)
    assert str(db) in msg and "not a readable SQLite database (bad file header)" in msg
    assert "What to do" in msg and "mv " in msg
    assert journals_in(cfg.journal_dir("square8", 2)) == [j.path]  # untouched
    db.rename(db.with_name(db.name + ".corrupt"))  # the operator follows the advice
    with GameWriter(cfg, "square8", 2) as w:
        assert w.replayed.inserted == 5


def test_truncated_database_is_detected_before_use(cfg):
    db = fill(cfg, n=200)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDataError, match=r"truncated: \d+ bytes of \d+") as err:
        GameStore(db, "h")
    assert err.value.path == db


def test_damaged_pages_fail_by_name_in_stats_and_check_while_healthy_stores_still_report(cfg):
    bad = fill(cfg, n=200)
    fill(cfg, n=10, board="hex8", players=2)
    data = bytearray(bad.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # page 2: the root of the games table
    bad.write_bytes(bytes(data))
    stats = game_stats(cfg)
    assert [e.path for e in stats.errors] == [bad]
    assert stats.configs["config"].tolist() == ["hex8_2p"]
    runner = CliRunner()
    result = runner.invoke(app, ["games", "check", "--data-dir", str(cfg.data_dir)])
    assert result.exit_code == 2
    assert str(bad) in result.output and "What to do" in result.output
    assert "ok" in result.output and "hex8_2p.db (10 games)" in result.output
    result = runner.invoke(app, ["games", "stats", "--data-dir", str(cfg.data_dir)])
    assert result.exit_code == 2 and str(bad) in result.output and "hex8_2p" in result.output


def test_a_failed_flush_keeps_games_in_the_journal_and_close_says_where(cfg, caplog):
    cfg = cfg.model_copy(update={"flush_batch_size": 5, "flush_interval_s": 0.5, "busy_timeout_s": 0.1})
    w = GameWriter(cfg, "square8", 2)
    blocker = sqlite3.connect(cfg.game_db_path("square8", 2), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    with caplog.at_level(logging.ERROR):
        for i in range(7):
            w.append(synthetic_game(i))  # journaled at once even though the database is locked
    failures = [r for r in caplog.records if r.getMessage().startswith("flush of")]
    assert len(failures) == 1, "appends must not wait on the lock again before the retry interval"
    assert "flush of 5 games" in caplog.text and str(w.journal.path) in caplog.text
    blocker.execute("COMMIT")
    deadline = time.monotonic() + 5  # the timer retries on its own
    while w.flush_error is not None or w.totals.inserted < 7:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    blocker.execute("BEGIN EXCLUSIVE")
    w.append_many([synthetic_game(i) for i in range(7, 10)])
    with pytest.raises(RuntimeError, match="3 games could not be written") as err:
        w.close()
    assert str(w.journal.path) in str(err.value)
    blocker.execute("COMMIT")
    with GameWriter(cfg, "square8", 2) as again:
        assert again.replayed.inserted == 3
    with GameStore(cfg.game_db_path("square8", 2), "h", read_only=True) as s:
        assert s.count() == 10 and s.counter("duplicates_refused") == 0


def test_corrupt_registry_names_the_file(cfg):
    cfg.registry_path.parent.mkdir(parents=True)
    cfg.registry_path.write_bytes(b"\0" * 5000)
    with pytest.raises(CorruptDataError, match="registry.db") as err:
        ModelRegistry(cfg.registry_path)
    assert "What to do" in str(err.value)
    result = CliRunner().invoke(app, ["models", "list", "--data-dir", str(cfg.data_dir)])
    assert result.exit_code == 2 and "registry.db" in result.output


def three_shards(cfg):
    for i in range(3):
        samples = Samples(np.full((10, 3, 8, 8), i, np.float32), np.full((10, 64), i, np.float32),
                          np.zeros((10, 2), np.float32))
        write_shard(cfg.shards_dir, "square8", 2, samples, [f"g{i}"])
    return list_shards(cfg.shards_dir, "square8", 2)  # newest first


def test_truncated_shard_is_skipped_with_a_warning_naming_it(cfg, caplog):
    newest, middle, oldest = three_shards(cfg)
    data = middle.path.read_bytes()
    middle.path.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING):
        window, skipped = replay_window(cfg.shards_dir, "square8", 2, 25)
    assert skipped == [middle.path] and str(middle.path) in caplog.text
    assert sorted(set(window.features[:, 0, 0, 0].tolist())) == [0.0, 2.0] and len(window) == 20
    with pytest.raises(CorruptDataError, match="does not match the manifest") as err:
        load_shard(middle)
    assert "re-export" in str(err.value) and str(middle.path) in str(err.value)


def test_missing_shard_and_unreadable_manifest_are_reported(cfg, caplog):
    newest, middle, oldest = three_shards(cfg)
    newest.path.unlink()
    oldest.path.with_suffix(".json").write_text("{half a manifest")
    with caplog.at_level(logging.WARNING):
        window, skipped = replay_window(cfg.shards_dir, "square8", 2, 100)
    assert skipped == [newest.path] and "shard file is missing" in caplog.text
    assert str(oldest.path.with_suffix(".json")) in caplog.text
    assert len(window) == 10 and set(window.features[:, 0, 0, 0].tolist()) == {1.0}
