"""Issue 16, must show 6: registry paths relative to the data folder (a moved or restored folder works),
a missing or damaged parent model fails training naming the file, and never as a retryable error."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from infra.registry import ModelRegistry
from tasks.common import PermanentPhaseError, run_phase
from tasks.selfplay import play_and_store
from tasks.train import train_candidate


def trained(make_ctx, data):
    ctx = make_ctx(data_dir=data, train={"epochs": 1})
    play_and_store(ctx)
    first = train_candidate(ctx)
    with ModelRegistry(data / "registry.db") as reg:
        reg.promote(first["model"])
    return first


def test_paths_are_stored_relative_and_a_moved_data_folder_keeps_its_lineage(make_ctx, tmp_path):
    first = trained(make_ctx, tmp_path / "data")
    with sqlite3.connect(tmp_path / "data" / "registry.db") as db:
        (stored,) = db.execute("SELECT path FROM models").fetchone()
    assert stored == f"models/hex8_2p/{first['model']}.pt"
    shutil.move(tmp_path / "data", tmp_path / "restored")  # a restore into another place
    ctx2 = make_ctx(data_dir=tmp_path / "restored", iteration=2, train={"epochs": 1})
    play_and_store(ctx2)
    second = train_candidate(ctx2)
    assert second["parent"] == first["model"]  # continued, not silently from scratch
    assert second["path"].startswith(str(tmp_path / "restored"))


def test_an_old_absolute_path_is_re_rooted_at_the_moved_folder(tmp_path):
    (tmp_path / "new" / "models" / "hex8_2p").mkdir(parents=True)
    (tmp_path / "new" / "models" / "hex8_2p" / "m.pt").write_bytes(b"x")
    with ModelRegistry(tmp_path / "new" / "registry.db") as reg:
        reg.register("hex8", 2, path="/gone/old-data/models/hex8_2p/m.pt", model_id="m")
        assert reg.get("m")["path"] == str(tmp_path / "new" / "models" / "hex8_2p" / "m.pt")


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_truncated_parent_fails_naming_the_file_and_is_not_retried(make_ctx, tmp_path, damage):
    first = trained(make_ctx, tmp_path / "data")
    path = tmp_path / "data" / "models" / "hex8_2p" / f"{first['model']}.pt"
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])
    ctx2 = make_ctx(data_dir=tmp_path / "data", iteration=2, train={"epochs": 1})
    play_and_store(ctx2)
    with pytest.raises(PermanentPhaseError, match=f"parent model {first['model']}: {path} is "
                                                  f"{'missing' if damage == 'missing' else 'unreadable'}"):
        run_phase("train", ctx2, lambda: train_candidate(ctx2))
    with ModelRegistry(tmp_path / "data" / "registry.db") as reg:
        assert len(reg.models_frame("hex8", 2)) == 1  # nothing trained from scratch behind its back
