"""The data plane without a Prefect server: a coordinator and a pool host with separate data folders,
sharing only an artifact store (a folder here; tests/pipeline/test_fleet.py does it with S3 and Prefect).

While the host works, the coordinator's data folder is moved away, so a host that reached into it
instead of fetching keys would fail; the coordinator records what comes back, lineage intact."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from prefect.filesystems import LocalFileSystem

from infra.dataplane import DataPlaneError, content_key, fetch, publish
from infra.pipeline_config import PipelineConfigError, load_pools_config
from infra.registry import ModelRegistry
from infra.storage import ArtifactStore
from tasks.placed import HOOKS
from tasks.selfplay import play_and_store


@pytest.fixture
def store(tmp_path):
    s = ArtifactStore(LocalFileSystem(basepath=str(tmp_path / "bucket")), tmp_path / "outbox")
    yield s
    s.close()


@contextmanager
def away(folder: Path):
    """The coordinator's data folder is not there while the host works."""
    hidden = folder.with_name(folder.name + ".away")
    os.rename(folder, hidden)
    try:
        yield
    finally:
        os.rename(hidden, folder)


def placed(phase, ctx, host_dir, upstream, store):
    """prepare here, work on the host (coordinator folder away), record here: what flows/iteration.py does."""
    hooks = HOOKS[phase]
    prepared = hooks.prepare(ctx, upstream, store)
    remote = prepared.model_copy(update={"data_dir": str(host_dir), "placed": True})
    with away(Path(ctx.data_dir)):
        result = hooks.work(remote, upstream, store)
    return remote, hooks.record(prepared, result, store)


def test_train_and_evaluate_on_another_host_keep_the_coordinator_the_truth(make_ctx, tmp_path, store):
    coord, host = tmp_path / "coord", tmp_path / "host"
    ctx1 = make_ctx(data_dir=coord, train={"epochs": 1}, evaluate={"games": 2})
    play_and_store(ctx1)
    remote, trained = placed("train", ctx1, host, [], store)
    assert remote.refs["parent"] is None and any(r.startswith("shards/") for r in remote.inputs)
    model1 = trained["model"]
    with ModelRegistry(coord / "registry.db") as reg:
        entry = reg.get(model1)
        assert Path(entry["path"]).is_file() and str(coord) in entry["path"] and entry["parent_id"] is None
    assert not (host / "registry.db").exists()  # the host keeps no registry of its own
    _, rated = placed("evaluate", ctx1, host, [model1], store)
    assert rated["candidate"] == model1 and rated["games"] == 2
    with ModelRegistry(coord / "registry.db") as reg:
        assert reg.get(model1)["rating"] is not None
        reg.promote(model1)  # what the gate does when the candidate wins
    assert (coord / "pipeline" / "hex8_2p" / "evaluate-i1.json").is_file()

    ctx2 = make_ctx(data_dir=coord, iteration=2, train={"epochs": 1})
    play_and_store(ctx2)
    remote, trained2 = placed("train", ctx2, host, [], store)
    assert remote.refs["parent"] == model1 and trained2["parent"] == model1
    with ModelRegistry(coord / "registry.db") as reg:
        assert [m["id"] for m in reg.lineage(trained2["model"])] == [trained2["model"], model1]
    again = HOOKS["train"].record(remote.model_copy(update={"data_dir": str(coord)}), trained2, store)  # twice
    with ModelRegistry(coord / "registry.db") as reg:
        assert again["model"] == trained2["model"] and len(reg.models_frame("hex8", 2)) == 2


def test_selfplay_on_another_host_reaches_the_coordinators_store_once(make_ctx, tmp_path, store):
    coord, host = tmp_path / "coord", tmp_path / "host"
    coord.mkdir()
    ctx = make_ctx(data_dir=coord)
    _, first = placed("selfplay", ctx, host, [], store)
    assert first["recorded"]["inserted"] == 6 and first["store_games"] == 6 and first["published"]
    _, again = placed("selfplay", ctx, host, [], store)  # a re-run after a crash: same games, stored once
    assert again["recorded"] == {"inserted": 0, "already_present": 6, "rejected": 0} and again["store_games"] == 6


def test_fetch_refuses_bytes_that_differ_from_the_key(tmp_path, store):
    f = tmp_path / "m.pt"
    f.write_bytes(b"model bytes")
    key = publish(store, f, "models", "hex8_2p")
    assert key == content_key("models", "hex8_2p", f)
    assert fetch(store, key, tmp_path / "h").read_bytes() == b"model bytes"
    store.write_bytes(key, b"tampered")
    shutil.rmtree(tmp_path / "h")
    with pytest.raises(DataPlaneError, match=f"artifact {key} arrived with other bytes"):
        fetch(store, key, tmp_path / "h")
    with pytest.raises(DataPlaneError, match="models/hex8_2p/0123456789abcdef/x.pt could not be fetched"):
        fetch(store, "models/hex8_2p/0123456789abcdef/x.pt", tmp_path / "h")


def test_placing_a_coordinator_only_phase_is_refused(tmp_path):
    import yaml
    data = yaml.safe_load(Path("config/pools.yaml").read_text())
    data["placement"] = {"gate": "gh200"}
    (tmp_path / "pools.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(PipelineConfigError, match="placement.gate: gate cannot be placed on pool 'gh200': it "
                                                  "promotes models in the coordinator's registry"):
        load_pools_config(tmp_path / "pools.yaml")
