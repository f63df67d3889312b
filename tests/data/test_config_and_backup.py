"""DataConfig precedence and validation; database backups through artifact storage and restore."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.backup import backup_databases, restore_database
from infra.data_config import DataConfig, load_data_config
from infra.errors import CorruptDataError
from infra.gamestore import GameStore
from infra.gamewriter import GameWriter
from infra.registry import ModelRegistry
from infra.storage import ArtifactStore
from infra.synthetic import synthetic_game


def test_config_precedence_file_then_environment_then_arguments(tmp_path, monkeypatch):
    path = tmp_path / "pipeline.yaml"
    path.write_text("data:\n  data_dir: /srv/rift\n  flush_batch_size: 50\n  upload_workers: 2\n")
    monkeypatch.setenv("RIFT_FLUSH_BATCH_SIZE", "25")
    monkeypatch.setenv("RIFT_STORAGE_BLOCK", "s3-bucket/rift-artifacts")
    cfg = load_data_config(path, upload_workers=8, data_dir=None)
    assert (str(cfg.data_dir), cfg.flush_batch_size, cfg.upload_workers) == ("/srv/rift", 25, 8)
    assert cfg.storage_block == "s3-bucket/rift-artifacts" and cfg.flush_interval_s == 5.0
    assert cfg.game_db_path("hex8", 3).as_posix() == "/srv/rift/games/hex8_3p.db"


@pytest.mark.parametrize("bad", [{"flush_batch_size": 0}, {"flush_interval_s": 0}, {"storage_block": "nobucket"},
                                 {"upload_workers": 0}, {"unknown_knob": 1}])
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        DataConfig(**bad)


def test_unknown_config_names_are_refused(cfg):
    with pytest.raises(ValueError, match="unknown board type"):
        cfg.game_db_path("square9", 2)
    with pytest.raises(ValueError, match="2..4"):
        cfg.game_db_path("square8", 5)


def test_backup_then_restore_a_damaged_database(cfg):
    with GameWriter(cfg, "square8", 2) as w:
        w.append_many([synthetic_game(i) for i in range(30)])
    with ModelRegistry(cfg.registry_path) as reg:
        reg.register("square8", 2, path="m.pt", model_id="m1")
    store = ArtifactStore.from_config(cfg)
    keys = backup_databases(cfg, store)
    assert store.wait()["completed"] == 2
    assert [k.split("/")[:3] for k in keys] == [["backups", "games", "square8_2p.db"],
                                                ["backups", "registry", "registry.db"]]
    db = cfg.game_db_path("square8", 2)
    db.write_bytes(b"garbage" * 1000)
    with pytest.raises(CorruptDataError, match="backups/games/square8_2p.db"):
        GameStore(db, "h")
    with pytest.raises(FileExistsError, match="move it aside"):
        restore_database(store, keys[0], db)
    db.rename(db.with_name(db.name + ".corrupt"))
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    restore_database(store, keys[0], db)
    with GameStore(db, "h", read_only=True) as s:
        assert s.count() == 30
    store.close()
