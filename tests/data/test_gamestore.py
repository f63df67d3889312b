"""Game store and writer: batching, duplicates, journal replay, merging and ingest."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from infra.data_config import DataConfig
from infra.gamestore import GameStore
from infra.gamewriter import GameWriter
from infra.ingest import ingest
from infra.journal import Journal, journals_in
from infra.records import content_hash
from infra.synthetic import synthetic_game


def stored(cfg: DataConfig, board: str = "square8", players: int = 2) -> GameStore:
    return GameStore(cfg.game_db_path(board, players), "reader", read_only=True)


def count(cfg: DataConfig, board: str = "square8", players: int = 2) -> int:
    path = cfg.game_db_path(board, players)
    if not path.exists():
        return 0
    with stored(cfg, board, players) as s:
        return s.count()


def test_flushes_in_batches_of_the_configured_size(cfg):
    cfg = cfg.model_copy(update={"flush_batch_size": 5, "flush_interval_s": 60})
    with GameWriter(cfg, "square8", 2) as w:
        for i in range(12):
            w.append(synthetic_game(i))
            assert count(cfg) == (i + 1) // 5 * 5  # nothing reaches the db between batches
    assert count(cfg) == 12
    assert journals_in(cfg.journal_dir("square8", 2)) == []  # flushed journals are removed on close


def test_flushes_after_the_interval_without_a_full_batch(cfg):
    cfg = cfg.model_copy(update={"flush_batch_size": 100, "flush_interval_s": 0.3})
    with GameWriter(cfg, "square8", 2) as w:
        for i in range(3):
            w.append(synthetic_game(i))
        assert count(cfg) == 0
        deadline = time.monotonic() + 5
        while count(cfg) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count(cfg) == 3


def test_duplicates_are_refused_and_counted_same_game_again_is_not(cfg, caplog):
    game = synthetic_game(7)
    with caplog.at_level(logging.INFO, logger="infra.gamewriter"):
        with GameWriter(cfg, "square8", 2) as w:
            w.append(game)
            w.append({**game, "id": "copy-under-another-id"})
            w.append(game)
    with stored(cfg) as s:
        assert s.count() == 1
        assert s.counter("duplicates_refused") == 1
        assert s.get(game["id"])["moves"] == game["moves"]
        assert s.get("copy-under-another-id") is None
    assert "1 duplicates refused, 1 already present" in caplog.text


def test_writer_refuses_invalid_or_foreign_records(cfg):
    with GameWriter(cfg, "square8", 2) as w:
        with pytest.raises(ValueError, match="hex8_2p, this writer stores square8_2p"):
            w.append(synthetic_game(1, board_type="hex8"))
        bad = synthetic_game(2)
        bad["winner"] = 4
        with pytest.raises(ValueError, match="winner 4"):
            w.append(bad)
    assert count(cfg) == 0


def orphan_journal(cfg: DataConfig, games: list[dict], tail: bytes = b"") -> Path:
    """A journal as a killed writer leaves it: entries fsynced, never flushed, lock released."""
    j = Journal(cfg.journal_dir("square8", 2))
    j.append([(content_hash(g), g) for g in games])
    if tail:
        with open(j.path, "ab") as fh:
            fh.write(tail)
    j.close(delete=False)
    return j.path


def test_a_new_writer_replays_orphaned_journals_and_ignores_a_torn_tail(cfg):
    games = [synthetic_game(i) for i in range(30)]
    path = orphan_journal(cfg, games, tail=b'1234abcd {"h": "cut off by a kil')
    with GameWriter(cfg, "square8", 2) as w:
        assert w.replayed.inserted == 30
    with stored(cfg) as s:
        assert sorted(s.ids()) == sorted(g["id"] for g in games)
        assert s.counter("duplicates_refused") == 0
    assert not path.exists()


def test_replay_resumes_after_the_flushed_offset(cfg):
    cfg = cfg.model_copy(update={"flush_batch_size": 10})
    games = [synthetic_game(i) for i in range(25)]
    path = orphan_journal(cfg, games)
    with GameStore(cfg.game_db_path("square8", 2), "h") as s:  # as if the dead writer flushed 10
        ten_end = len(b"".join(path.read_bytes().splitlines(keepends=True)[:10]))
        s.insert([(content_hash(g), g) for g in games[:10]], journal=path.name, journal_offset=ten_end)
    with GameWriter(cfg, "square8", 2) as w:
        assert (w.replayed.inserted, w.replayed.already_present) == (15, 0)
    assert count(cfg) == 25


def test_a_damaged_journal_line_is_reported_kept_and_skipped(cfg, caplog):
    games = [synthetic_game(i) for i in range(5)]
    path = orphan_journal(cfg, games)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"player"', b'"plyr"', 1)  # bit rot: checksum no longer matches
    path.write_bytes(b"".join(lines))
    with caplog.at_level(logging.ERROR):
        with GameWriter(cfg, "square8", 2):
            pass
    assert f"{path}: damaged journal line at byte {len(b''.join(lines[:2]))}" in caplog.text
    with stored(cfg) as s:
        assert sorted(s.ids()) == sorted(g["id"] for i, g in enumerate(games) if i != 2)
    assert path.with_name(path.name + ".corrupt").exists()
    assert path.with_name(path.name + ".bad").read_bytes().count(b"plyr") == 1


def test_a_live_writers_journal_is_left_alone(cfg):
    cfg = cfg.model_copy(update={"flush_batch_size": 1000, "flush_interval_s": 60})
    a = GameWriter(cfg, "square8", 2)
    a.append_many([synthetic_game(i) for i in range(8)])
    with GameWriter(cfg, "square8", 2) as b:
        assert b.replayed.inserted == 0
        b.append(synthetic_game(100))
    assert count(cfg) == 1
    a.close()
    with stored(cfg) as s:
        assert s.count() == 9 and s.counter("duplicates_refused") == 0


def test_merging_databases_from_two_hosts_never_stores_a_game_twice(tmp_path):
    hosts = []
    for name, seeds in (("host-a", range(0, 60)), ("host-b", range(40, 100))):
        cfg = DataConfig(data_dir=tmp_path / name, source_host=name)
        with GameWriter(cfg, "square8", 2) as w:
            w.append_many([synthetic_game(s, game_id=f"{name}-{s}") for s in seeds])
        hosts.append(cfg)
    a, b = hosts
    report = ingest(a, b.game_db_path("square8", 2))
    assert (report.total.inserted, report.total.duplicates) == (40, 20)
    again = ingest(a, b.game_db_path("square8", 2))
    assert (again.total.inserted, again.total.duplicates, again.total.already_present) == (0, 20, 40)
    with stored(a) as s:
        assert s.count() == 100
        hosts_of = {r["id"]: r["metadata"]["sourceHost"] for _, r in s.iter_records()}
    assert hosts_of["host-b-99"] == "host-b" and hosts_of["host-a-0"] == "host-a"


def test_ingest_a_folder_of_records_routes_by_config_and_names_rejects(cfg, tmp_path):
    folder = tmp_path / "incoming"
    (folder / "sub").mkdir(parents=True)
    (folder / "batch.json").write_text(json.dumps({"games": [synthetic_game(i) for i in range(4)]}))
    (folder / "sub" / "more.jsonl").write_text("\n".join(
        json.dumps(synthetic_game(i, board_type="hex8", num_players=3)) for i in range(3)))
    bad = synthetic_game(9)
    bad["numPlayers"] = 7
    (folder / "bad.json").write_text(json.dumps(bad))
    (folder / "broken.json").write_text("{not json")
    report = ingest(cfg, folder, source_host="remote-1")
    assert report.per_config["square8_2p"].inserted == 4 and report.per_config["hex8_3p"].inserted == 3
    assert {w.split("[")[0] for w, _ in report.rejected} == {str(folder / "bad.json"), str(folder / "broken.json")}
    with stored(cfg, "hex8", 3) as s:
        assert {r["metadata"].get("sourceHost") for _, r in s.iter_records()} == {None}
        assert {row[5] for row in s.summary_rows()} == {"remote-1"}
    assert ingest(cfg, folder).total.inserted == 0


def test_backup_is_a_consistent_copy(cfg, tmp_path):
    with GameWriter(cfg, "square8", 2) as w:
        w.append_many([synthetic_game(i) for i in range(20)])
    with GameStore(cfg.game_db_path("square8", 2), "h") as s:
        copy = s.backup(tmp_path / "backup" / "square8_2p.db")
    with GameStore(copy, "h", read_only=True) as b:
        assert b.count() == 20 and b.check() == []


def test_newest_between_reads_only_what_a_window_holds(cfg):
    """Continuous training exports the newest games that fill its window, never the whole backlog."""
    with GameWriter(cfg, "square8", 2) as w:
        for i in range(30):
            w.append(synthetic_game(i, moves=50))
    with stored(cfg) as s:
        ids = [r["id"] for r in s.records_between(0, s.last_rowid())]
        newest = s.newest_between(0, s.last_rowid(), max_moves=120, chunk=2)  # chunks smaller than the answer
        assert [r["id"] for r in newest] == ids[-3:]  # 3 x 50 moves first reach 120, oldest first
        assert [r["id"] for r in s.newest_between(5, 10, max_moves=10**6)] == ids[5:10]  # the range bounds it
        assert [r["id"] for r in s.newest_between(0, 30, max_moves=1)] == ids[-1:]
        assert s.newest_between(30, 30, max_moves=100) == []
