"""A full disk, a truncated or foreign game database, and bad selfplay arguments: clear errors, no lost data.

The full-disk cases run against a real small tmpfs when this process may mount one (root),
and always against injected ENOSPC (an `os.write` that fails halfway) and a real SQLite
size limit (`PRAGMA max_page_count`, which fails exactly as a full disk does).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from infra.data_config import DataConfig
from infra.errors import CorruptDataError, DiskFullError
from infra.gamestore import GameStore
from infra.records import content_hash
from infra.record_file import RecordFile
from infra.synthetic import synthetic_game


def run(*args: str):
    return CliRunner().invoke(app, [*map(str, args)])


def flat(output: str) -> str:
    return " ".join(output.replace("│", " ").split())  # rich wraps long lines, in panels too


def jsonl_games(path: Path) -> list[dict]:
    """Every line of `path` parsed; fails on a partial or unreadable line."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path} ends inside a line: {data[-80:]!r}"
    return [json.loads(line) for line in data.splitlines()]


def db_count(path: Path) -> int:
    with GameStore(path, "reader", read_only=True) as s:
        assert s.check() == []
        return s.count()


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 1 MiB tmpfs of our own (skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the injected-ENOSPC tests cover this case")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path, leave: int) -> Path:
    """Fill the tmpfs until about `leave` bytes are free; returns the filler file."""
    filler = mnt / "filler"
    free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def test_selfplay_on_a_full_tmpfs_leaves_no_partial_line_and_the_next_run_appends_cleanly(small_fs):
    out = small_fs / "out"
    filler = fill(small_fs, 96 * 1024)
    first = run("selfplay", "--games", "30", "--seed", "1", "--out", out)
    assert first.exit_code == 1, first.output
    text = flat(first.output)
    assert f"{out / 'games.jsonl'}: no space left on device" in text and "needs about" in text
    assert "Traceback" not in first.output and isinstance(first.exception, SystemExit)
    kept = jsonl_games(out / "games.jsonl")
    assert 0 < len(kept) < 30 and f"The {len(kept)} games finished before it are complete" in text
    filler.unlink()
    second = run("selfplay", "--games", "2", "--seed", "100", "--out", out)
    assert second.exit_code == 0, second.output
    assert [g["id"] for g in jsonl_games(out / "games.jsonl")[:len(kept)]] == [g["id"] for g in kept]
    assert len(jsonl_games(out / "games.jsonl")) == len(kept) + 2


def test_selfplay_store_on_a_full_tmpfs_shows_the_disk_not_a_rollback_and_recovers(small_fs):
    out, data = small_fs / "out", small_fs / "data"
    filler = fill(small_fs, 160 * 1024)
    first = run("selfplay", "--games", "40", "--seed", "3", "--out", out, "--store", "--data-dir", data)
    assert first.exit_code == 1, first.output
    assert "no space left on device" in first.output and "cannot rollback" not in first.output
    assert "Traceback" not in first.output
    filler.unlink()
    second = run("selfplay", "--games", "2", "--seed", "200", "--out", out, "--store", "--data-dir", data)
    assert second.exit_code == 0, second.output
    # every game in games.jsonl reached the store (journaled ones replayed), and no other
    written = jsonl_games(out / "games.jsonl")
    assert db_count(data / "games" / "square8_2p.db") == len(written)


def test_record_file_cuts_a_failed_write_back_and_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "games.jsonl"
    with RecordFile(path) as f:
        f.append(b'{"id": "a"}')
        real_write = os.write

        def half_then_enospc(fd, data):
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("infra.record_file.os.write", half_then_enospc)
        with pytest.raises(DiskFullError) as err:
            f.append(b'{"id": "b", "moves": [1, 2, 3]}')
        monkeypatch.undo()
        assert str(path) in str(err.value) and "needs about 32 bytes" in str(err.value)
        assert path.read_bytes() == b'{"id": "a"}\n'
        f.append(b'{"id": "c"}')
    assert [g["id"] for g in jsonl_games(path)] == ["a", "c"]


def test_a_torn_last_line_from_an_older_crash_is_saved_aside_not_glued_to(tmp_path):
    path = tmp_path / "games.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "b", "mo')
    with RecordFile(path) as f:
        assert f.repaired == len(b'{"id": "b", "mo')
        f.append(b'{"id": "c"}')
    assert [g["id"] for g in jsonl_games(path)] == ["a", "c"]
    assert path.with_name("games.jsonl.torn").read_bytes().endswith(b'{"id": "b", "mo\n')


def test_sqlite_full_is_reported_as_disk_full_with_nothing_half_stored(tmp_path):
    db = tmp_path / "square8_2p.db"
    with GameStore(db, "h") as store:
        store.insert([(content_hash(g), g) for g in (synthetic_game(i) for i in range(3))])
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count={pages + 1}")
        big = [synthetic_game(i, moves=400) for i in range(10, 60)]
        with pytest.raises(DiskFullError) as err:
            store.insert([(content_hash(g), g) for g in big])
        assert "cannot rollback" not in str(err.value) and str(db) in str(err.value)
        assert "needs about" in str(err.value) and store.count() == 3
        store._conn.execute("PRAGMA max_page_count=1073741823")  # space freed
        store.insert([(content_hash(synthetic_game(99)), synthetic_game(99))])  # still usable
    assert db_count(db) == 4


@pytest.mark.parametrize("command", ["selfplay", "ingest"])
def test_a_zero_byte_game_database_is_never_recreated_without_the_flag(tmp_path, command):
    data = tmp_path / "data"
    db = data / "games" / "square8_2p.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"")
    source = tmp_path / "in.jsonl"
    first = run("selfplay", "--games", "1", "--out", tmp_path / "made")
    assert first.exit_code == 0
    source.write_bytes((tmp_path / "made" / "games.jsonl").read_bytes())
    args = (["selfplay", "--games", "1", "--out", tmp_path / "out", "--store", "--data-dir", data]
            if command == "selfplay" else ["games", "ingest", source, "--data-dir", data])
    refused = run(*args)
    assert refused.exit_code == 2, refused.output
    text = flat(refused.output)
    assert f"{db}: is empty (0 bytes)" in text and "--recreate-empty-store" in text
    assert db.stat().st_size == 0
    check = run("games", "check", "--data-dir", data)
    assert check.exit_code == 2 and "is empty (0 bytes)" in flat(check.output)
    assert run(*args, "--recreate-empty-store").exit_code == 0
    assert db_count(db) == 1


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    data = tmp_path / "data"
    db = data / "games" / "square8_2p.db"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (n INTEGER)")
        conn.execute("INSERT INTO invoices VALUES (42)")
    conn.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(CorruptDataError, match="not a game store .its tables: invoices"):
        GameStore(db, "h")
    result = run("selfplay", "--games", "1", "--out", tmp_path / "out", "--store", "--data-dir", data,
                 "--recreate-empty-store")
    assert result.exit_code == 2 and "is an SQLite database but not a game store" in flat(result.output)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_a_new_store_never_leaves_a_zero_byte_file(tmp_path):
    cfg = DataConfig(data_dir=tmp_path / "data", source_host="h")
    with GameStore(cfg.game_db_path("square8", 2), "h") as s:
        assert s.count() == 0
    assert cfg.game_db_path("square8", 2).stat().st_size > 0
    assert sorted(p.name for p in cfg.games_dir.iterdir() if p.name.startswith(".")) == []


# -- selfplay arguments -------------------------------------------------------------------------
def test_negative_move_cap_is_refused_with_the_allowed_values(tmp_path):
    result = run("selfplay", "--move-cap", "-5", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "-5 is not a move cap" in flat(result.output) and "-1 for the default" in flat(result.output)
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_refused_and_the_file_kept(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    result = run("selfplay", "--games", "1", "--out", target)
    assert result.exit_code == 2 and "is a file; give a folder" in flat(result.output)
    assert target.read_text() == "keep me" and isinstance(result.exception, SystemExit)


def test_out_on_a_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits: use a read-only mount
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("root here cannot mount a read-only tmpfs")
    else:
        ro.chmod(0o555)
    try:
        result = run("selfplay", "--games", "1", "--out", ro / "run")
        assert result.exit_code == 2, result.output
        text = flat(result.output)
        assert f"cannot write {ro / 'run'}" in text and "--out" in text and "Traceback" not in result.output
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(ro)], check=False)
        else:
            ro.chmod(0o755)


def test_leftovers_of_a_creator_killed_midway_are_cleared(tmp_path):
    games = tmp_path / "data" / "games"
    games.mkdir(parents=True)
    child = subprocess.Popen(["true"])
    child.wait()
    dead = child.pid  # reaped: no such process any more
    for suffix in ("", "-wal", "-shm"):
        (games / f".square8_2p.db.new-{dead}{suffix}").write_bytes(b"half")
    with GameStore(games / "square8_2p.db", "h") as s:
        assert s.count() == 0
    assert [p.name for p in games.iterdir() if p.name.startswith(".")] == []
    assert (games / "square8_2p.db").stat().st_size > 0
