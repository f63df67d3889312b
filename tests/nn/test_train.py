"""Training: samples from games, loss goes down, checkpoints in the background, registry entry."""
from __future__ import annotations

import time

import numpy as np
import pytest

from engine.nn.checkpoint import BackgroundCheckpointer
from engine.nn.model import NetConfig, build_model, load_model
from engine.nn.policy import index_of
from engine.nn.samples import game_positions, samples_from_games, write_game_shard
from engine.nn.symmetry import num_symmetries
from engine.nn.train import TrainConfig, train, train_on_samples
from engine.selfplay import play_games
from infra.data_config import DataConfig
from infra.registry import ModelRegistry
from infra.storage import ArtifactStore


@pytest.fixture(scope="module")
def games():
    return list(play_games("square8", 2, 4, seed=3))


def test_samples_hold_the_played_moves_and_mover_relative_outcomes(games):
    samples = samples_from_games(games[:2], augment="none")
    expected = []
    for record in games[:2]:
        positions, final = game_positions(record)
        for state, played, _ in positions:
            sign = 0.0 if not final.winner else (1.0 if state.current_player == final.winner else -1.0)
            expected.append((index_of(state, played), sign))
    assert len(samples) == len(expected) and samples.features.dtype == np.float16
    assert samples.policy.indices.tolist() == [i for i, _ in expected]
    assert np.allclose(samples.policy.probs, 1.0)
    assert samples.values[:, 0].tolist() == [v for _, v in expected]
    assert len(samples_from_games(games[:1], augment="all")) == num_symmetries("square8") * len(
        game_positions(games[0])[0])


def test_visit_distributions_become_the_targets(games):
    positions, _ = game_positions(games[0])
    from engine import legal_moves
    visits = [None] * len(games[0]["moves"])
    # Spread visits over two legal moves at the first decision (move 0 is a placement choice).
    first = legal_moves(positions[0][0])[:2]
    visits[0] = {first[0]: 30.0, first[1]: 10.0}
    samples = samples_from_games(games[:1], [visits], augment="none")
    a, b = samples.policy.offsets[:2]
    assert b - a == 2 and sorted(samples.policy.probs[a:b].tolist()) == [0.25, 0.75]


@pytest.mark.slow
def test_a_tiny_net_learns_a_fixed_small_dataset(games):
    samples = samples_from_games(games[:3], augment="none")
    model = build_model(NetConfig.preset("tiny", "square8", 2))
    result = train_on_samples(model, samples, TrainConfig(epochs=4, batch_size=64, lr=5e-3, val_fraction=0.1,
                                                          seed=1))
    first, last = result.epochs[0], result.epochs[-1]
    assert last.train_policy_loss < first.train_policy_loss - 0.3
    assert last.train_value_loss < first.train_value_loss
    assert last.val_policy_loss is not None and 0 <= last.val_policy_acc <= 1
    assert last.lr < first.lr  # cosine schedule


def test_step_schedule_decays_by_epochs(games):
    samples = samples_from_games(games[:1], augment="none")
    cfg = TrainConfig(epochs=3, batch_size=512, schedule="step", step_epochs=1, step_gamma=0.5, lr=1e-3,
                      val_fraction=0)
    result = train_on_samples(build_model(NetConfig.preset("tiny", "square8", 2)), samples, cfg)
    assert [round(e.lr, 6) for e in result.epochs] == [0.001, 0.0005, 0.00025]
    assert result.epochs[0].val_policy_loss is None


class SlowStore:
    """A store whose uploads take a while: a checkpoint must not wait for them."""

    def __init__(self):
        self.keys = []

    def save_and_upload(self, path, key):
        time.sleep(0.5)
        self.keys.append(key)

    def put_file(self, path, key):
        time.sleep(0.5)
        self.keys.append(key)

    def wait(self):
        return {"completed": len(self.keys)}


def test_checkpoints_hold_training_only_for_the_snapshot(tmp_path):
    model = build_model(NetConfig.preset("tiny", "square8", 2))
    ck = BackgroundCheckpointer(tmp_path, SlowStore(), "ck")
    blocked = [ck.save(model, f"e{i}.pt") for i in range(3)]
    assert max(blocked) < 0.25, blocked
    assert ck.save_sync(model, "sync.pt") >= 0.5
    assert ck.wait() == {"completed": 4}
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["e0.pt", "e1.pt", "e2.pt", "sync.pt"]
    load_model(tmp_path / "e2.pt")


@pytest.mark.slow
def test_train_from_shards_uploads_and_registers_the_candidate(games, tmp_path):
    cfg = DataConfig(data_dir=tmp_path / "data", source_host="test")
    store = ArtifactStore.from_config(cfg)
    write_game_shard(cfg.shards_dir, games[:2], seed=1)
    shard = write_game_shard(cfg.shards_dir, games[2:], seed=2, store=store)  # uploaded in the background
    registry = ModelRegistry(cfg.registry_path)
    parent = build_model(NetConfig.preset("tiny", "square8", 2))
    parent_id = registry.register("square8", 2, path="parent.pt", model_id="parent")
    result = train(cfg.shards_dir, "square8", 2, parent, TrainConfig(epochs=2, batch_size=128, window=200),
                   out_dir=tmp_path / "run", store=store, registry=registry, parent_id=parent_id, iteration=1)
    entry = registry.get(result.model_id)
    assert entry["parent_id"] == "parent" and entry["status"] == "candidate" and entry["iteration"] == 1
    assert entry["metrics"]["samples"] == 200 and "val_policy_loss" in entry["metrics"]
    # 2 checkpoints, the model, one shard and its manifest
    assert result.uploads == {"pending": 0, "completed": 5, "failed": 0}
    assert store.read_bytes(f"shards/square8_2p/{shard.path.name}") == shard.path.read_bytes()
    fetched = store.download(result.artifact_key, tmp_path / "fetched.pt")
    assert load_model(fetched).cfg == parent.cfg
    assert all(e.checkpoint_block_s < 1.0 for e in result.epochs)
    store.close()


def test_training_refuses_data_of_another_config(games, tmp_path):
    write_game_shard(tmp_path, games[:1])
    with pytest.raises(ValueError, match="square8 2p"):
        train(tmp_path, "square8", 2, NetConfig.preset("tiny", "hex8", 2), TrainConfig(epochs=1), out_dir=tmp_path)
